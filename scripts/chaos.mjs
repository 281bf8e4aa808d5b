// `npm run chaos`: faults counted, in headless Chromium over the real library (Playwright, no mocks).
// Each scenario runs tasks that report every start on a BroadcastChannel to an observer page that
// never reloads, then reads the outcome from the store, and counts: accepted (enqueue resolved),
// completed, failed, cancelled, lost (accepted but not stored as finished: must be 0), run more than
// once (allowed only where recovery counted a stall: the task was running when its page ended),
// hangs (0) and unhandled rejections (0). Exit code 1 on any loss, hang, unhandled rejection or
// unexplained re-run. `--quick` runs smaller numbers (CI).
import { chromium } from 'playwright-core';
import { CHROMIUM_FLAGS } from './find-chromium.mjs';
import { requireChromium, servePages } from './serve-pages.mjs';

const quick = process.argv.includes('--quick');
const executablePath = requireChromium();
const server = await servePages(5195);
const browser = await chromium.launch({ executablePath, args: CHROMIUM_FLAGS, headless: true });
const rows = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const within = (promise, ms) => Promise.race([promise.then(() => true), sleep(ms).then(() => false)]);

/** A fresh context (its own storage) with an observer page; `open()` opens a page of the queue `name`. */
async function setup(label) {
  const context = await browser.newContext();
  const run = `${label}-${Date.now()}`;
  const name = `tasklane-chaos-${run}`;
  const observer = await context.newPage();
  await observer.goto(`${server.url}test/pages/chaos.html?role=observer&run=${run}`);
  await observer.waitForSelector('body[data-ready="true"]');
  const errors = [];
  const open = async () => {
    const page = await context.newPage();
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${server.url}test/pages/chaos.html?run=${run}&name=${name}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    return page;
  };
  return { context, observer, open, errors };
}

/** Waits for the queue to drain in `page`, reads the outcome and counts it into a row. */
async function count(scenario, page, observer, errors, extra = {}) {
  process.stderr.write(`chaos: ${scenario}: counting… `);
  const drained = await within(
    page.evaluate(() => window.chaos.drain()),
    60_000,
  );
  await sleep(200);
  const stored = await page.evaluate(() => window.chaos.outcome());
  const seen = await observer.evaluate(() => window.chaos.summary());
  const byKey = new Map(stored.filter((t) => t.key).map((t) => [t.key, t]));
  const finished = (status) => stored.filter((t) => t.status === status).length;
  const lost = seen.accepted.filter((label) => !['completed', 'failed', 'cancelled'].includes(byKey.get(label)?.status ?? '')).length;
  let twice = 0;
  let unexplained = 0;
  for (const [label, starts] of Object.entries(seen.starts)) {
    if (starts <= 1) continue;
    twice++;
    // Retries of a flaky task start it again too: those are attempts, not re-runs. A re-run beyond
    // its attempts is explained only by a stall recovery counted.
    const task = byKey.get(label);
    if (!task || starts - 1 > task.stalls + 2) unexplained++;
  }
  rows.push({
    scenario,
    accepted: seen.accepted.length,
    completed: finished('completed'),
    failed: finished('failed'),
    cancelled: finished('cancelled'),
    lost,
    'started again': twice,
    unexplained,
    hangs: (drained ? 0 : 1) + (extra.hangs ?? 0),
    unhandled: seen.unhandled,
    'page errors': errors.length,
    ...extra.more,
  });
  process.stderr.write(`${JSON.stringify(rows.at(-1))}\n`);
}

async function reloads(times, total) {
  const { context, observer, open, errors } = await setup('reload');
  let page = await open();
  const perStep = Math.ceil(total / (times + 1));
  for (let i = 0; i <= times; i++) {
    const enqueueing = page.evaluate(([p, c]) => window.chaos.enqueue(p, c), [`r${i}`, perStep]).catch(() => 0);
    await sleep(20 + Math.random() * 150);
    if (i < times) {
      await page.reload();
      await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    } else await enqueueing;
  }
  await count(`${times} reloads at random moments, ${total} tasks`, page, observer, errors);
  page = undefined;
  await context.close();
}

async function crashes(times, total) {
  const { context, observer, open, errors } = await setup('crash');
  let page = await open();
  const perStep = Math.ceil(total / (times + 1));
  for (let i = 0; i <= times; i++) {
    const enqueueing = page.evaluate(([p, c]) => window.chaos.enqueue(p, c), [`c${i}`, perStep]).catch(() => 0);
    await sleep(30 + Math.random() * 150);
    if (i < times) {
      const cdp = await context.newCDPSession(page);
      // The renderer dies under the call: its answer may never come.
      await within(
        cdp.send('Page.crash').catch(() => {}),
        2_000,
      );
      await within(
        page.close().catch(() => {}),
        5_000,
      );
      page = await open();
    } else await enqueueing;
  }
  await count(`${times} renderer crashes (CDP Page.crash), ${total} tasks`, page, observer, errors);
  await context.close();
}

async function tabs(times, total) {
  const { context, observer, open, errors } = await setup('tabs');
  const pages = [await open(), await open(), await open()];
  const perStep = Math.ceil(total / (times + 1) / 3);
  for (let i = 0; i <= times; i++) {
    const enqueueing = pages.map((p, k) =>
      p.evaluate(([prefix, c]) => window.chaos.enqueue(prefix, c), [`t${i}-${k}`, perStep]).catch(() => 0),
    );
    await sleep(40 + Math.random() * 150);
    if (i < times) {
      const leads = await Promise.all(pages.map((p) => p.evaluate(() => window.chaos.leads()).catch(() => false)));
      const k = leads.indexOf(true);
      if (k >= 0) {
        await pages[k].close();
        pages[k] = await open();
      }
    } else await Promise.all(enqueueing);
  }
  const leads = await Promise.all(pages.map((p) => p.evaluate(() => window.chaos.leads())));
  await count(`3 tabs, the leading one closed ${times} times, ${total} tasks`, pages[Math.max(0, leads.indexOf(true))], observer, errors);
  await context.close();
}

async function fuzz(calls) {
  const { context, observer, open, errors } = await setup('fuzz');
  const page = await open();
  const result = await page.evaluate(async (n) => {
    const s = window.chaos.scheduler;
    const values = [
      undefined,
      null,
      -1,
      0,
      1.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      2 ** 53,
      '',
      'x',
      'noop',
      'counted',
      true,
      [],
      {},
      () => 1,
      Symbol('s'),
      new Proxy(
        {},
        {
          get: () => {
            throw new Error('trap');
          },
        },
      ),
      Object.create(null),
      { priority: 'urgent' },
      { timeoutMs: -5 },
      { delayMs: Number.NaN },
      { retry: { attempts: 0 } },
      { timoutMs: 5 },
      { runAt: 'tomorrow' },
      { key: 5 },
      { signal: {} },
      [{ name: 'nope', input: null }],
      [{ name: 'noop', input: () => 1 }],
    ];
    const methods = [
      'enqueue',
      'enqueueMany',
      'get',
      'inspect',
      'list',
      'cancel',
      'retry',
      'reprioritize',
      'discard',
      'resize',
      'peekLanes',
    ];
    const pick = (xs) => xs[Math.floor(Math.random() * xs.length)];
    let named = 0;
    let unnamed = 0;
    let resolved = 0;
    let hung = 0;
    const unnamedExamples = [];
    for (let i = 0; i < n; i++) {
      const m = pick(methods);
      const args = [pick(values), pick(values), pick(values)];
      let outcome;
      try {
        const value = s[m](...args);
        outcome =
          value && typeof value.then === 'function'
            ? await Promise.race([
                value.then(
                  () => 'resolved',
                  (e) => e,
                ),
                new Promise((r) => setTimeout(() => r('hung'), 2000)),
              ])
            : 'resolved';
      } catch (e) {
        outcome = e;
      }
      if (outcome === 'resolved') resolved++;
      else if (outcome === 'hung') hung++;
      else if (outcome instanceof Error && outcome.name && (outcome.name !== 'Error' || outcome.code)) named++;
      else {
        unnamed++;
        if (unnamedExamples.length < 3) unnamedExamples.push(`${m}: ${String(outcome?.message ?? outcome)}`);
      }
    }
    // Still alive after all of it:
    const ok = (await (await s.enqueue('add', { a: 2, b: 3 })).result) === 5;
    return { named, unnamed, resolved, hung, ok, unnamedExamples };
  }, calls);
  await count(`${calls} fuzzed public calls (wrong types, out of range, hostile objects)`, page, observer, errors, {
    hangs: result.hung + (result.ok ? 0 : 1),
    more: { 'named errors': result.named, 'unnamed errors': result.unnamed },
  });
  if (result.unnamedExamples.length) console.error(`unnamed errors, e.g.: ${result.unnamedExamples.join(' | ')}`);
  await context.close();
}

const t0 = Date.now();
try {
  await reloads(quick ? 5 : 20, quick ? 300 : 2000);
  await crashes(quick ? 2 : 5, quick ? 200 : 1000);
  await tabs(quick ? 2 : 5, quick ? 300 : 1500);
  await fuzz(quick ? 300 : 1000);
} finally {
  await browser.close();
  await server.close();
}

const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
const cell = (v) => (v === undefined ? '-' : String(v));
console.log(
  `\ntasklane chaos, ${new Date().toISOString()}, ${quick ? 'npm run chaos -- --quick' : 'npm run chaos'}, ${Math.round((Date.now() - t0) / 1000)} s\n`,
);
console.log(`| ${columns.join(' | ')} |`);
console.log(`|${columns.map(() => '---').join('|')}|`);
for (const r of rows) console.log(`| ${columns.map((c) => cell(r[c])).join(' | ')} |`);
const bad = rows.filter((r) => r.lost > 0 || r.hangs > 0 || r.unhandled > 0 || r.unexplained > 0 || (r['unnamed errors'] ?? 0) > 0);
if (bad.length) console.error(`\nchaos: ${bad.length} scenario(s) failed: ${bad.map((r) => r.scenario).join('; ')}`);
process.exit(bad.length ? 1 : 0);
