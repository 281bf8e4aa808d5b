import { afterEach, expect, test } from 'vitest';
import type { Scheduler, TaskHandle } from '../../src/index.js';
import { PROTOCOL_VERSION } from '../../src/tabs/protocol.js';
import type { TabApi } from './fixtures/tab-frame.js';
import type { Tasks } from './fixtures/tasks.worker.js';
import { dbName, deleteTestDbs, rawAll } from './idb-helpers.js';
import { openTab, removeTabs } from './tab-frames.js';

/**
 * One queue across tabs, with real tabs: iframes of the test page share its origin, so its Web
 * Locks and BroadcastChannels, and each has its own scheduler, workers and IndexedDB connection.
 * Removing a frame is a tab closing or crashing: its locks go with it.
 */

interface Tab {
  frame: HTMLIFrameElement;
  api: TabApi;
  scheduler?: Scheduler<Tasks>;
}

async function openTabs(n: number, name: string, options: Record<string, unknown> = {}): Promise<Tab[]> {
  const tabs: Tab[] = [];
  for (let i = 0; i < n; i++) {
    const tab: Tab = await openTab();
    tab.scheduler = await tab.api.open({ name, ...options });
    tabs.push(tab);
  }
  return tabs;
}

/** Counts `counted` task invocations across every tab's workers, by label. */
function invocations(channelName: string) {
  const starts = new Map<string, number>();
  const running = new Set<string>();
  const channel = new BroadcastChannel(channelName);
  let waiting: { n: number; resolve: () => void } | undefined;
  channel.onmessage = (event: MessageEvent<{ label: string; phase: 'start' | 'end' }>) => {
    const { label, phase } = event.data;
    if (phase === 'start') {
      starts.set(label, (starts.get(label) ?? 0) + 1);
      running.add(label);
    } else running.delete(label);
    if (waiting && starts.size >= waiting.n) waiting.resolve();
  };
  return {
    starts,
    running,
    /** Resolves once `n` distinct labels have started, and a little after, for late duplicates to show. */
    async seen(n: number, withinMs = 8_000): Promise<void> {
      // Bounded, so that a lost task fails the assertions that name it instead of timing the test out.
      if (starts.size < n)
        await new Promise<void>((resolve) => {
          waiting = { n, resolve };
          setTimeout(resolve, withinMs);
        });
      await new Promise((r) => setTimeout(r, 150));
    },
    close: () => channel.close(),
  };
}

const leaderOf = (tabs: Tab[]) => tabs.filter((t) => t.scheduler?.leader.thisTab);
const channelName = () => `count-${Math.random().toString(36).slice(2)}`;

afterEach(async () => {
  removeTabs();
  await new Promise((r) => setTimeout(r, 50));
  await deleteTestDbs();
});

test('three tabs enqueue 100 tasks each, mixed priorities and delays: one leader, every task runs exactly once', async () => {
  const name = dbName('tabs3');
  const tabs = await openTabs(3, name);
  expect(leaderOf(tabs)).toHaveLength(1);
  expect(tabs.map((t) => t.scheduler?.leader.shared)).toEqual([true, true, true]);
  const ch = channelName();
  const counter = invocations(ch);
  const handles = await Promise.all(
    tabs.flatMap((tab, t) =>
      Array.from({ length: 100 }, (_, i) =>
        (tab.scheduler as Scheduler<Tasks>).enqueue(
          'counted',
          { channel: ch, label: `t${t}-${i}`, ms: 1 },
          { priority: (i % 5) as 0 | 1 | 2 | 3 | 4, delayMs: i % 7 === 0 ? 20 : undefined },
        ),
      ),
    ),
  );
  const results = await Promise.all(handles.map((h) => h.result));
  expect(results).toEqual(tabs.flatMap((_, t) => Array.from({ length: 100 }, (_, i) => `t${t}-${i}`)));
  await counter.seen(300);
  counter.close();
  const twice = [...counter.starts].filter(([, n]) => n !== 1);
  expect(twice).toEqual([]);
  expect(counter.starts.size).toBe(300);
  // Only the leader spawned workers; followers see them through the leader's snapshots.
  const leader = leaderOf(tabs)[0] as Tab;
  for (const tab of tabs) if (tab !== leader) expect(tab.scheduler?.leader.since).toBe(leader.scheduler?.leader.since);
});

test("a follower's cancel stops the task running in the leader; its progress and result reach the follower's handle", async () => {
  const name = dbName('tabs-cancel');
  const [leader, follower] = (await openTabs(2, name)) as [Tab, Tab];
  const f = follower.scheduler as Scheduler<Tasks>;
  expect(leader.scheduler?.leader.thisTab).toBe(true);
  expect(f.leader.thisTab).toBe(false);

  const long = await f.enqueue('sleep', { ms: 20_000 });
  await new Promise<void>((resolve) => {
    const check = () => (long.status === 'running' ? resolve() : setTimeout(check, 5));
    check();
  });
  expect(await long.cancel('stop it')).toBe(true);
  const error = await long.result.then(
    () => undefined,
    (e: Error) => e,
  );
  expect(error?.name).toBe('CancelledError');
  expect(long.status).toBe('cancelled');
  expect((await leader.scheduler?.inspect(long.id))?.status).toBe('cancelled');

  const progress: number[] = [];
  const steps = await f.enqueue('progress', { steps: 4 });
  steps.addEventListener('progress', (e) => progress.push((e as unknown as { progress: number }).progress));
  await steps.result;
  expect(steps.status).toBe('completed');
  expect(progress.at(-1)).toBe(1);
  expect(progress.length).toBeGreaterThanOrEqual(2);

  // Reads go to the leader; sync reads come from its snapshots.
  expect((await f.list({ status: 'completed' })).map((t) => t.id)).toContain(steps.id);
  expect((await f.get(steps.id))?.status).toBe('completed');
  await new Promise((r) => setTimeout(r, 150));
  expect(f.metrics().completed).toBeGreaterThanOrEqual(1);
  expect(f.workers().length).toBeGreaterThan(0);
});

test('bad input in a follower gets the same named errors and stores nothing', async () => {
  const name = dbName('tabs-bad');
  const [leader, follower] = (await openTabs(2, name)) as [Tab, Tab];
  const f = follower.scheduler as Scheduler<Tasks>;
  const settle = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: Error) => e,
    );
  await (leader.scheduler as Scheduler<Tasks>).enqueue('noop', null).then((h) => h.result);
  const before = (await rawAll(name)).length;
  const cases = await Promise.all([
    settle(f.enqueue('noop', null, { timeoutMs: -5 })),
    settle(f.enqueue('noop', null, { priority: 'urgent' as never })),
    settle(f.enqueue('noop', (() => 1) as never)),
    settle(f.enqueue('nope' as never, null)),
    settle(f.enqueue('noop', null, { timoutMs: 5 } as never)),
    settle(
      f.enqueueMany([
        { name: 'noop', input: null },
        { name: 'noop', input: null, options: { delayMs: -1 } },
      ]),
    ),
    settle(f.enqueue('noop', null, { retry: { backoff: () => 5 } } as never)),
    settle(f.discard('no-such-id')),
  ]);
  expect(cases.map((e) => e?.name)).toEqual([
    'TypeError',
    'TypeError',
    'DataCloneError',
    'UnknownTaskError',
    'TypeError',
    'TypeError',
    'TypeError',
    undefined,
  ]);
  expect(cases[0]?.message).toMatch(/timeoutMs/);
  // Rebuilt in the follower's realm as the platform's own class.
  expect(cases[0]).toBeInstanceOf((follower.frame.contentWindow as unknown as { TypeError: typeof TypeError }).TypeError);
  expect(cases[4]?.message).toMatch(/timeoutMs/);
  expect(cases[5]?.message).toMatch(/items\[1\]/);
  expect((await rawAll(name)).length).toBe(before);
});

test('the leader closes five times while the others keep enqueueing: the next tab takes over, 0 lost, none run twice', async () => {
  const name = dbName('tabs-handover');
  const ch = channelName();
  const counter = invocations(ch);
  const tabs = await openTabs(3, name);
  const accepted: string[] = [];
  const held: { tab: Tab; handle: TaskHandle<string>; label: string }[] = [];
  let stop = false;
  let n = 0;
  const producers = [0, 1, 2].map(async (slot) => {
    while (!stop) {
      const tab = tabs[slot] as Tab;
      const s = tab.scheduler;
      if (!s || s.closed) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      const label = `p${slot}-${n++}`;
      try {
        const handle = await s.enqueue('counted', { channel: ch, label, ms: 3 }, { priority: (n % 5) as 0 | 1 | 2 | 3 | 4 });
        accepted.push(label);
        held.push({ tab, handle, label });
      } catch (error) {
        // Only a tab that closed meanwhile may refuse.
        expect((error as Error).name).toBe('SchedulerClosedError');
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  });
  for (let round = 0; round < 5; round++) {
    await new Promise((r) => setTimeout(r, 40 + Math.random() * 120));
    const i = tabs.findIndex((t) => t.scheduler?.leader.thisTab);
    expect(i).toBeGreaterThanOrEqual(0);
    const old = tabs[i] as Tab;
    await old.scheduler?.close();
    // A fresh tab takes the closed one's place.
    const fresh: Tab = await openTab();
    fresh.scheduler = await fresh.api.open({ name });
    tabs[i] = fresh;
    old.frame.remove();
  }
  stop = true;
  await Promise.all(producers);
  expect(accepted.length).toBeGreaterThan(50);
  await counter.seen(accepted.length);
  counter.close();
  const missing = accepted.filter((label) => !counter.starts.has(label));
  expect(missing).toEqual([]);
  expect([...counter.starts].filter(([, c]) => c !== 1)).toEqual([]);
  // The handles of tabs still open settled with their results across every change of leader.
  const open = held.filter((h) => tabs.includes(h.tab));
  const results = await Promise.all(open.map((h) => h.handle.result));
  expect(results).toEqual(open.map((h) => h.label));
  for (const tab of tabs) await tab.scheduler?.close();
});

test('the leader tab crashes five times mid-run: 0 lost, only what was running in it runs again', async () => {
  const name = dbName('tabs-crash');
  const ch = channelName();
  const counter = invocations(ch);
  const options = { maxStalls: 10 };
  const tabs = await openTabs(3, name, options);
  const accepted: string[] = [];
  const held: { tab: Tab; handle: TaskHandle<string>; label: string }[] = [];
  let stop = false;
  let n = 0;
  const producers = [0, 1, 2].map(async (slot) => {
    while (!stop) {
      const tab = tabs[slot] as Tab;
      const s = tab.scheduler;
      if (!s || !tab.frame.isConnected) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      const label = `c${slot}-${n++}`;
      // A call to a tab that is removed meanwhile never settles: race it against the removal.
      const handle = await Promise.race([
        s.enqueue('counted', { channel: ch, label, ms: 4 }),
        new Promise<undefined>((r) => {
          const check = () => (tab.frame.isConnected ? setTimeout(check, 20) : r(undefined));
          check();
        }),
      ]);
      if (handle) {
        accepted.push(label);
        held.push({ tab, handle, label });
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  });
  for (let round = 0; round < 5; round++) {
    await new Promise((r) => setTimeout(r, 60 + Math.random() * 120));
    const i = tabs.findIndex((t) => t.scheduler?.leader.thisTab);
    expect(i).toBeGreaterThanOrEqual(0);
    const old = tabs[i] as Tab;
    old.frame.remove();
    const fresh: Tab = await openTab();
    fresh.scheduler = await fresh.api.open({ name, ...options });
    tabs[i] = fresh;
  }
  stop = true;
  await Promise.all(producers);
  expect(accepted.length).toBeGreaterThan(50);
  // Tasks enqueued in a tab that then crashed may be stored although the tab never heard back: count what is stored.
  const open = held.filter((h) => h.tab.frame.isConnected);
  const results = await Promise.all(open.map((h) => h.handle.result));
  expect(results).toEqual(open.map((h) => h.label));
  await ((leaderOf(tabs)[0] as Tab).scheduler as Scheduler<Tasks>).drain();
  await counter.seen(accepted.length);
  counter.close();
  expect(accepted.filter((label) => !counter.starts.has(label))).toEqual([]);
  // Run again only if found running in a dead tab: recovery counts each such stall on the record.
  const records = await rawAll(name);
  const stallsOf = new Map(records.map((r) => [(r.input as { label: string }).label, r.stalls ?? 0]));
  const again = [...counter.starts].filter(([label, c]) => c - 1 > (stallsOf.get(label) ?? 0));
  expect(again).toEqual([]);
  expect(records.filter((r) => r.status !== 'completed').map((r) => `${r.id} ${r.status}`)).toEqual([]);
  expect(records.length).toBeGreaterThanOrEqual(accepted.length);
  // Some did run twice, or the kills missed the work: the test would prove nothing.
  expect([...counter.starts].some(([, c]) => c > 1) || [...stallsOf.values()].some((n) => n > 0)).toBe(true);
});

test('a leader that holds the lock but cannot answer: calls reject with LeaderUnavailableError after the bound, nothing applied; the tab takes over once the lock is free', async () => {
  const name = dbName('tabs-silent');
  // A leader that never answers (a frozen tab keeps its locks): this page holds the lock itself.
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  await new Promise<void>((granted) => {
    void navigator.locks.request(`tasklane:${name}:leader`, () => {
      granted();
      return held;
    });
  });
  const [tab] = await openTabs(1, name, { leaderTimeoutMs: 300 });
  const s = (tab as Tab).scheduler as Scheduler<Tasks>;
  expect(s.leader.thisTab).toBe(false);
  expect(s.leader.since).toBeUndefined();
  expect(s.metrics().health).toBe('degraded');
  const t0 = performance.now();
  const error = await s.enqueue('add', { a: 1, b: 2 }).then(
    () => undefined,
    (e: Error & { code?: string }) => e,
  );
  const waited = performance.now() - t0;
  expect(error?.name).toBe('LeaderUnavailableError');
  expect(error?.code).toBe('E_LEADER_UNAVAILABLE');
  expect(error?.message).toMatch(/300 ms/);
  expect(waited).toBeGreaterThanOrEqual(290);
  // The lock goes free: this tab takes the lead, and the refused call was not applied meanwhile.
  release();
  await new Promise<void>((resolve) => {
    const check = () => (s.leader.thisTab ? resolve() : setTimeout(check, 10));
    check();
  });
  expect(await s.list()).toEqual([]);
  const handle = await s.enqueue('add', { a: 1, b: 2 });
  expect(await handle.result).toBe(3);
  await s.close();
});

/**
 * This page as a leader that speaks the channel protocol by hand: it holds the lock and answers as
 * `answer` says. `v`: the protocol version its envelopes carry (null: none, as before versions).
 */
async function fakeLeader(
  name: string,
  answer: (call: { rid: number; m: string }, from: string, post: (list: unknown[]) => void) => void,
  v: number | null = PROTOCOL_VERSION,
) {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  await new Promise<void>((granted) => {
    void navigator.locks.request(`tasklane:${name}:leader`, () => {
      granted();
      return held;
    });
  });
  const channel = new BroadcastChannel(`tasklane:${name}`);
  const post = (list: unknown[]) => channel.postMessage(v === null ? { from: 'fake', list } : { from: 'fake', v, list });
  channel.onmessage = (event: MessageEvent<{ from: string; list: { t: string; rid: number; m: string }[] }>) => {
    for (const m of event.data.list) {
      if (m.t === 'hello') post([{ t: 'leader', since: Date.now() }]);
      else if (m.t === 'call') answer(m, event.data.from, post);
    }
  };
  return {
    close() {
      channel.close();
      release();
    },
  };
}

test('a call the leader took and then went silent on rejects after the bound, saying it may still be applied; one it keeps working on waits', async () => {
  const name = dbName('tabs-silence');
  let mode: 'silent' | 'slow' = 'silent';
  const leader = await fakeLeader(name, (call, from, post) => {
    post([{ t: 'ack', to: from, rids: [call.rid] }]);
    if (mode === 'slow') {
      // Works for 3x the bound, saying so, then answers.
      const alive = setInterval(() => post([{ t: 'alive' }]), 200);
      setTimeout(() => {
        clearInterval(alive);
        post([{ t: 'reply', to: from, rid: call.rid, ok: true, v: true }]);
      }, 900);
    }
  });
  try {
    const [tab] = await openTabs(1, name, { leaderTimeoutMs: 300 });
    const s = (tab as Tab).scheduler as Scheduler<Tasks>;
    expect(s.leader.thisTab).toBe(false);
    const t0 = performance.now();
    const silent = await s.cancel('some-id').then(
      () => undefined,
      (e: Error) => e,
    );
    expect(silent?.name).toBe('LeaderUnavailableError');
    expect(silent?.message).toMatch(/may still apply/);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    mode = 'slow';
    expect(await s.cancel('some-id')).toBe(true);
  } finally {
    leader.close();
  }
});

test('a leader of another protocol version (an older build in another tab): calls are refused at once with TabVersionError, nothing sent, one warning; the tab takes over once that tab goes', async () => {
  const name = dbName('tabs-version-leader');
  const calls: string[] = [];
  // A leader as tasklane 0.1 was: its envelopes carry no version.
  const old = await fakeLeader(name, (call) => calls.push(call.m), null);
  const tab = await openTab();
  const s = await tab.api.open({ name, leaderTimeoutMs: 2_000 });
  const warnings: Error[] = [];
  s.addEventListener('warning', (e) => warnings.push(e.error));
  expect(s.leader.thisTab).toBe(false);
  const t0 = performance.now();
  const refused = await s.enqueue('add', { a: 1, b: 2 }).then(
    () => undefined,
    (e: Error & { code?: string }) => e,
  );
  expect(performance.now() - t0).toBeLessThan(500); // not the 2 s leaderTimeoutMs
  expect([refused?.name, refused?.code]).toEqual(['TabVersionError', 'E_TAB_VERSION']);
  expect(refused?.message).toMatch(/protocol v1 and this tab v2/);
  const many = await s.enqueueMany([{ name: 'add', input: { a: 1, b: 1 } }]).then(
    () => undefined,
    (e: Error) => e,
  );
  expect(many?.name).toBe('TabVersionError');
  await new Promise((r) => setTimeout(r, 50));
  expect(warnings.map((w) => w.name)).toEqual(['TabVersionError']);
  expect(calls).toEqual([]);
  // The old tab closes: this one takes the lead, and its queue works.
  old.close();
  await expect.poll(() => s.leader.thisTab, { timeout: 5_000 }).toBe(true);
  expect(await s.list()).toEqual([]);
  const handle = await s.enqueue('add', { a: 1, b: 2 });
  expect(await handle.result).toBe(3);
  await s.close();
});

test('a follower of another protocol version: the leader refuses its calls with a reply every version reads, applies nothing, and answers its hello', async () => {
  const name = dbName('tabs-version-follower');
  const [tab] = await openTabs(1, name);
  const s = (tab as Tab).scheduler as Scheduler<Tasks>;
  expect(s.leader.thisTab).toBe(true);
  const channel = new BroadcastChannel(`tasklane:${name}`);
  const heard: { t: string; to?: string; rid?: number; ok?: boolean; e?: { name: string; code?: string; message: string } }[] = [];
  channel.onmessage = (event: MessageEvent<{ list: typeof heard }>) => heard.push(...event.data.list);
  // A tab of a newer build (v99), then one of tasklane 0.1 (no version): each says hello and enqueues.
  const call = (rid: number, id: string) => ({
    t: 'call',
    rid,
    m: 'enqueue',
    a: [id, 'add', { a: 1, b: 2 }, undefined],
    deadline: Date.now() + 5_000,
  });
  channel.postMessage({ from: 'newer', v: 99, list: [{ t: 'hello' }, call(1, 'newer-1')] });
  channel.postMessage({ from: 'older', list: [{ t: 'hello' }, call(1, 'older-1')] });
  await expect.poll(() => heard.filter((m) => m.t === 'reply').length).toBe(2);
  const replies = heard.filter((m) => m.t === 'reply');
  expect(replies.map((r) => [r.to, r.rid, r.ok, r.e?.name, r.e?.code])).toEqual([
    ['newer', 1, false, 'TabVersionError', 'E_TAB_VERSION'],
    ['older', 1, false, 'TabVersionError', 'E_TAB_VERSION'],
  ]);
  expect(replies[0]?.e?.message).toMatch(/protocol v2 and this tab v99/);
  expect(replies[1]?.e?.message).toMatch(/protocol v2 and this tab v1/);
  expect(heard.filter((m) => m.t === 'leader').length).toBeGreaterThanOrEqual(2);
  expect(heard.some((m) => m.t === 'ack')).toBe(false);
  channel.close();
  // Nothing of theirs was applied.
  expect(await s.get('newer-1')).toBeUndefined();
  expect(await s.get('older-1')).toBeUndefined();
  expect(await s.list()).toEqual([]);
  expect(s.metrics().submitted).toBe(0);
  await s.close();
});

test('leaders of two versions in turn: the newest announcement wins, a late one of a gone leader changes nothing, and calls the old leader took reject saying they may have been applied', async () => {
  const name = dbName('tabs-version-turns');
  const calls: string[] = [];
  // A v2 leader that acknowledges every call and answers none (it is about to go).
  const fake = await fakeLeader(name, (call, from, post) => {
    calls.push(call.m);
    post([{ t: 'ack', to: from, rids: [call.rid] }]);
  });
  const tab = await openTab();
  const s = await tab.api.open({ name, leaderTimeoutMs: 2_000 });
  const taken = s.enqueue('add', { a: 1, b: 2 }).then(
    () => undefined,
    (e: Error) => e,
  );
  await expect.poll(() => calls).toEqual(['enqueue']);
  // A tab of tasklane 0.1 announces it leads now.
  const channel = new BroadcastChannel(`tasklane:${name}`);
  const t1 = Date.now() + 1_000;
  channel.postMessage({ from: 'old', list: [{ t: 'leader', since: t1 }] });
  const error = await taken;
  expect(error?.name).toBe('LeaderUnavailableError');
  expect(error?.message).toMatch(/may have been applied/);
  expect((await outcomeOf(s.enqueue('add', { a: 1, b: 1 })))?.name).toBe('TabVersionError');
  // A v2 tab leads after it: calls go out again. Then a late message of the old leader (older since) changes nothing.
  channel.postMessage({ from: 'fake', v: PROTOCOL_VERSION, list: [{ t: 'leader', since: t1 + 1_000 }] });
  await new Promise((r) => setTimeout(r, 50));
  channel.postMessage({ from: 'old', list: [{ t: 'leader', since: t1 }, { t: 'snap' }] });
  await new Promise((r) => setTimeout(r, 50));
  void s.enqueue('add', { a: 2, b: 2 }).catch(() => {});
  await expect.poll(() => calls).toEqual(['enqueue', 'enqueue']);
  channel.close();
  fake.close();
  await s.close();
});

const outcomeOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: Error) => e,
  );
