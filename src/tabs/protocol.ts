import type { WorkerEventState } from '../events.js';
import type { Metrics } from '../metrics.js';
import type { LanesPeek, WorkerInfo } from '../scheduler-api.js';
import type { SerializedError, TaskInfo, TaskStatus } from '../types.js';

/**
 * The messages tabs of one queue exchange over the `BroadcastChannel` named `tasklane:<name>`.
 * Every tab hears every message: the leader acts on `ToLeader`, followers on `ToFollowers`, each
 * addressed one (`to`) only by the tab it names. A flush sends one `Envelope` per microtask.
 */
export interface Envelope {
  from: string;
  /** The protocol version of the sending tab (absent: version 1, before versions were sent). */
  v?: number;
  list: Message[];
}

/**
 * The version of these messages; any change to them that an older tab would misread bumps it. Tabs
 * act only on envelopes of their own version. Across versions only two things hold, and must hold in
 * every version: a leader answers a foreign `call` (`t`, `rid`, `from`) with an error `reply` (`t`,
 * `to`, `rid`, `ok: false`, `e`), and announces itself with `leader` (`t`, `since`), also in answer
 * to a foreign `hello`. v2: `enqueueMany` is answered with the number of tasks (the follower minted
 * the ids), and its items cross in columns (`tabs/item-wire`).
 */
export const PROTOCOL_VERSION = 2;

/** The version `envelope` was sent in. */
export const versionOf = (envelope: Envelope): number => (typeof envelope.v === 'number' ? envelope.v : 1);

export type Message = ToLeader | ToFollowers;

/** The `Scheduler` methods a follower calls on the leader. */
export type Method =
  | 'enqueue'
  | 'enqueueMany'
  | 'get'
  | 'inspect'
  | 'list'
  | 'cancel'
  | 'retry'
  | 'reprioritize'
  | 'discard'
  | 'pause'
  | 'resume'
  | 'drain'
  | 'resize'
  | 'schedule'
  | 'unschedule'
  | 'schedules'
  /** Handles a follower holds, told to a new leader: their state now, and their events from now on. */
  | 'watch';

/**
 * A follower's call. `resent`: sent before to a leader that went away without answering, so it
 * may have been applied: the leader applies it only if it was not (enqueues carry their id).
 * `deadline` (epoch ms): a leader that hears the call later ignores it, since the caller has
 * been told `LeaderUnavailableError` by then.
 */
export interface Call {
  t: 'call';
  rid: number;
  m: Method;
  a: unknown[];
  resent?: boolean;
  deadline: number;
}

/** What a follower wants pushed to it: the event types its listeners hear, and snapshots for its sync reads. */
export interface Interest {
  t: 'interest';
  types: string[];
  snap: boolean;
  /** `peekLanes` limit the snapshots carry. */
  lanes: number;
}

export type ToLeader = Call | Interest | { t: 'hello' } | { t: 'bye' };

/** A handle's state as the leader has it when it answers: `outcome` once settled. */
export interface HandleWire {
  id: string;
  name: string;
  status: TaskStatus;
  outcome?: { ok: true; value: unknown } | { ok: false; error: SerializedError };
}

/** The leader's view for a follower's `metrics()`, `workers()`, `peekLanes()` and `paused`. */
export interface Snapshot {
  t: 'snap';
  paused: boolean;
  metrics: Metrics;
  workers: WorkerInfo[];
  lanes?: LanesPeek;
}

export type ToFollowers =
  /** A tab took the lead (also the answer to `hello`). */
  | { t: 'leader'; since: number }
  /** The leader is handing over: calls wait for the next one instead of timing out. */
  | { t: 'leaving' }
  /** The leader is working on acknowledged calls: it is not frozen (sent while some take long). */
  | { t: 'alive' }
  | { t: 'ack'; to: string; rids: number[] }
  | { t: 'reply'; to: string; rid: number; ok: true; v: unknown }
  | { t: 'reply'; to: string; rid: number; ok: false; e: SerializedError }
  | Snapshot
  | { t: 'task'; type: string; task: TaskInfo; error?: SerializedError; progress?: number; delayMs?: number }
  | { t: 'worker'; workerId: number; state: WorkerEventState; taskId?: string; error?: SerializedError }
  | { t: 'warning'; error: SerializedError }
  | { t: 'state'; paused: boolean }
  /** The leader's schedules changed. */
  | { t: 'schedules' };

/** Events a follower's handles need, whoever listens: status, progress and the end. */
export const HANDLE_EVENTS: ReadonlySet<string> = new Set([
  'started',
  'progress',
  'retrying',
  'completed',
  'failed',
  'cancelled',
  'skipped',
]);

/**
 * Queues messages and sends what a turn queued as one envelope, at the end of the microtask queue.
 * `onCloneError`: a message could not be cloned (it is dropped; the rest are sent).
 */
export class Outbox {
  readonly #channel: BroadcastChannel;
  readonly #from: string;
  #list: Message[] = [];
  #scheduled = false;
  #closed = false;
  readonly #flush = () => this.flush();

  constructor(channel: BroadcastChannel, from: string) {
    this.#channel = channel;
    this.#from = from;
  }

  post(message: Message): void {
    if (this.#closed) return;
    this.#list.push(message);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#flush);
    }
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#list.length === 0 || this.#closed) return;
    const list = this.#list;
    this.#list = [];
    try {
      this.#channel.postMessage({ from: this.#from, v: PROTOCOL_VERSION, list } satisfies Envelope);
    } catch {
      // One message that cannot be cloned must not take the others with it.
      for (const message of list)
        try {
          this.#channel.postMessage({ from: this.#from, v: PROTOCOL_VERSION, list: [message] } satisfies Envelope);
        } catch {}
    }
  }

  close(): void {
    this.flush();
    this.#closed = true;
  }
}
