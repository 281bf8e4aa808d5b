// npm run bench [-- --quick] [--json FILE] [--only 1,5] [--runs N] [--verbose] [--profile DIR] [--alloc DIR]
//   [--trace DIR]
// Environment, for investigations: BENCH_JS_FLAGS passes V8 flags to the browser (--js-flags; with
// DEBUG=pw:browser, V8's --trace-opt/--trace-deopt output is printed); BENCH_PROFILE_US sets
// --profile's sampling interval (default 200 µs); BENCH_KEEP_DIST keeps the built bench page (to map
// a profile's line numbers back to code).
//
// Builds bench/ with Vite, serves it cross-origin isolated (so performance.now() has 5 µs and not
// 100 µs resolution), opens it in headless Chromium (the one the browser tests use) and runs every
// case in that one page. Prints one table and writes the same rows as JSON.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { build, createLogger } from 'vite';
import { CHROMIUM_FLAGS, findChromium } from '../scripts/find-chromium.mjs';
import { SIZE_CASE, sizeRows } from './size.mjs';

const here = dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const args = {
    quick: false,
    json: join(here, 'results.json'),
    only: undefined,
    runs: 5,
    verbose: false,
    profile: undefined,
    alloc: undefined,
    trace: undefined,
  };
  const fail = (message) => {
    console.error(`tasklane bench: ${message}`);
    process.exit(2);
  };
  /** The value after a flag that takes one. */
  const value = (i, flag) => {
    const v = argv[i];
    if (v === undefined || v.startsWith('--')) fail(`expected a value after ${flag}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (a === '--verbose') args.verbose = true;
    else if (a === '--json') args.json = resolve(process.cwd(), value(++i, a));
    else if (a === '--only') args.only = value(++i, a).split(',').filter(Boolean);
    else if (a === '--runs') args.runs = Number(value(++i, a));
    else if (a === '--profile') args.profile = resolve(process.cwd(), value(++i, a));
    else if (a === '--alloc') args.alloc = resolve(process.cwd(), value(++i, a));
    else if (a === '--trace') args.trace = resolve(process.cwd(), value(++i, a));
    else if (a === '--help' || a === '-h') {
      console.log(
        'usage: npm run bench -- [--quick] [--json FILE] [--only 1,5] [--runs N] [--verbose] [--profile DIR] [--alloc DIR] [--trace DIR]',
      );
      process.exit(0);
    } else fail(`unknown argument ${a}`);
  }
  if (!Number.isInteger(args.runs) || args.runs < 1) fail(`expected --runs to be an integer >= 1, got ${args.runs}`);
  // Found out now, not when the results are written after minutes of running.
  if (!existsSync(dirname(args.json))) fail(`no directory for --json ${args.json}`);
  return args;
}

/** Vite's logger minus the notes about workerpool's Node-only imports, which the browser build never reaches. */
function quietLogger() {
  const logger = createLogger('warn');
  const warn = logger.warn;
  logger.warn = (msg, options) => {
    if (msg.includes('externalized for browser compatibility')) return;
    warn(msg, options);
  };
  return logger;
}

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
};

/** A static server for the built page, with the headers that make it cross-origin isolated. */
function serve(dir) {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let path = normalize(join(dir, decodeURIComponent(url.pathname)));
    if (relative(dir, path).startsWith('..')) {
      res.writeHead(403).end();
      return;
    }
    try {
      if (statSync(path).isDirectory()) path = join(path, 'index.html');
      const body = readFileSync(path);
      res.writeHead(200, {
        'Content-Type': MIME[extname(path)] ?? 'application/octet-stream',
        'Cross-Origin-Opener-Policy': 'same-origin',
        'Cross-Origin-Embedder-Policy': 'require-corp',
        'Cache-Control': 'no-cache',
      });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolveServer) => {
    server.listen(0, '127.0.0.1', () => resolveServer(server));
  });
}

function fmtNumber(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function fmtValue(v, unit, spreadValue) {
  if (v === null || v === undefined) return '-';
  const s = spreadValue === null || spreadValue === undefined ? '' : ` ±${(spreadValue * 100).toFixed(0)}%`;
  return `${fmtNumber(v)} ${unit}${s}`;
}

function printTable(rows) {
  const header = ['case', 'what', 'tasklane', 'floor / peer', 'ratio', 'target', 'result'];
  const lines = rows.map((r) => [
    r.id,
    r.title,
    r.ours === null
      ? r.note?.startsWith('n/a')
        ? 'n/a'
        : r.note?.startsWith('error')
          ? 'error'
          : '-'
      : fmtValue(r.ours, r.unit, r.runs.oursSpread),
    r.baseline === null ? r.baselineName : `${r.baselineName}: ${fmtValue(r.baseline, r.unit, r.runs.baselineSpread)}`,
    r.ratio === null ? '-' : `${r.ratio.toFixed(2)}x`,
    r.target,
    r.pass === null ? (r.ours === null ? 'n/a' : 'info') : r.pass ? 'pass' : 'MISS',
  ]);
  const all = [header, ...lines].map((cells) => cells.map((c) => String(c).replaceAll('|', '/')));
  const widths = header.map((_, i) => Math.max(...all.map((cells) => cells[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(line(all[0]));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const cells of all.slice(1)) console.log(line(cells));
  const notes = rows.filter((r) => r.note);
  if (notes.length) {
    console.log('');
    for (const r of notes) console.log(`${r.id}: ${r.note}`);
  }
}

/** A profile node's function, as `name file:line`. */
const frameName = (f) => `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}`;

/**
 * Writes `data` to DIR/case-ID.EXT and prints the 25 largest of `amounts` (name → number) under
 * `heading`, each as `format(amount, name)` then the name.
 */
function writeAndPrintTop(dir, id, ext, data, heading, amounts, format) {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `case-${id}.${ext}`);
  writeFileSync(file, JSON.stringify(data));
  const top = [...amounts].sort((a, b) => b[1] - a[1]).slice(0, 25);
  process.stderr.write(`  ${heading(relative(process.cwd(), file))}\n`);
  for (const [name, amount] of top) process.stderr.write(`    ${format(amount, name)}  ${name}\n`);
}

/**
 * `--profile DIR`: the main thread's CPU profile of a case (open the .cpuprofile in Chromium's
 * DevTools, Performance panel) and its top functions by self time, printed.
 */
async function writeProfile(cdp, dir, id) {
  const { profile } = await cdp.send('Profiler.stop');
  const self = new Map();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const dt = profile.timeDeltas;
  const total = (profile.endTime - profile.startTime) / 1000;
  profile.samples.forEach((nodeId, i) => {
    const name = frameName(byId.get(nodeId).callFrame);
    self.set(name, (self.get(name) ?? 0) + (dt[i] ?? 0) / 1000);
  });
  writeAndPrintTop(
    dir,
    id,
    'cpuprofile',
    profile,
    (file) => `profile of case ${id} (${total.toFixed(0)} ms) in ${file}; top self time:`,
    self,
    (ms) => `${ms.toFixed(0).padStart(7)} ms`,
  );
}

/**
 * `--alloc DIR`: the main thread's sampled allocations during a case, garbage included (open the
 * .heapprofile in DevTools, Memory panel), and the top functions by bytes allocated, printed.
 */
async function writeAllocations(cdp, dir, id) {
  const { profile } = await cdp.send('HeapProfiler.stopSampling');
  const self = new Map();
  let total = 0;
  const walk = (node) => {
    const name = frameName(node.callFrame);
    self.set(name, (self.get(name) ?? 0) + node.selfSize);
    total += node.selfSize;
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
  writeAndPrintTop(
    dir,
    id,
    'heapprofile',
    profile,
    (file) => `allocations of case ${id} (${(total / 1e6).toFixed(1)} MB sampled) in ${file}; top by bytes:`,
    self,
    (bytes) => `${(bytes / 1e6).toFixed(2).padStart(8)} MB`,
  );
}

/**
 * The trace categories of `--trace`: tasks (with their thread CPU time, `tdur`), GC, JIT and the
 * page's performance.measure() spans, on every thread. Light on purpose: the `v8` and
 * `devtools.timeline` categories trace every function call and add tens of µs to a round trip.
 */
const TRACE_CATEGORIES = ['toplevel', 'blink.user_timing', 'disabled-by-default-v8.gc', 'disabled-by-default-v8.compile'];

/**
 * `--trace DIR`: a Chromium trace of a case (open it in Perfetto or DevTools), and its longest
 * slices over 0.5 ms by thread and name, printed: what stalls a thread, GC included.
 */
async function writeTrace(cdp, events, dir, id) {
  const done = new Promise((resolveDone) => cdp.once('Tracing.tracingComplete', resolveDone));
  await cdp.send('Tracing.end');
  await done;
  const threads = new Map();
  for (const e of events) if (e.ph === 'M' && e.name === 'thread_name') threads.set(`${e.pid}:${e.tid}`, e.args.name);
  const count = new Map();
  const longest = new Map();
  for (const e of events) {
    if (e.ph !== 'X' || !(e.dur > 500)) continue;
    const key = `${threads.get(`${e.pid}:${e.tid}`) ?? e.tid} ${e.name}`;
    count.set(key, (count.get(key) ?? 0) + 1);
    longest.set(key, Math.max(longest.get(key) ?? 0, e.dur / 1000));
  }
  writeAndPrintTop(
    dir,
    id,
    'trace.json',
    { traceEvents: events },
    (file) => `trace of case ${id} in ${file}; slices over 0.5 ms:`,
    count,
    (n, key) => `${String(n).padStart(6)} x  max ${(longest.get(key) ?? 0).toFixed(1).padStart(6)} ms`,
  );
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const executablePath = findChromium();
  if (!executablePath) {
    console.error(
      'tasklane bench: Chromium not found: install it (Debian: sudo apt-get install -y chromium) or set CHROMIUM_PATH=/path/to/chromium',
    );
    process.exit(1);
  }
  const outDir = mkdtempSync(join(tmpdir(), 'tasklane-bench-dist-'));
  const profile = mkdtempSync(join(tmpdir(), 'tasklane-bench-profile-'));
  let context;
  let server;
  try {
    process.stderr.write('bench: building the bench page… ');
    await build({
      root: here,
      configFile: false,
      logLevel: 'warn',
      customLogger: quietLogger(),
      worker: { format: 'es' },
      build: { outDir, emptyOutDir: true, target: 'es2022', reportCompressedSize: false, minify: !args.profile && !args.alloc },
    });
    process.stderr.write('done\n');
    server = await serve(outDir);
    const { port } = server.address();

    // A persistent profile: IndexedDB on disk, as in a real tab (an incognito context keeps it in memory).
    const jsFlags = process.env.BENCH_JS_FLAGS ? [`--js-flags=${process.env.BENCH_JS_FLAGS}`] : [];
    context = await chromium.launchPersistentContext(profile, { executablePath, args: [...CHROMIUM_FLAGS, ...jsFlags], headless: true });
    const page = context.pages()[0] ?? (await context.newPage());
    const cdp = await context.newCDPSession(page);
    await page.exposeFunction('tasklaneBenchGc', async () => {
      await cdp.send('HeapProfiler.collectGarbage');
    });
    page.on('console', (msg) => {
      const text = msg.text();
      if (text.startsWith('[bench] ')) {
        if (args.verbose) process.stderr.write(`  ${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s  ${text.slice(8)}\n`);
      } else if (msg.type() === 'error' || msg.type() === 'warning' || args.verbose)
        process.stderr.write(`  page ${msg.type()}: ${text}\n`);
    });
    page.on('pageerror', (error) => process.stderr.write(`  page error: ${error.message}\n`));
    const load = async () => {
      await page.goto(`http://127.0.0.1:${port}/index.html`);
      await page.waitForFunction(() => globalThis.tasklaneBench !== undefined, undefined, { timeout: 30_000 });
    };
    await load();
    const info = await page.evaluate(() => globalThis.tasklaneBench.info());
    const list = [...(await page.evaluate(() => globalThis.tasklaneBench.cases)), SIZE_CASE];
    const product = await cdp.send('Browser.getVersion').then(
      (v) => v.product,
      () => info.userAgent,
    );
    const chromiumVersion = product.match(/Chrome\/([\d.]+)/)?.[1] ?? 'unknown';
    if (!info.crossOriginIsolated) process.stderr.write('bench: warning: page is not cross-origin isolated, timers are coarse\n');
    if (!info.preciseMemory) process.stderr.write('bench: warning: performance.memory unavailable, memory rows will be empty\n');
    const unknown = (args.only ?? []).filter((id) => !list.some((c) => c.id === id));
    if (unknown.length > 0) {
      console.error(`tasklane bench: no case ${unknown.join(', ')} (cases: ${list.map((c) => c.id).join(', ')})`);
      process.exitCode = 2;
      return;
    }
    const selected = args.only ? list.filter((c) => args.only.includes(c.id)) : list;
    process.stderr.write(
      `bench: Chromium ${chromiumVersion}, ${info.cores} cores, ${args.quick ? 'quick' : 'full'} run, ${args.runs} runs per case (+1 warm-up), cases ${selected.map((c) => c.id).join(' ')}\n`,
    );
    const rows = [];
    let harnessErrors = 0;
    const caseTimeoutMs = args.quick ? 120_000 : 600_000;
    for (const c of selected) {
      const t0 = Date.now();
      process.stderr.write(`bench: case ${c.id} ${c.title}… `);
      let timer;
      if (args.profile) {
        await cdp.send('Profiler.enable');
        await cdp.send('Profiler.setSamplingInterval', { interval: Number(process.env.BENCH_PROFILE_US ?? 200) });
        await cdp.send('Profiler.start');
      }
      let traceEvents;
      if (args.trace) {
        traceEvents = [];
        cdp.on('Tracing.dataCollected', ({ value }) => traceEvents.push(...value));
        await cdp.send('Tracing.start', { traceConfig: { includedCategories: TRACE_CATEGORIES }, transferMode: 'ReportEvents' });
      }
      if (args.alloc)
        await cdp.send('HeapProfiler.startSampling', {
          samplingInterval: 256,
          includeObjectsCollectedByMajorGC: true,
          includeObjectsCollectedByMinorGC: true,
        });
      try {
        const result = await Promise.race([
          c.id === SIZE_CASE.id
            ? sizeRows(resolve(here, '..'))
            : page.evaluate(([id, options]) => globalThis.tasklaneBench.run(id, options), [c.id, { quick: args.quick, runs: args.runs }]),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`timed out after ${caseTimeoutMs / 1000} s`)), caseTimeoutMs);
          }),
        ]);
        rows.push(...result);
        process.stderr.write(`${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
      } catch (error) {
        harnessErrors++;
        const message = String(error?.message ?? error).split('\n')[0];
        process.stderr.write(`failed: ${message}\n`);
        rows.push({
          id: c.id,
          title: c.title,
          ours: null,
          baseline: null,
          baselineName: '-',
          unit: '-',
          ratio: null,
          target: '-',
          pass: false,
          runs: { n: 0, ours: [], baseline: [], oursSpread: null, baselineSpread: null },
          note: `error: ${message}`,
        });
        // Start the next case from a clean page (same browser session).
        await load().catch(() => {});
      } finally {
        clearTimeout(timer);
        if (args.profile) await writeProfile(cdp, args.profile, c.id);
        if (args.alloc) await writeAllocations(cdp, args.alloc, c.id);
        if (args.trace) await writeTrace(cdp, traceEvents, args.trace, c.id);
      }
    }
    const elapsed = (Date.now() - started) / 1000;
    console.log('');
    console.log(
      `tasklane bench, ${new Date().toISOString()}, ${info.cores} cores, Chromium ${chromiumVersion}, ${args.quick ? 'npm run bench -- --quick' : 'npm run bench'}, ${args.runs} runs per case, median ±half-range`,
    );
    console.log('');
    printTable(rows);
    const result = {
      date: new Date().toISOString(),
      cores: info.cores,
      chromium: chromiumVersion,
      command: `npm run bench${args.quick ? ' -- --quick' : ''}`,
      quick: args.quick,
      crossOriginIsolated: info.crossOriginIsolated,
      elapsedSeconds: Math.round(elapsed),
      cases: rows,
    };
    writeFileSync(args.json, `${JSON.stringify(result, null, 2)}\n`);
    console.log('');
    console.log(
      `bench: ${rows.filter((r) => r.pass === true).length} pass, ${rows.filter((r) => r.pass === false).length} miss/error, ${rows.filter((r) => r.pass === null).length} info or n/a; ${elapsed.toFixed(0)} s; JSON in ${relative(process.cwd(), args.json) || args.json}`,
    );
    process.exitCode = harnessErrors > 0 ? 1 : 0;
  } finally {
    await context?.close().catch(() => {});
    server?.close();
    if (!process.env.BENCH_KEEP_DIST) rmSync(outDir, { recursive: true, force: true });
    else process.stderr.write(`bench: page kept in ${outDir}\n`);
    rmSync(profile, { recursive: true, force: true });
  }
}

await main();
