/**
 * What the engine's unit tests fake: only what crosses to a Worker, which Node does not have. A
 * `FakeWorker` stands in for the `Worker` behind a real `WorkerHandle`, so the handle's own
 * bookkeeping (calls in order, `startedAt` when a call reaches the head, abort, exit) is the real one.
 */
import type { Clock } from '../../../src/clock.js';
import { ABORT, DONE, RUN, RUN_STRIDE } from '../../../src/protocol.js';
import type { SerializedError } from '../../../src/types.js';
import { type InFlight, WorkerHandle, type WorkerHandleEvents } from '../../../src/worker-handle.js';

/** A Worker's main-thread side: records what is posted to it; the test posts its replies. */
export class FakeWorker extends EventTarget {
  readonly posted: unknown[] = [];
  terminated = false;

  postMessage(message: unknown): void {
    this.posted.push(message);
  }

  terminate(): void {
    this.terminated = true;
  }

  /** The task ids of every RUN message, in the order they were sent. */
  runIds(): string[] {
    const ids: string[] = [];
    for (const m of this.posted) {
      if (!Array.isArray(m) || m[0] !== RUN) continue;
      for (let i = 1; i + RUN_STRIDE <= m.length; i += RUN_STRIDE) ids.push(m[i + 1] as string);
    }
    return ids;
  }

  /** The ABORT messages: [callId, reason]. */
  aborts(): [number, SerializedError][] {
    return this.posted
      .filter((m): m is unknown[] => Array.isArray(m) && m[0] === ABORT)
      .map((m) => [m[1] as number, m[2] as SerializedError]);
  }

  /** The worker reports `call` done (ok, with `value`), as the worker runtime does. */
  finish(call: InFlight, value: unknown = null, runMs = 1): void {
    this.dispatchEvent(new MessageEvent('message', { data: [DONE, call.callId, true, value, runMs] }));
  }
}

export interface FakeWorkerHandle {
  handle: WorkerHandle;
  worker: FakeWorker;
  /** What the handle told its owner about exits. */
  exits: { error: Error; calls: InFlight[] }[];
}

const noEvents: WorkerHandleEvents = { onOutcomes: () => {}, onProgress: () => {}, onExit: () => {} };

/** A real `WorkerHandle` over a `FakeWorker`, past its handshake (idle). */
export function fakeWorkerHandle(id: number, clock: Clock, events: Partial<WorkerHandleEvents> = {}): FakeWorkerHandle {
  const worker = new FakeWorker();
  const exits: FakeWorkerHandle['exits'] = [];
  const handle = new WorkerHandle(
    id,
    () => worker as unknown as Worker,
    {
      ...noEvents,
      ...events,
      onExit: (h, error, calls, expected) => {
        exits.push({ error, calls });
        events.onExit?.(h, error, calls, expected);
      },
    },
    () => clock.now(),
  );
  handle.state = 'idle';
  return { handle, worker, exits };
}

/** Lets promise reactions run (the dispatcher's queued pump is one). */
export async function flush(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await Promise.resolve();
}
