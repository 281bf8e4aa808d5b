// Opens the demo in Chromium, makes some trouble, and saves docs/screenshot.png for the README.
// Then reloads the page mid-run and saves docs/screenshot-reload.png: the work picks up where it was.
// Usage: npm run screenshot   (env SCREENSHOT_OUT=path to write elsewhere)
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_FLAGS } from './find-chromium.mjs';
import { requireChromium, root, servePages } from './serve-pages.mjs';

const out = resolve(root, process.env.SCREENSHOT_OUT ?? 'docs/screenshot.png');
const reloadOut = out.replace(/\.png$/, '-reload.png');
const executablePath = requireChromium();
const server = await servePages(5199);
const url = server.url;

const browser = await chromium.launch({ executablePath, args: CHROMIUM_FLAGS, headless: true });
try {
  const page = await browser.newPage({ viewport: { width: 1480, height: 1000 }, deviceScaleFactor: 1 });
  page.on('pageerror', (error) => console.error('page error:', error.stack ?? error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') console.error('page console:', message.text());
  });
  // A fresh browser profile: empty IndexedDB and localStorage, so the picture starts from scratch.
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });

  // Look at the lower right: its tiles jump the queue.
  const canvas = await page.locator('#overlay').boundingBox();
  if (canvas) await page.mouse.move(canvas.x + canvas.width * 0.8, canvas.y + canvas.height * 0.75);

  await page.click('#crash');
  await page.click('#hang');
  await page.fill('#flaky-p', '0.6');
  await page.click('#flaky');
  await page.click('#delayed');
  // The workflows: paced uploads, and an online-only task held back while the page is (simulated) offline.
  await page.click('#uploads');
  await page.check('#offline');
  await page.click('#sync');
  await page.selectOption('#burst-size', '1000');
  await page.click('button[data-burst="background"]');
  await page.selectOption('#burst-size', '100');
  await page.click('button[data-burst="low"]');
  await page.selectOption('#burst-size', '20');
  await page.click('button[data-burst="normal"]');

  // Wait until the hung task has timed out, something failed for good and part of the picture is in.
  await page.waitForFunction(
    () => {
      const demo = /** @type {any} */ (window).tasklaneDemo;
      if (!demo) return false;
      const m = demo.scheduler.metrics();
      const { done, total } = demo.fractal.counts;
      const uploaded = demo.workflows.uploads.every((/** @type {any} */ u) => u.status === 'completed');
      return m.failed >= 2 && m.retried >= 1 && done >= total * 0.45 && uploaded;
    },
    null,
    { timeout: 120_000, polling: 200 },
  );
  await page.click('button[data-burst="critical"]');
  await page.evaluate(() => /** @type {HTMLElement | null} */ (document.activeElement)?.blur());
  // Point at the unfinished upper left: those tiles turn critical and start next (from the top of
  // the page: ticking the offline box scrolled it, and the canvas box is in page coordinates of the top).
  await page.evaluate(() => window.scrollTo(0, 0));
  if (canvas) await page.mouse.move(canvas.x + canvas.width * 0.12, canvas.y + canvas.height * 0.2);
  // Let the panel take the burst in (it renders on the next animation frame).
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

  await mkdir(dirname(out), { recursive: true });
  await page.screenshot({ path: out, fullPage: true });
  const counts = await page.evaluate(() => {
    const demo = /** @type {any} */ (window).tasklaneDemo;
    return { ...demo.fractal.counts, metrics: demo.scheduler.metrics() };
  });
  console.log(`saved ${out} (${counts.done}/${counts.total} tiles, ${counts.metrics.queued} queued, ${counts.metrics.failed} failed)`);

  // Reload mid-run: finished tiles are repainted from the store, the queue picks up where it was.
  await page.mouse.move(0, 0);
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
  const restored = await page.evaluate(() => /** @type {any} */ (window).tasklaneDemo.fractal.counts.done);
  await page.waitForFunction(
    (before) => {
      const demo = /** @type {any} */ (window).tasklaneDemo;
      return !!demo && demo.fractal.counts.done >= Math.min(demo.fractal.counts.total, before + 30) && demo.scheduler.metrics().running > 0;
    },
    restored,
    { timeout: 120_000, polling: 200 },
  );
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await page.screenshot({ path: reloadOut, fullPage: true });
  const after = await page.evaluate(() => {
    const demo = /** @type {any} */ (window).tasklaneDemo;
    return { ...demo.fractal.counts, metrics: demo.scheduler.metrics() };
  });
  console.log(
    `saved ${reloadOut} after a reload (${restored} tiles repainted from the store, ${after.done} now, ${after.metrics.queued} still queued)`,
  );
} finally {
  await browser.close();
  await server.close();
}
