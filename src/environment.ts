import { UnsupportedEnvironmentError } from './errors.js';

/**
 * Throws UnsupportedEnvironmentError where a scheduler cannot run: it needs `Worker` (a browser page,
 * or a browser worker that can start workers). In Node, server-side rendering or a prerender there is
 * none, and the worker factory would fail with an unexplained ReferenceError; this says what to do.
 */
export function assertSchedulerEnvironment(): void {
  if (typeof (globalThis as { Worker?: unknown }).Worker === 'function') return;
  const where = isNode() ? 'Node.js (server-side rendering?)' : 'an environment without Worker';
  throw new UnsupportedEnvironmentError(
    `createScheduler runs in a browser (a page, or a worker that can start module workers); it was called in ${where}. ` +
      'Create the scheduler on the client only, e.g. after hydration or in an effect; importing tasklane on the server is fine.',
  );
}

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: unknown } } }).process;
  return typeof p?.versions?.node === 'string';
}
