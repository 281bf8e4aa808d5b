// `npm run test:firefox`: the browser suite (test/browser, through vitest.firefox.config.ts), the
// Firefox-only tests (test/firefox, under a storage quota) and the demo
// page, in the stock Firefox ESR, headless, driven by puppeteer-core over WebDriver BiDi. Installs nothing:
// without Firefox it says how to get it and exits 1. Ends with one line `N passed, M failed, K skipped`
// and exits non-zero when anything failed (or nothing ran).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';
import { findFirefox } from './firefox-provider.mjs';
import { servePages } from './serve-pages.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const executablePath = findFirefox();
if (!executablePath) {
  console.error(
    'tasklane: Firefox not found: install it (Debian: sudo apt-get install -y firefox-esr) or set FIREFOX_PATH=/path/to/firefox',
  );
  process.exit(1);
}
const version = spawnSync(executablePath, ['--version'], { encoding: 'utf8' }).stdout.trim();
console.log(`::: ${version} (${executablePath}), headless`);

let passed = 0;
let failed = 0;
let skipped = 0;

// Runs vitest.firefox.config.ts once and adds its counts.
function runVitest(args, env = {}) {
  const scratch = mkdtempSync(join(tmpdir(), 'tasklane-firefox-'));
  const report = join(scratch, 'vitest.json');
  const vitest = spawnSync(
    process.execPath,
    [
      join(root, 'node_modules/vitest/vitest.mjs'),
      'run',
      '--config',
      'vitest.firefox.config.ts',
      '--reporter=default',
      '--reporter=json',
      `--outputFile.json=${report}`,
      ...args,
    ],
    { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } },
  );
  try {
    const json = JSON.parse(readFileSync(report, 'utf8'));
    passed += json.numPassedTests;
    // A file that failed outside its tests (an import error, a failing hook) counts as one failure.
    const brokenFiles = json.testResults.filter(
      (file) => file.status === 'failed' && !file.assertionResults.some((t) => t.status === 'failed'),
    );
    failed += json.numFailedTests + brokenFiles.length;
    skipped += json.numPendingTests + json.numTodoTests;
    if (vitest.status !== 0 && json.numFailedTests + brokenFiles.length === 0) failed += 1; // e.g. an error outside any test
  } catch (error) {
    console.error(`vitest wrote no report (exit ${vitest.status}): ${error.message}`);
    failed += 1;
  }
  rmSync(scratch, { recursive: true, force: true });
}

// 1. The browser suite (test/browser).
runVitest(process.argv.slice(2));

// 2. Firefox-only tests (test/firefox), in a browser whose temporary storage is limited to 4 MiB: the
// quota test that Chromium runs on a Storage Bucket.
if (process.argv.length <= 2) runVitest([], { FIREFOX_QUOTA_KB: '4096' });

// 3. The demo page: renders every tile with no page error, and a reload mid-run loses no finished tile.
if (process.argv.length <= 2) {
  const started = Date.now();
  try {
    await demoScenario();
    passed += 1;
    console.log(` ✓ demo page (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (error) {
    failed += 1;
    console.error(` × demo page: ${error.stack ?? error}`);
  }
}

async function demoScenario() {
  const server = await servePages(5196);
  const url = server.url;
  // The window's size, not setViewport: that sends emulation.setScreenOrientationOverride, which Firefox ESR 140 lacks.
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath,
    headless: true,
    defaultViewport: null,
    args: ['--width=1480', '--height=1000'],
  });
  const errors = [];
  try {
    if (!url) throw new Error('vite did not report a local URL');
    const page = await browser.newPage();
    page.on('pageerror', (error) => errors.push(`page error: ${error.message ?? error}`));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(`console error: ${message.text()}`);
    });
    const counts = () => page.evaluate(() => window.tasklaneDemo.fractal.counts);
    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    await page.waitForFunction(() => window.tasklaneDemo.fractal.counts.done >= window.tasklaneDemo.fractal.counts.total * 0.3, {
      timeout: 120_000,
      polling: 100,
    });
    const before = (await counts()).done;
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    const restored = (await counts()).done;
    if (restored < before) throw new Error(`reload lost finished tiles: ${before} done before, ${restored} repainted from the store`);
    await page.waitForFunction(() => window.tasklaneDemo.fractal.counts.done === window.tasklaneDemo.fractal.counts.total, {
      timeout: 180_000,
      polling: 200,
    });
    const end = await counts();
    const panelRows = await page.evaluate(() => document.querySelector('tasklane-panel')?.shadowRoot?.childElementCount ?? 0);
    if (panelRows === 0) throw new Error('the tasklane-panel element rendered nothing');
    if (errors.length) throw new Error(errors.join('\n'));
    console.log(
      `   demo: ${end.done}/${end.total} tiles (${end.failed} failed tiles), ${before} done before a reload, ${restored} repainted after it`,
    );
  } finally {
    await browser.close();
    await server.close();
  }
}

console.log(`${passed} passed, ${failed} failed, ${skipped} skipped (Chromium-only, see vitest.firefox.config.ts)`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
