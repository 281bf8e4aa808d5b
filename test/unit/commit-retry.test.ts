import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { CommitRetry, type CommitRetryHost, isTransient } from '../../src/idb/commit-retry.js';

interface W {
  name: string;
  hold: boolean;
}

const quota = new DOMException('no room', 'QuotaExceededError');
const error = new Error('commit failed', { cause: quota });

/** A host that records what the policy asks of it; `idle` is whatever `whenIdle` returns next. */
function setup() {
  const log: unknown[] = [];
  const state = { closed: false, detached: false, idle: undefined as Promise<unknown> | undefined, parked: [] as W[] };
  const host: CommitRetryHost<W> = {
    get closed() {
      return state.closed;
    },
    get detached() {
      return state.detached;
    },
    whenIdle: () => state.idle,
    fail: (w) => log.push(['fail', w.name]),
    takeParked: () => state.parked.splice(0),
    commit: (writes, retry) => log.push(['commit', writes.map((w) => w.name), retry]),
    orphaned: (writes) => log.push(['orphaned', writes.map((w) => w.name)]),
    failing: (_e, attempt, delay, count) => log.push(['failing', attempt, delay, count]),
    recovered: () => log.push(['recovered']),
  };
  return { log, state, retry: new CommitRetry(host) };
}

const w = (name: string, hold = true): W => ({ name, hold });

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('CommitRetry', () => {
  test('transient causes are the ones IndexedDB may get past later', () => {
    for (const name of ['QuotaExceededError', 'AbortError', 'UnknownError', 'InvalidStateError'])
      expect(isTransient(new DOMException('', name))).toBe(true);
    expect(isTransient(new DOMException('', 'DataCloneError'))).toBe(false);
    expect(isTransient(null)).toBe(false);
  });

  test('a transient failure holds the state changes, with those parked behind them, and rejects the rest', () => {
    const { log, state, retry } = setup();
    state.parked = [w('parked')];
    retry.failOrHold([w('a'), w('new', false)], error, quota);
    expect(log).toEqual([
      ['fail', 'new'],
      ['failing', 1, 100, 2],
    ]);
    expect(retry.held).toBe(2);
    expect(retry.failing).toBe(true);
  });

  test('a failure that is not transient, or after close, holds nothing', () => {
    const { log, state, retry } = setup();
    retry.failOrHold([w('a')], error, new DOMException('', 'DataCloneError'));
    state.closed = true;
    retry.failOrHold([w('b')], error, quota);
    expect(log).toEqual([
      ['fail', 'a'],
      ['fail', 'b'],
    ]);
    expect(retry.failing).toBe(false);
  });

  test('after detach, state changes go to orphaned instead of being held', () => {
    const { log, state, retry } = setup();
    state.detached = true;
    retry.failOrHold([w('a'), w('new', false)], error, quota);
    expect(log).toEqual([
      ['fail', 'new'],
      ['orphaned', ['a']],
    ]);
    expect(retry.held).toBe(0);
  });

  test('retries back off by doubling up to 5 s; after a failed retry of several, the oldest goes alone', () => {
    const { log, retry } = setup();
    retry.failOrHold([w('a'), w('b')], error, quota);
    vi.advanceTimersByTime(99);
    expect(log).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(log.at(-1)).toEqual(['commit', ['a', 'b'], true]);
    const delays: unknown[] = [];
    for (let attempt = 2; attempt <= 8; attempt++) {
      // The retry in flight fails too: what it carried is held again, ahead of the rest.
      const [, names] = log.at(-1) as [string, string[]];
      retry.failOrHold(
        names.map((n) => w(n)),
        error,
        quota,
      );
      delays.push((log.at(-1) as unknown[])[2]);
      vi.runOnlyPendingTimers();
    }
    expect(delays).toEqual([200, 400, 800, 1_600, 3_200, 5_000, 5_000]);
    expect(log.at(-1)).toEqual(['commit', ['a'], true]);
    expect(retry.held).toBe(1);
  });

  test('a retry that commits the oldest sends the rest at once; the last one ends the episode', () => {
    const { log, retry } = setup();
    retry.failOrHold([w('a'), w('b')], error, quota);
    vi.runOnlyPendingTimers();
    retry.failOrHold([w('a'), w('b')], error, quota);
    vi.runOnlyPendingTimers();
    expect(log.at(-1)).toEqual(['commit', ['a'], true]);
    retry.committed(true, () => false);
    vi.advanceTimersByTime(0);
    expect(log.at(-1)).toEqual(['commit', ['b'], true]);
    retry.committed(true, () => false);
    expect(log.at(-1)).toEqual(['recovered']);
    expect(retry.failing).toBe(false);
  });

  test('an ordinary commit that freed space brings the retry forward; one that did not leaves the backoff alone', () => {
    const { log, retry } = setup();
    retry.failOrHold([w('a')], error, quota);
    const freed = vi.fn(() => false);
    retry.committed(false, freed);
    expect(freed).toHaveBeenCalledOnce();
    vi.advanceTimersByTime(0);
    expect(log).toHaveLength(1);
    retry.committed(false, () => true);
    vi.advanceTimersByTime(0);
    expect(log.at(-1)).toEqual(['commit', ['a'], true]);
  });

  test('no episode: a commit asks nothing', () => {
    const { retry } = setup();
    const freed = vi.fn(() => true);
    retry.committed(false, freed);
    expect(freed).not.toHaveBeenCalled();
  });

  test('a retry waits for the transactions in flight', async () => {
    const { log, state, retry } = setup();
    retry.failOrHold([w('a')], error, quota);
    let done!: () => void;
    state.idle = new Promise<void>((r) => (done = r));
    vi.runOnlyPendingTimers();
    expect(log).toHaveLength(1);
    state.idle = undefined;
    done();
    await vi.waitFor(() => expect(log.at(-1)).toEqual(['commit', ['a'], true]));
  });

  test('new state changes join the held ones; giveUp tries them all once more, not held, and stops the timer', async () => {
    const { log, retry } = setup();
    retry.failOrHold([w('a')], error, quota);
    const late = w('late');
    retry.join(late);
    await retry.giveUp();
    expect(log.at(-1)).toEqual(['commit', ['a', 'late'], false]);
    expect(late.hold).toBe(false);
    expect(retry.held).toBe(0);
    expect(retry.failing).toBe(false);
    vi.runAllTimers();
    expect(log).toHaveLength(2);
  });

  test('drain hands the held writes back and no retry comes', () => {
    const { log, retry } = setup();
    retry.failOrHold([w('a'), w('b')], error, quota);
    expect(retry.drain().map((x) => x.name)).toEqual(['a', 'b']);
    expect(retry.failing).toBe(false);
    vi.runAllTimers();
    expect(log).toHaveLength(1);
  });
});
