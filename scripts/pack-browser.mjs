// Step 3 of `npm run check:pack`: the unpacked tarball in a real browser. Two pages of a scratch app,
// built with Vite as an app would be (the package's chunks bundled, code-split), run in headless
// Chromium: each creates a scheduler from `tasklane` with a worker module on `tasklane/worker` and
// runs a task, one on the memory store, one on IndexedDB. The IndexedDB page must load the store's
// lazy chunk (and get a scheduler that reports storage); the memory page must not load it. Neither
// loads the repeat-schedule chunk (croner) until the memory page calls `schedule`, which loads it,
// nor the multi-tab chunk (both run with shared: false).
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, relative } from 'node:path';
import { chromium } from 'playwright-core';
import { build } from 'vite';
import { CHROMIUM_FLAGS, findChromium } from './find-chromium.mjs';

const FILES = {
  'worker.js': `import { defineTasks } from 'tasklane/worker';
export const tasks = defineTasks({ add: (input) => input.a + input.b });
`,
  'app.js': `import { createScheduler } from 'tasklane';
export async function run(store) {
  const s = await createScheduler({
    name: 'pack-check',
    store,
    shared: false,
    worker: () => new Worker(new URL('./worker.js', import.meta.url), { type: 'module' }),
  });
  const handle = await s.enqueue('add', { a: 1, b: 2 });
  const result = await handle.result;
  const storage = s.metrics().storage !== undefined;
  const scripts = () => performance.getEntriesByType('resource').map((e) => e.name.split('/').pop());
  const beforeSchedule = scripts();
  const scheduled = store === 'memory' ? (await s.schedule('beat', 'add', { a: 1, b: 1 }, { every: 60_000 })).id : undefined;
  await s.close();
  return { result, storage, scripts: scripts(), beforeSchedule, scheduled };
}
`,
  'memory.js': `import { run } from './app.js';\nglobalThis.packCheck = run('memory');\n`,
  'idb.js': `import { run } from './app.js';\nglobalThis.packCheck = run('indexeddb');\n`,
  'memory.html': '<!doctype html><script type="module" src="./memory.js"></script>\n',
  'idb.html': '<!doctype html><script type="module" src="./idb.js"></script>\n',
};

const MIME = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };

function serve(dir) {
  const server = createServer((req, res) => {
    const path = normalize(join(dir, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    try {
      if (relative(dir, path).startsWith('..') || !statSync(path).isFile()) throw new Error('not a file');
      res.writeHead(200, { 'Content-Type': MIME[extname(path)] ?? 'application/octet-stream' }).end(readFileSync(path));
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Runs the two pages against the package installed in `scratch/node_modules/tasklane`; returns what is wrong. */
export async function checkInBrowser(scratch) {
  const executablePath = findChromium();
  if (!executablePath) return ['Chromium not found (set CHROMIUM_PATH): the built package was not run in a browser'];
  const app = join(scratch, 'app');
  mkdirSync(app, { recursive: true });
  for (const [name, text] of Object.entries(FILES)) writeFileSync(join(app, name), text);
  const outDir = join(app, 'dist');
  await build({
    root: app,
    configFile: false,
    logLevel: 'warn',
    worker: { format: 'es' },
    build: {
      outDir,
      emptyOutDir: true,
      target: 'es2022',
      reportCompressedSize: false,
      rollupOptions: { input: { memory: join(app, 'memory.html'), idb: join(app, 'idb.html') } },
    },
  });
  const problems = [];
  const server = await serve(outDir);
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_FLAGS, headless: true });
  try {
    for (const [page, store] of [
      ['idb.html', 'indexeddb'],
      ['memory.html', 'memory'],
    ]) {
      const tab = await browser.newPage();
      const errors = [];
      tab.on('pageerror', (error) => errors.push(error.message));
      await tab.goto(`http://127.0.0.1:${server.address().port}/${page}`);
      const got = await tab
        .waitForFunction(() => globalThis.packCheck, undefined, { timeout: 30_000 })
        .then(() => tab.evaluate(() => globalThis.packCheck))
        .catch((error) => ({ error: String(error?.message ?? error).split('\n')[0] }));
      await tab.close();
      const idbChunk = (got.scripts ?? []).filter((name) => name.startsWith('idb-store'));
      const tabsChunk = (got.scripts ?? []).filter((name) => name.startsWith('tabs'));
      const repeatChunk = (names) => (names ?? []).filter((name) => name.startsWith('repeat'));
      if (got.error || got.result !== 3) problems.push(`browser, ${store} store: expected the task's result 3, got ${JSON.stringify(got)}`);
      else if (store === 'indexeddb' && (idbChunk.length === 0 || !got.storage))
        problems.push(`browser, IndexedDB store: its chunk was not loaded or the scheduler reports no storage (${JSON.stringify(got)})`);
      else if (store === 'memory' && idbChunk.length > 0)
        problems.push(`browser, memory store: the IndexedDB chunk was loaded (${idbChunk})`);
      else if (tabsChunk.length > 0)
        problems.push(`browser, ${store} store: the multi-tab chunk was loaded for shared: false (${tabsChunk})`);
      else if (repeatChunk(got.beforeSchedule).length > 0)
        problems.push(
          `browser, ${store} store: the repeat-schedule chunk was loaded with no schedule (${repeatChunk(got.beforeSchedule)})`,
        );
      else if (store === 'memory' && (got.scheduled !== 'beat' || repeatChunk(got.scripts).length === 0))
        problems.push(`browser, memory store: schedule() did not load the repeat-schedule chunk or failed (${JSON.stringify(got)})`);
      else
        console.log(
          `browser: ${store} store runs a task from the built package${store === 'memory' ? `, the IndexedDB chunk not loaded; schedule() loads ${repeatChunk(got.scripts)[0]}` : `, ${idbChunk[0]} loaded, no repeat-schedule chunk`}`,
        );
      for (const message of errors) problems.push(`browser, ${store} store: page error: ${message}`);
    }
  } finally {
    await browser.close();
    server.close();
  }
  return problems;
}
