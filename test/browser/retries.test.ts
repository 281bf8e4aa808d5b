import { afterEach, expect, test } from 'vitest';
import { ManualClock, type TaskEvent } from '../../src/index.js';
import { closeAll, makeScheduler, nextEvent, outcome } from './helpers.js';

afterEach(closeAll);

test('retries until success with a fixed backoff; every attempt error is kept; status is retrying between attempts', async () => {
  const s = await makeScheduler({ store: 'memory' });
  const statuses: string[] = [];
  s.addEventListener('retrying', (e) => statuses.push(`${(e as TaskEvent).task.status}:${(e as TaskEvent).delayMs}`));
  const t = await s.enqueue('flaky', { succeedOn: 3 }, { retry: { attempts: 3, backoff: { kind: 'fixed', delayMs: 20 } } });
  expect(await t.result).toBe(3);
  expect(statuses).toEqual(['retrying:20', 'retrying:20']);
  const info = await s.inspect(t.id);
  expect(info?.errors.map((e) => [e.attempt, e.code, e.message])).toEqual([
    [1, 'E_FLAKY', 'attempt 1 failed'],
    [2, 'E_FLAKY', 'attempt 2 failed'],
  ]);
  expect(s.metrics()).toMatchObject({ retried: 2, completed: 1, failed: 0 });
});

test('out of attempts: failed, in the dead-letter set, and re-runnable with retry(id)', async () => {
  const s = await makeScheduler({ store: 'memory' });
  const t = await s.enqueue('flaky', { succeedOn: 3 }, { retry: { attempts: 2, backoff: { kind: 'fixed', delayMs: 1 } } });
  const r = await outcome(t.result);
  expect(r.ok || r.error.message).toBe('attempt 2 failed');
  expect(t.status).toBe('failed');
  expect((await s.list({ status: 'failed' })).map((x) => x.id)).toEqual([t.id]);
  const again = await s.retry(t.id);
  expect(await again.result).toBe(3);
  expect((await s.inspect(t.id))?.errors).toHaveLength(2);
  await expect(s.retry(t.id)).rejects.toThrow(/to be failed, cancelled or skipped to retry it, got status "completed"/);
  await expect(s.retry('nope')).rejects.toThrow(TypeError);
});

for (const [kind, expected] of [
  ['fixed', [1_000, 1_000, 1_000]],
  ['linear', [1_000, 2_000, 3_000]],
  ['exponential', [1_000, 2_000, 4_000]],
] as const) {
  test(`${kind} backoff on an injected clock: each retry starts exactly when its delay has passed`, async () => {
    const clock = new ManualClock(1_000_000);
    const s = await makeScheduler({ store: 'memory', clock, pool: { max: 1 } });
    const delays: number[] = [];
    s.addEventListener('retrying', (e) => delays.push((e as TaskEvent).delayMs ?? -1));
    const t = await s.enqueue('flaky', { succeedOn: 4 }, { retry: { attempts: 4, backoff: { kind, delayMs: 1_000, maxMs: 10_000 } } });
    for (let attempt = 1; attempt <= 3; attempt++) {
      const retrying = await nextEvent<TaskEvent>(s, 'retrying');
      const delay = expected[attempt - 1] as number;
      expect(retrying.task.runAt - clock.now()).toBe(delay);
      expect(t.status).toBe('retrying');
      clock.advance(delay - 1);
      await new Promise((r) => setTimeout(r, 0));
      expect(t.status).toBe('retrying');
      const started = nextEvent<TaskEvent>(s, 'started');
      clock.advance(1);
      expect((await started).task.attempt).toBe(attempt + 1);
    }
    expect(await t.result).toBe(4);
    expect(delays).toEqual(expected);
  });
}

test('jittered backoff uses the injected random; a function backoff gets the attempt', async () => {
  const s = await makeScheduler({ store: 'memory', random: () => 0 });
  const delays: number[] = [];
  s.addEventListener('retrying', (e) => delays.push((e as TaskEvent).delayMs ?? -1));
  const a = await s.enqueue('flaky', { succeedOn: 2 }, { retry: { attempts: 2, backoff: { kind: 'fixed', delayMs: 40, jitter: true } } });
  await a.result;
  const b = await s.enqueue('flaky', { succeedOn: 3 }, { retry: { attempts: 3, backoff: (attempt) => attempt * 5 } });
  await b.result;
  expect(delays).toEqual([20, 5, 10]);
});

test('a timeout counts as a failed attempt and is retried', async () => {
  const s = await makeScheduler({ store: 'memory', pool: { max: 1, graceMs: 50 } });
  const t = await s.enqueue(
    'cooperative',
    { ms: 60_000 },
    { timeoutMs: 30, retry: { attempts: 2, backoff: { kind: 'fixed', delayMs: 1 } } },
  );
  const r = await outcome(t.result);
  expect(r.ok || r.error.name).toBe('TimeoutError');
  expect((await s.inspect(t.id))?.errors.map((e) => e.name)).toEqual(['TimeoutError', 'TimeoutError']);
});
