import type { BackoffFunction, BackoffPolicy, SerializedError } from './types.js';

export const DEFAULT_BACKOFF: Required<BackoffPolicy> = {
  kind: 'exponential',
  delayMs: 1_000,
  maxMs: 60_000,
  factor: 2,
  jitter: false,
};

/**
 * The delay before the next attempt, after attempt `attempt` (1-based) failed. Pure: `random`
 * is injected so tests are exact. Jitter draws from [delay/2, delay] ("equal jitter"), so a
 * jittered delay is never longer than the un-jittered one nor collapses to zero.
 */
export function backoffDelay(
  policy: Required<BackoffPolicy> | BackoffFunction,
  attempt: number,
  error: SerializedError = { name: 'Error', message: '' },
  random: () => number = Math.random,
): number {
  if (typeof policy === 'function') {
    const value = policy(attempt, error);
    return Number.isFinite(value) && value > 0 ? value : 0;
  }
  const n = Math.max(1, attempt);
  let delay: number;
  switch (policy.kind) {
    case 'fixed':
      delay = policy.delayMs;
      break;
    case 'linear':
      delay = policy.delayMs * n;
      break;
    default:
      delay = policy.delayMs * policy.factor ** (n - 1);
  }
  delay = Math.min(delay, policy.maxMs);
  if (policy.jitter) delay = delay / 2 + random() * (delay / 2);
  return delay;
}
