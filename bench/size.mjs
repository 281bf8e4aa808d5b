// Case 10: what an app's bundle pays for tasklane, measured on the built package (vite.lib.config.ts,
// what npm ships) bundled as an app built with Vite would be: Rollup, minified, code-split,
// dependencies included; sizes gzipped (level 9). Node-side: no page.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build as viteBuild } from 'vite';

/**
 * Bundles `source` (an app entry) as an app built with Vite would be (Rollup, minified, code-split);
 * returns the gzipped kB its entry loads at once (the entry and its static imports), and lazily: the
 * repeat-schedule chunk (the package's `repeat-*.js`, croner in it: loaded once there is a schedule) apart from the rest.
 */
async function bundle(root, dir, name, source, external = []) {
  const entry = join(dir, `${name}.mjs`);
  writeFileSync(entry, source);
  const outDir = join(dir, `out-${name}`);
  const output = await viteBuild({
    root: dir,
    configFile: false,
    logLevel: 'silent',
    resolve: {
      alias: { comlink: join(root, 'node_modules/comlink/dist/esm/comlink.mjs'), idb: join(root, 'node_modules/idb/build/index.js') },
    },
    build: {
      outDir,
      emptyOutDir: true,
      target: 'es2022',
      minify: 'esbuild',
      modulePreload: false,
      reportCompressedSize: false,
      rollupOptions: { input: entry, external, preserveEntrySignatures: 'exports-only' },
    },
  });
  const chunks = new Map();
  for (const item of (Array.isArray(output) ? output[0] : output).output) if (item.type === 'chunk') chunks.set(item.fileName, item);
  const eager = new Set();
  const visit = (file) => {
    if (eager.has(file) || !chunks.has(file)) return;
    eager.add(file);
    for (const imp of chunks.get(file).imports) visit(imp);
  };
  for (const [file, chunk] of chunks) if (chunk.isEntry) visit(file);
  let eagerBytes = 0;
  let lazyBytes = 0;
  let scheduleBytes = 0;
  for (const [file, chunk] of chunks) {
    const gz = gzipSync(chunk.code, { level: 9 }).length;
    if (eager.has(file)) eagerBytes += gz;
    else if (chunk.moduleIds.some((id) => /\/dist\/repeat-[^/]*\.js$/.test(id))) scheduleBytes += gz;
    else lazyBytes += gz;
  }
  return { eager: eagerBytes / 1024, lazy: lazyBytes / 1024, schedules: scheduleBytes / 1024 };
}

/** A row of the bench's table (bench/stats.ts `Row`) for an info target measured once. */
function infoRow({ id, title, ours, baseline, baselineName, note }) {
  const row = {
    id,
    title,
    ours,
    baseline,
    baselineName,
    unit: 'kB',
    ratio: ours / baseline,
    target: 'info',
    pass: null,
    runs: { n: 1, ours: [ours], baseline: [baseline], oursSpread: null, baselineSpread: null },
  };
  if (note) row.note = note;
  return row;
}

/** The case's title, for `--only` and the progress line. */
export const SIZE_CASE = { id: '10', title: 'Bundle size' };

/** Rows of case 10. */
export async function sizeRows(root) {
  const dir = mkdtempSync(join(tmpdir(), 'tasklane-size-'));
  try {
    const dist = join(dir, 'dist');
    // The package's own package.json beside its dist, as in an app's node_modules: its `sideEffects` lets the bundler drop unused modules.
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: pkg.name, type: pkg.type, sideEffects: pkg.sideEffects }));
    await viteBuild({ root, configFile: join(root, 'vite.lib.config.ts'), logLevel: 'silent', build: { outDir: dist, emptyOutDir: true } });
    const lib = JSON.stringify(join(dist, 'index.js'));
    // A worker URL the app's bundler leaves alone: the worker module is a bundle of its own, not counted here.
    const worker = "() => new Worker('/w.js', { type: 'module' })";
    const memory = await bundle(
      root,
      dir,
      'memory',
      `import { createScheduler } from ${lib};\nexport const s = createScheduler({ store: 'memory', worker: ${worker} });\n`,
    );
    const idb = await bundle(
      root,
      dir,
      'idb',
      `import { createScheduler } from ${lib};\nexport const s = createScheduler({ worker: ${worker} });\n`,
    );
    const wp = await bundle(
      root,
      dir,
      'workerpool',
      `import workerpool from ${JSON.stringify(join(root, 'node_modules/workerpool/dist/workerpool.js'))};\nexport const p = workerpool.pool('./w.js');\n`,
      // Node-only requires behind a runtime check, which a browser bundler stubs out.
      ['worker_threads', 'os', 'child_process'],
    );
    const note = `Vite (Rollup) app build of the built package (minified, code-split, dependencies included), gzip -9; memory store: ${memory.eager.toFixed(1)} kB at once + ${memory.lazy.toFixed(1)} kB loaded only with IndexedDB (the store; the multi-tab code for a shared queue) + ${memory.schedules.toFixed(1)} kB (repeat schedules, croner) only once there is a schedule`;
    const baselineName = 'workerpool, pool() (its browser build)';
    return [
      infoRow({
        id: '10a',
        title: 'bundle: createScheduler on the memory store, loaded at once (gzipped)',
        ours: memory.eager,
        baseline: wp.eager,
        baselineName,
        note,
      }),
      infoRow({
        id: '10b',
        title: 'bundle: createScheduler on IndexedDB, loaded by createScheduler (gzipped)',
        ours: idb.eager + idb.lazy,
        baseline: wp.eager,
        baselineName,
      }),
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// `node bench/size.mjs`: the rows alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await sizeRows(resolve(new URL('..', import.meta.url).pathname));
  for (const r of rows)
    console.log(`${r.id} ${r.title}: ${r.ours.toFixed(1)} kB (workerpool ${r.baseline.toFixed(1)} kB)${r.note ? `\n  ${r.note}` : ''}`);
}
