// What a hidden and then frozen leader tab does to the others, in two real tabs of headless
// Chromium: the leader goes to the background (hidden), then is frozen through CDP
// (Page.setWebLifecycleState, what Chromium does to background tabs to save power), then thawed.
// Prints each finding; exit code 1 if one differs from what the README says.
// puppeteer-core, not Playwright: Playwright keeps every page visible (focus emulation), and
// Chromium freezes only a hidden page.
// Usage: npm run probe:lifecycle
import puppeteer from 'puppeteer-core';
import { CHROMIUM_FLAGS } from './find-chromium.mjs';
import { requireChromium, servePages } from './serve-pages.mjs';

const executablePath = requireChromium();
const server = await servePages(5197);
const base = server.url;

const failures = [];
const finding = (ok, text) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${text}`);
  if (!ok) failures.push(text);
};
const browser = await puppeteer.launch({ executablePath, args: CHROMIUM_FLAGS, headless: true });
try {
  const context = browser;
  const name = `tasklane-lifecycle-${Date.now()}`;
  const timeout = 1000;
  const open = async () => {
    const page = await context.newPage();
    page.on('pageerror', (error) => failures.push(`page error: ${error.message}`));
    await page.goto(`${base}test/pages/tab.html?name=${name}&timeout=${timeout}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    return page;
  };
  const leader = await open();
  const follower = await open();
  await follower.bringToFront();
  await new Promise((r) => setTimeout(r, 200));
  const hidden = await leader.evaluate(() => document.visibilityState);
  finding(hidden === 'hidden', `the leader tab is in the background: ${hidden}`);
  const hiddenCall = await follower.evaluate(async () => {
    const t0 = performance.now();
    const value = await (await window.tab.scheduler.enqueue('add', { a: 5, b: 5 })).result;
    return { value, ms: performance.now() - t0 };
  });
  finding(
    hiddenCall.value === 10,
    `a hidden (not frozen) leader still answers and runs tasks: ${hiddenCall.ms.toFixed(0)} ms for enqueue -> result`,
  );
  const who = await Promise.all([leader, follower].map((p) => p.evaluate(() => window.tab.scheduler.leader.thisTab)));
  finding(who[0] && !who[1], 'the first tab leads, the second follows');
  const warm = await follower.evaluate(async () => (await (await window.tab.scheduler.enqueue('add', { a: 1, b: 2 })).result) === 3);
  finding(warm, 'a follower call is answered while the leader is active');

  // A long task running in the leader's worker while it is frozen.
  const running = await follower.evaluate(async () => {
    const h = await window.tab.scheduler.enqueue('sleep', { ms: 600, label: 'through-the-freeze' });
    window.longTask = h;
    await new Promise((r) => setTimeout(r, 100));
    return h.status;
  });
  finding(running === 'running', `a task is running in the leader's worker when it freezes (${running})`);
  const cdp = await leader.createCDPSession();
  await cdp.send('Page.setWebLifecycleState', { state: 'frozen' });
  const frozenAt = Date.now();
  const locks = await follower.evaluate(async (n) => {
    const state = await navigator.locks.query();
    return {
      held: state.held.some((l) => l.name === `tasklane:${n}:leader`),
      pending: state.pending.filter((l) => l.name === `tasklane:${n}:leader`).length,
    };
  }, name);
  finding(
    locks.held && locks.pending === 1,
    `a frozen tab keeps its Web Locks: the leader lock stays held, the follower stays queued (pending ${locks.pending}); no failover while frozen`,
  );
  await follower.evaluate(() => {
    const t0 = performance.now();
    window.probe = { t0, log: [] };
    const tick = setInterval(() => window.probe.log.push(Math.round(performance.now() - t0)), 250);
    window.tab.scheduler.enqueue('add', { a: 2, b: 2 }, { key: 'probe-during-freeze' }).then(
      () => {
        window.probe.result = { ok: true, ms: performance.now() - t0 };
        clearInterval(tick);
      },
      (error) => {
        window.probe.result = { ok: false, name: error.name, code: error.code, message: error.message, ms: performance.now() - t0 };
        clearInterval(tick);
      },
    );
  });
  for (let i = 0; i < 30; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const p = await follower.evaluate(() => window.probe);
    if (p.result) break;
  }
  const call = await follower.evaluate(() => window.probe.result ?? { ok: true, ms: Number.NaN });
  finding(
    !call.ok && call.name === 'LeaderUnavailableError' && call.ms >= timeout && call.ms < timeout + 500,
    `a follower's call to the frozen leader rejects with ${call.name} (${call.code}) after ${call.ms.toFixed(0)} ms (leaderTimeoutMs ${timeout}): "${call.message}"`,
  );
  await new Promise((r) => setTimeout(r, 300));
  await cdp.send('Page.setWebLifecycleState', { state: 'active' });
  const frozenMs = Date.now() - frozenAt;
  await new Promise((r) => setTimeout(r, 300));
  // The leader page is reloaded around the thaw (navigation type 'reload'): freezing closed the Vite
  // client's WebSocket ("Page entered Back-Forward Cache"), and the client reloads the page once it
  // reconnects; nothing in tasklane reloads a page. Wait until its queue is open again before asking
  // it, polling on a timer: the page is hidden, so the default (requestAnimationFrame) polling never
  // runs again after a first look that came too early.
  await leader.waitForFunction(() => window.tab?.scheduler, { timeout: 30_000, polling: 100 });
  const navigation = await leader.evaluate(() => performance.getEntriesByType('navigation')[0]?.type);
  if (navigation === 'reload') console.log('note the leader page was reloaded (navigation type "reload")');
  const applied = await leader.evaluate(
    async () => (await window.tab.scheduler.list({ limit: 1000 })).filter((t) => t.key === 'probe-during-freeze').length,
  );
  finding(
    applied === 0,
    `thawed after ${frozenMs} ms, the leader hears the stale call and ignores it: the refused enqueue was not applied (${applied} stored)`,
  );
  const after = await follower.evaluate(async () => {
    const t0 = performance.now();
    const value = await (await window.tab.scheduler.enqueue('add', { a: 3, b: 4 })).result;
    return { value, ms: performance.now() - t0, long: await window.longTask.result };
  });
  finding(after.value === 7, `after the thaw calls are answered again (${after.ms.toFixed(0)} ms)`);
  finding(
    after.long === 'through-the-freeze',
    "the task running in the frozen leader's worker finished after the thaw (its worker was frozen with it), and its follower handle settled",
  );
  await leader.close();
  await follower.waitForFunction(() => window.tab.scheduler.leader.thisTab, { timeout: 10_000 });
  finding(true, 'the leader tab closed: the follower took over');
} finally {
  await browser.close();
  await server.close();
}
for (const f of failures) console.error(`failed: ${f}`);
process.exit(failures.length ? 1 : 0);
