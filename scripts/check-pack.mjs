// `npm run check:pack`: what `npm pack` would publish, checked. Exits 1 with what is wrong.
// 1. `npm pack --dry-run` (its prepack builds dist/) lists only dist/**, README.md, LICENSE, package.json,
//    and every file the exports map names.
// 2. The real tarball, unpacked as node_modules/tasklane of a scratch consumer (.pack-check/, which
//    resolves lit, comlink and idb from this repo's node_modules): tsc resolves the types of `tasklane`,
//    `tasklane/worker` and `tasklane/panel` under moduleResolution bundler and node16, and plain Node
//    imports the three built entries, where createScheduler rejects with UnsupportedEnvironmentError
//    without calling the worker factory.
// 3. The same package bundled into an app and run in headless Chromium (scripts/pack-browser.mjs).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkInBrowser } from './pack-browser.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const problems = [];
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

// --- 1. the file list --------------------------------------------------------------------------
const out = execFileSync(npm, ['pack', '--dry-run', '--json'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
// The prepack build prints to stdout too; npm's JSON is the array that starts a line.
const start = out.search(/^\[/m);
const [packed] = JSON.parse(out.slice(start));
const files = packed.files.map((f) => f.path).sort();
const allowed = (p) => p.startsWith('dist/') || ['README.md', 'LICENSE', 'package.json'].includes(p);
for (const p of files) if (!allowed(p)) problems.push(`packed but not allowed: ${p}`);
for (const p of ['README.md', 'LICENSE', 'package.json']) if (!files.includes(p)) problems.push(`missing from the package: ${p}`);
const pkg = JSON.parse(
  execFileSync(process.execPath, ['-e', 'process.stdout.write(JSON.stringify(require("./package.json")))'], {
    cwd: root,
    encoding: 'utf8',
  }),
);
for (const [entry, targets] of Object.entries(pkg.exports)) {
  for (const target of Object.values(targets)) {
    if (!files.includes(target.replace(/^\.\//, ''))) problems.push(`exports["${entry}"] names ${target}, which is not packed`);
  }
}
console.log(
  `npm pack --dry-run: ${files.length} files, ${(packed.size / 1024).toFixed(0)} kB packed, ${(packed.unpackedSize / 1024).toFixed(0)} kB unpacked`,
);

// --- 2. a consumer of the tarball ----------------------------------------------------------------
const scratch = join(root, '.pack-check');
rmSync(scratch, { recursive: true, force: true });
const installed = join(scratch, 'node_modules', 'tasklane');
mkdirSync(installed, { recursive: true });
// dist/ was just built by the dry run's prepack: pack it as is.
const tgz = execFileSync(npm, ['pack', '--ignore-scripts', '--pack-destination', scratch, '--silent'], { cwd: root, encoding: 'utf8' })
  .trim()
  .split('\n')
  .pop();
execFileSync('tar', ['-xzf', join(scratch, tgz), '-C', installed, '--strip-components=1']);

const consumer = `import { createScheduler, UnsupportedEnvironmentError, type Scheduler, type TaskHandle } from 'tasklane';
import { defineTasks, type TaskContext } from 'tasklane/worker';
import { TasklanePanel } from 'tasklane/panel';

const tasks = defineTasks({ add: (input: { a: number; b: number }, _ctx: TaskContext) => input.a + input.b });
type Tasks = typeof tasks;
export async function run(): Promise<number> {
  const s: Scheduler<Tasks> = await createScheduler<Tasks>({ worker: () => new Worker('w.js', { type: 'module' }) });
  const handle: TaskHandle<number> = await s.enqueue('add', { a: 1, b: 2 });
  // @ts-expect-error the input's type is checked through the package's types
  await s.enqueue('add', { a: 'x' });
  return handle.result;
}
export const panel: HTMLElementTagNameMap['tasklane-panel'] = new TasklanePanel();
export const code: string = new UnsupportedEnvironmentError('x').code;
`;
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
for (const [dir, moduleResolution, module] of [
  ['bundler', 'bundler', 'esnext'],
  ['node16', 'node16', 'node16'],
]) {
  const at = join(scratch, dir);
  mkdirSync(at, { recursive: true });
  writeFileSync(join(at, 'package.json'), JSON.stringify({ name: `consumer-${dir}`, private: true, type: 'module' }));
  writeFileSync(join(at, 'main.ts'), consumer);
  writeFileSync(
    join(at, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'es2022',
        module,
        moduleResolution,
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        lib: ['es2023', 'dom'],
        types: [],
      },
      files: ['main.ts'],
    }),
  );
  const r = spawnSync(process.execPath, [tsc, '-p', at, '--traceResolution'], { encoding: 'utf8' });
  const errors = r.stdout.split('\n').filter((l) => /error TS/.test(l));
  if (r.status !== 0) problems.push(`tsc (moduleResolution ${moduleResolution}) failed:\n${errors.join('\n') || r.stdout + r.stderr}`);
  for (const spec of ['tasklane', 'tasklane/worker', 'tasklane/panel']) {
    const m = r.stdout.match(new RegExp(`Module name '${spec.replace('/', '\\/')}' was successfully resolved to '([^']+)'`));
    if (!m) problems.push(`tsc (moduleResolution ${moduleResolution}) did not resolve ${spec}`);
    else if (!m[1].startsWith(installed))
      problems.push(`tsc (moduleResolution ${moduleResolution}) resolved ${spec} outside the tarball: ${m[1]}`);
    else console.log(`types (${moduleResolution}): ${spec} -> ${m[1].slice(scratch.length + 1)}`);
  }
}

// Plain Node imports the built entries (server-side rendering).
const ssr = `
import * as main from 'tasklane';
import * as worker from 'tasklane/worker';
import * as panel from 'tasklane/panel';
let called = false;
const error = await main.createScheduler({ worker: () => { called = true; } }).then(() => null, (e) => e);
if (typeof worker.defineTasks !== 'function' || typeof panel.TasklanePanel !== 'function') throw new Error('an entry lacks its exports');
if (!(error instanceof main.UnsupportedEnvironmentError) || error.code !== 'E_UNSUPPORTED_ENVIRONMENT') throw new Error('expected UnsupportedEnvironmentError, got ' + error);
if (called) throw new Error('the worker factory was called');
console.log('node: the three entries import; createScheduler rejects with ' + error.name + ' (' + error.code + ')');
`;
writeFileSync(join(scratch, 'bundler', 'ssr.mjs'), ssr);
const node = spawnSync(process.execPath, [join(scratch, 'bundler', 'ssr.mjs')], { encoding: 'utf8' });
process.stdout.write(node.stdout);
if (node.status !== 0) problems.push(`node import of the built entries failed:\n${node.stderr}`);

// --- 3. in a browser ------------------------------------------------------------------------------
problems.push(...(await checkInBrowser(scratch)));

rmSync(scratch, { recursive: true, force: true });
if (problems.length) {
  console.error(`check-pack: ${problems.length} problem(s):\n- ${problems.join('\n- ')}`);
  process.exit(1);
}
console.log('check-pack: ok');
