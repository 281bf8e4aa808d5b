// The demo in two tabs of one browser: the second follows the queue the first leads, paints the
// same tiles as they finish and enqueues into the shared queue; then the leading tab is closed
// mid-render and the second finishes the picture. Then the workflow features, in the second tab:
// the picture's assemble task ran after every tile, the repeat schedule ran, six uploads kept to
// their group's rate limit, and an online-only task waited through an offline period.
// Saves docs/screenshot-tabs.png (the second tab).
// Usage: npm run demo:tabs   (exit code 1 if any step fails)
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_FLAGS } from './find-chromium.mjs';
import { requireChromium, root, servePages } from './serve-pages.mjs';

const out = resolve(root, process.env.SCREENSHOT_OUT ?? 'docs/screenshot-tabs.png');
const executablePath = requireChromium();
const server = await servePages(5198);
const url = server.url;

const browser = await chromium.launch({ executablePath, args: CHROMIUM_FLAGS, headless: true });
const errors = [];
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) errors.push(what);
};
/** @param {import('playwright-core').Page} page */
const state = (page) =>
  page.evaluate(() => {
    const demo = /** @type {any} */ (window).tasklaneDemo;
    return { leader: demo.scheduler.leader, counts: demo.fractal.counts, submitted: demo.scheduler.metrics().submitted };
  });
/**
 * The workflow features, checked from the store's records rather than the page's own display.
 * @param {import('playwright-core').BrowserContext} context
 * @param {import('playwright-core').Page} page
 */
async function checkWorkflows(context, page) {
  await page.waitForFunction(() => /** @type {any} */ (window).tasklaneDemo.workflows.assembled, null, { timeout: 30_000 });
  const picture = await page.evaluate(async () => {
    const { scheduler, fractal, workflows } = /** @type {any} */ (window).tasklaneDemo;
    const tiles = (await scheduler.list({ status: 'completed', name: 'tile', limit: 100_000 })).filter(
      (t) => t.result.gen === fractal.counts.gen,
    );
    const assemble = await scheduler.inspect(workflows.assembled.id);
    return {
      tiles: tiles.length,
      lastTileAt: Math.max(...tiles.map((t) => t.finishedAt)),
      startedAt: assemble.startedAt,
      deps: assemble.dependsOn.length,
      result: { tiles: assemble.result.tiles, failed: assemble.result.failed },
    };
  });
  check(
    picture.startedAt >= picture.lastTileAt && picture.result.tiles === picture.tiles && picture.deps >= picture.tiles,
    `the assemble task started ${Math.round(picture.startedAt - picture.lastTileAt)} ms after the last of ${picture.tiles} tiles and got ${picture.result.tiles} tile results (${picture.deps} dependencies)`,
  );

  await page.waitForFunction(() => /** @type {any} */ (window).tasklaneDemo.workflows.statsRuns >= 1, null, { timeout: 30_000 });
  const stats = await page.evaluate(async () => {
    const { scheduler } = /** @type {any} */ (window).tasklaneDemo;
    const info = (await scheduler.schedules()).find((s) => s.id === 'demo-stats');
    const runs = await scheduler.list({ status: 'completed', name: 'stats', limit: 100 });
    return { count: info?.count, every: info?.every, next: info?.next, runs: runs.map((t) => t.id) };
  });
  check(
    stats.count >= 1 && stats.runs.length >= 1 && stats.runs.every((id) => id.startsWith('schedule:demo-stats:')),
    `the repeat schedule (every ${stats.every} ms) ran: ${stats.runs.length} completed run(s), count ${stats.count}, next in ${Math.round((stats.next - Date.now()) / 1000)} s`,
  );

  await page.click('#uploads');
  await page.waitForFunction(
    () => {
      const { uploads } = /** @type {any} */ (window).tasklaneDemo.workflows;
      return uploads.length === 6 && uploads.every((u) => u.status === 'completed');
    },
    null,
    { timeout: 30_000 },
  );
  const uploads = await page.evaluate(async () => {
    const { scheduler } = /** @type {any} */ (window).tasklaneDemo;
    const done = await scheduler.list({ status: 'completed', name: 'upload', limit: 100 });
    return done.map((t) => ({ s: t.startedAt, f: t.finishedAt })).sort((a, b) => a.s - b.s);
  });
  const third = uploads.slice(2).map((u, i) => u.s - (uploads[i]?.s ?? 0));
  const overlap = uploads.some((u, i) => i > 0 && u.s < (uploads[i - 1]?.f ?? 0));
  check(
    uploads.length === 6 && Math.min(...third) >= 999 && !overlap,
    `6 uploads kept to 2 starts a second, one at a time (starts at +${uploads.map((u) => ((u.s - (uploads[0]?.s ?? 0)) / 1000).toFixed(1)).join(', +')} s)`,
  );

  // The real thing: Chromium's network emulation sets navigator.onLine and fires offline / online.
  await context.setOffline(true);
  await page.click('#sync');
  await page.waitForTimeout(2_000);
  const offline = await page.evaluate(() => ({ .../** @type {any} */ (window).tasklaneDemo.workflows.sync, onLine: navigator.onLine }));
  const wentOnlineAt = Date.now();
  await context.setOffline(false);
  await page.waitForFunction(() => /** @type {any} */ (window).tasklaneDemo.workflows.sync.done >= 1, null, { timeout: 15_000 });
  check(
    !offline.onLine && offline.waiting === 1 && offline.done === 0,
    `an online-only task waited through 2 s offline and ran ${Date.now() - wentOnlineAt} ms after the network came back`,
  );
}

try {
  // One context: the two pages share an origin's storage, locks and channels, as two tabs do.
  const context = await browser.newContext({ viewport: { width: 1480, height: 1000 } });
  const open = async (label) => {
    const page = await context.newPage();
    page.on('pageerror', (error) => errors.push(`${label} page error: ${error.message}`));
    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    return page;
  };
  const first = await open('first tab');
  const second = await open('second tab');
  const a = await state(first);
  const b = await state(second);
  check(a.leader.thisTab && !b.leader.thisTab, `the first tab leads, the second follows (${a.counts.total} tiles)`);
  const t0 = Date.now();
  await second.waitForFunction(() => /** @type {any} */ (window).tasklaneDemo.fractal.counts.done >= 12, null, { timeout: 120_000 });
  const painted = await state(second);
  check(
    painted.counts.done >= 12,
    `the second tab paints tiles as they finish in the first (${painted.counts.done} after ${Date.now() - t0} ms)`,
  );
  const before = (await state(first)).submitted;
  await second.click('#delayed');
  await first.waitForFunction((n) => /** @type {any} */ (window).tasklaneDemo.scheduler.metrics().submitted > n, before, {
    timeout: 10_000,
  });
  check(
    true,
    `a button in the second tab enqueues into the shared queue (leader's submitted ${before} → ${(await state(first)).submitted})`,
  );
  const mid = await state(second);
  check(mid.counts.done < mid.counts.total, `closing the leading tab mid-render (${mid.counts.done} / ${mid.counts.total} tiles)`);
  const closedAt = Date.now();
  await first.close();
  await second.waitForFunction(() => /** @type {any} */ (window).tasklaneDemo.scheduler.leader.thisTab, null, { timeout: 10_000 });
  check(true, `the second tab took the lead ${Date.now() - closedAt} ms after the first closed`);
  const finishedAt = Date.now();
  await second
    .waitForFunction(
      () => {
        const { done, total, failed } = /** @type {any} */ (window).tasklaneDemo.fractal.counts;
        return done + failed === total;
      },
      null,
      { timeout: 300_000, polling: 250 },
    )
    .catch(async (error) => {
      // Say where it stopped: the tiles, and the queue as the scheduler has it.
      const where = await second.evaluate(async () => {
        const demo = /** @type {any} */ (window).tasklaneDemo;
        const m = demo.scheduler.metrics();
        const live = await demo.scheduler.list({ status: ['queued', 'retrying', 'running'], limit: 20 });
        return {
          counts: demo.fractal.counts,
          queued: m.queued,
          running: m.running,
          health: m.health,
          reason: m.healthReason,
          live: live.map((t) => `${t.name} ${t.status} ${t.key ?? ''}`),
        };
      });
      console.error(`stopped after ${Date.now() - finishedAt} ms: ${JSON.stringify(where)}`);
      throw error;
    });
  const end = await state(second);
  check(
    end.counts.done === end.counts.total,
    `the second tab finished the picture: ${end.counts.done} / ${end.counts.total} tiles, ${end.counts.failed} failed`,
  );
  await checkWorkflows(context, second);
  await mkdir(dirname(out), { recursive: true });
  await second.screenshot({ path: out, fullPage: true });
  console.log(`saved ${out}`);
} finally {
  await browser.close();
  await server.close();
}
for (const e of errors) console.error(e);
process.exit(errors.length ? 1 : 0);
