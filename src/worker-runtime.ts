import { expose } from 'comlink';
import { DataCloneError, deserializeError, serializeError, UnknownTaskError } from './errors.js';
import {
  ABORT,
  DONE,
  DONE_STRIDE,
  type HandshakeReply,
  PROGRESS,
  READY,
  RUN,
  RUN_STRIDE,
  type RunRequest,
  type WireDone,
  type WireReady,
  type WireReport,
  type WorkerApi,
} from './protocol.js';
import type { TaskContext, TaskMap } from './task-types.js';
import type { DependencyOutcome, SerializedError } from './types.js';

interface Running {
  request: RunRequest;
  /** Made on first use: most handlers never look at their signal. */
  controller?: AbortController;
  /** What `ctx.transfer` marked, if anything. */
  transfers?: Transferable[];
}

/**
 * A call's `TaskContext`. A class, not an object literal with a getter (which V8 builds on a slow
 * path). Every member is an own enumerable property, as on a plain object, so `{ ...ctx }` and
 * detached `progress`/`transfer` work; `signal` is an own getter that makes the AbortController on
 * first use.
 */
class CallContext implements TaskContext {
  readonly attempt: number;
  readonly id: string;
  readonly dependencies: Readonly<Record<string, unknown>>;
  readonly progress: (value: number) => void;
  readonly transfer: <V>(value: V, transferables?: Transferable[]) => V;
  readonly #call: Running;

  constructor(call: Running, progress: (value: number) => void) {
    this.#call = call;
    this.attempt = call.request.attempt;
    this.id = call.request.id;
    const outcomes = call.request.dependencyOutcomes;
    this.dependencies = outcomes === undefined ? NO_DEPENDENCIES : dependenciesOf(outcomes);
    this.progress = progress;
    this.transfer = <V>(value: V, list?: Transferable[]): V => {
      const transfers = (call.transfers ??= []);
      if (list) transfers.push(...list);
      else {
        const t = asTransferable(value);
        if (t) transfers.push(t);
      }
      return value;
    };
    Object.defineProperty(this, 'signal', SIGNAL);
  }

  declare readonly signal: AbortSignal;

  /** For `SIGNAL`'s getter. */
  static signalOf(ctx: CallContext): AbortSignal {
    const call = ctx.#call;
    call.controller ??= new AbortController();
    return call.controller.signal;
  }
}

/** `ctx.dependencies` of a task without any: shared, frozen. */
const NO_DEPENDENCIES: Readonly<Record<string, unknown>> = Object.freeze({});

/** The last outcomes `dependenciesOf` was given, and what it made of them (when they hold no error). */
let lastOutcomes: Readonly<Record<string, DependencyOutcome>> | undefined;
let lastDependencies: Readonly<Record<string, unknown>> = NO_DEPENDENCIES;

/**
 * `ctx.dependencies`: each dependency's result, or its error rebuilt (an `Error`, so it tells itself
 * apart from a result). The dependents of one task share one outcomes object in a message (a
 * fan-out's 10,000): made once for a run of them, as their results are shared already. One with an
 * error is made afresh for each call, so no two handlers share an `Error` they might change.
 */
function dependenciesOf(outcomes: Readonly<Record<string, DependencyOutcome>>): Readonly<Record<string, unknown>> {
  if (outcomes === lastOutcomes) return lastDependencies;
  const out: Record<string, unknown> = {};
  let errors = false;
  for (const id of Object.keys(outcomes)) {
    const o = outcomes[id] as DependencyOutcome;
    if (o.status === 'completed') out[id] = o.result;
    else {
      out[id] = deserializeError(o.error);
      errors = true;
    }
  }
  const made = Object.freeze(out);
  lastOutcomes = errors ? undefined : outcomes;
  lastDependencies = errors ? NO_DEPENDENCIES : made;
  return made;
}

const SIGNAL: PropertyDescriptor = {
  get(this: CallContext) {
    return CallContext.signalOf(this);
  },
  enumerable: true,
};

const TRANSFERABLE_CTORS = [
  'ArrayBuffer',
  'MessagePort',
  'ImageBitmap',
  'OffscreenCanvas',
  'ReadableStream',
  'WritableStream',
  'TransformStream',
  'VideoFrame',
  'AudioData',
];

function asTransferable(value: unknown): Transferable | undefined {
  if (ArrayBuffer.isView(value)) return value.buffer as ArrayBuffer;
  const ctor = (value as { constructor?: { name?: string } } | null)?.constructor?.name;
  return ctor && TRANSFERABLE_CTORS.includes(ctor) ? (value as Transferable) : undefined;
}

let defined = false;

/**
 * Registers the module's task handlers and starts serving the scheduler. Call it once, and export
 * its result so the main thread can infer types. It may come after top-level `await` or other async
 * work (loading WASM or a model): the scheduler waits for it, up to `pool.spawnTimeoutMs`.
 *
 * @example
 * export const tasks = defineTasks({ async resize(input: { blob: Blob }, ctx) { … } });
 * export type Tasks = typeof tasks;
 */
export function defineTasks<T extends TaskMap>(handlers: T): T {
  if (typeof handlers !== 'object' || handlers === null)
    throw new TypeError('Expected defineTasks() to get an object of handler functions');
  for (const [name, fn] of Object.entries(handlers))
    if (typeof fn !== 'function') throw new TypeError(`Expected task "${name}" to be a function, got ${typeof fn}`);
  if (defined) throw new Error('defineTasks() was called twice in one worker');
  defined = true;
  const scope = globalThis as unknown as { postMessage?: unknown; document?: unknown };
  if (typeof scope.postMessage === 'function' && scope.document === undefined) {
    // The runtime's message listener goes first, so Comlink's never sees hot-path messages.
    const endpoint = globalThis as unknown as RuntimeEndpoint;
    expose(createRuntime(handlers, endpoint), endpoint as unknown as Parameters<typeof expose>[1]);
    endpoint.postMessage([READY] satisfies WireReady, []);
  }
  return handlers;
}

/** The worker's side of its channel to the main thread (the worker's global scope). */
export interface RuntimeEndpoint {
  postMessage(message: unknown, transfer: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
}

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';

/**
 * The worker side of the protocol: a FIFO of calls run one at a time, outcomes reported in batches.
 * A handler that returns a plain value is settled in the same turn; only a promise is awaited.
 */
export function createRuntime(handlers: TaskMap, endpoint: RuntimeEndpoint): WorkerApi {
  const report = (message: WireReport, transfers: Transferable[]) => endpoint.postMessage(message, transfers);
  const queue: RunRequest[] = [];
  let head = 0;
  const aborted = new Map<number, SerializedError>();
  let current: Running | undefined;
  /** Outcomes not sent yet, as a done message being filled: `DONE_STRIDE` slots per outcome. */
  let outbox: unknown[] = [DONE];
  /** When the last call ended and when outcomes last went out (`performance.now()`). */
  let lastEnd = 0;
  let lastFlush = 0;
  let pumping = false;
  /** Settles the current call early when an uncaught error or rejection is attributed to it. */
  let failCurrent: ((error: unknown) => void) | undefined;
  const pendingTransfers = new Map<number, Transferable[]>();
  const NO_TRANSFERS: Transferable[] = [];

  const flush = () => {
    if (outbox.length === 1) return;
    const batch = outbox;
    outbox = [DONE];
    lastFlush = lastEnd;
    let transfers = NO_TRANSFERS;
    if (pendingTransfers.size > 0) {
      transfers = [];
      for (let i = 1; i < batch.length; i += DONE_STRIDE) {
        const list = pendingTransfers.get(batch[i] as number);
        if (list) transfers.push(...list);
      }
    }
    try {
      report(batch as WireDone, transfers);
    } catch {
      // postMessage refused the batch (a bad transfer list, say) before sending any of it: send each
      // outcome alone, so only the bad ones fail.
      for (let i = 1; i < batch.length; i += DONE_STRIDE) {
        const callId = batch[i] as number;
        const runMs = batch[i + 3] as number;
        try {
          report([DONE, callId, batch[i + 1], batch[i + 2], runMs], pendingTransfers.get(callId) ?? NO_TRANSFERS);
        } catch (error) {
          const message = `the result could not be sent to the main thread: ${(error as Error)?.message ?? String(error)}`;
          report([DONE, callId, false, serializeError(new DataCloneError(message)), runMs], NO_TRANSFERS);
        }
      }
    }
    if (transfers !== NO_TRANSFERS) for (let i = 1; i < batch.length; i += DONE_STRIDE) pendingTransfers.delete(batch[i] as number);
  };

  const fail = (callId: number, error: SerializedError, runMs: number) => {
    outbox.push(callId, false, error, runMs);
  };

  /** Ends the current call (its clock read serves as the next call's start). */
  const end = (): number => {
    failCurrent = undefined;
    current = undefined;
    lastEnd = performance.now();
    return lastEnd;
  };

  const succeed = (call: Running, value: unknown, t0: number) => {
    const { request, transfers } = call;
    if (transfers?.length) pendingTransfers.set(request.callId, transfers);
    else if (value !== undefined && value !== null && typeof value === 'object') {
      try {
        // Fail here, with a clear error, rather than in postMessage where the whole batch would be lost.
        structuredClone(value);
      } catch (error) {
        const message = `task "${request.name}" returned a value that cannot be structured-cloned: ${(error as Error).message}`;
        fail(request.callId, serializeError(new DataCloneError(message)), lastEnd - t0);
        return;
      }
    }
    outbox.push(request.callId, true, value, lastEnd - t0);
  };

  /**
   * Runs one call, started at `t0`, and puts its outcome in the outbox: at once when the handler
   * returns a plain value or throws, or later, through the returned promise (which never rejects),
   * when it returns a promise.
   */
  const runOne = (request: RunRequest, t0: number): Promise<void> | undefined => {
    if (aborted.size > 0) {
      const reason = aborted.get(request.callId);
      if (reason) {
        aborted.delete(request.callId);
        lastEnd = t0;
        fail(request.callId, reason, 0);
        return undefined;
      }
    }
    const handler = Object.hasOwn(handlers, request.name) ? handlers[request.name] : undefined;
    if (!handler) {
      lastEnd = t0;
      fail(request.callId, serializeError(new UnknownTaskError(`no task named "${request.name}" in this worker module`)), 0);
      return undefined;
    }
    const call: Running = { request };
    current = call;
    const ctx = new CallContext(call, (value: number) => {
      if (current !== call || typeof value !== 'number' || Number.isNaN(value)) return;
      report([PROGRESS, request.callId, Math.min(1, Math.max(0, value))], NO_TRANSFERS);
    });
    let value: unknown;
    try {
      value = handler(request.input, ctx);
    } catch (error) {
      fail(request.callId, serializeError(error), end() - t0);
      return undefined;
    }
    if (!isThenable(value)) {
      end();
      succeed(call, value, t0);
      return undefined;
    }
    return new Promise<unknown>((resolve, reject) => {
      failCurrent = reject;
      Promise.resolve(value).then(resolve, reject);
    }).then(
      (result) => {
        end();
        succeed(call, result, t0);
      },
      (error: unknown) => {
        fail(request.callId, serializeError(error), end() - t0);
      },
    );
  };

  /** After each call: outcomes go out once the queue is empty, or at least every millisecond. */
  const afterCall = () => {
    if (head >= queue.length || lastEnd - lastFlush >= 1) flush();
  };

  const pump = (): void => {
    if (pumping) return;
    pumping = true;
    let waiting = false;
    try {
      let t0 = performance.now();
      while (head < queue.length) {
        const request = queue[head++] as RunRequest;
        if (head > 1024 && head * 2 > queue.length) {
          queue.splice(0, head);
          head = 0;
        }
        const pending = runOne(request, t0);
        if (pending) {
          // Outcomes held for batching go out before an async call waits: an awaited call may take
          // long, and until they arrive the main thread counts the held calls as still running (and
          // their timeouts as ticking).
          flush();
          waiting = true;
          void pending.then(() => {
            pumping = false;
            afterCall();
            pump();
          });
          return;
        }
        afterCall();
        // Back to back: one call's end is the next one's start.
        t0 = lastEnd;
      }
      queue.length = 0;
      head = 0;
      flush();
    } finally {
      if (!waiting) pumping = false;
    }
  };

  const run = (batch: RunRequest[]) => {
    for (const r of batch) queue.push(r);
    pump();
  };

  const abort = (callId: number, reason: SerializedError) => {
    if (current?.request.callId === callId) {
      current.controller ??= new AbortController();
      current.controller.abort(deserializeError(reason));
    } else aborted.set(callId, reason);
  };

  endpoint.addEventListener('message', (event: MessageEvent) => {
    const data: unknown = event.data;
    if (!Array.isArray(data)) return;
    if (data[0] === RUN) {
      event.stopImmediatePropagation();
      const first = queue.length;
      for (let i = 1; i + RUN_STRIDE <= data.length; i += RUN_STRIDE)
        queue.push({
          callId: data[i],
          id: data[i + 1],
          name: data[i + 2],
          input: data[i + 3],
          attempt: data[i + 4],
          // Set on every request, so those with outcomes and those without share one shape.
          dependencyOutcomes: undefined,
        });
      // A slot past the last call: the outcomes of the dependencies of some (see WireRun).
      if ((data.length - 1) % RUN_STRIDE !== 0) {
        const outcomes = data[data.length - 1] as unknown[];
        for (let k = 0; k + 1 < outcomes.length; k += 2)
          (queue[first + (outcomes[k] as number)] as RunRequest).dependencyOutcomes = outcomes[k + 1] as RunRequest['dependencyOutcomes'];
      }
      pump();
    } else if (data[0] === ABORT) {
      event.stopImmediatePropagation();
      abort(data[1] as number, data[2] as SerializedError);
    }
  });

  // Chromium does not forward a worker's unhandled rejections to Worker.onerror, and an uncaught
  // error in a timer would otherwise only be logged: attribute both to the running task.
  const onStray = (error: unknown, event: Event) => {
    if (!failCurrent) return;
    event.preventDefault();
    const data = serializeError(error);
    const wrapped = deserializeError({ ...data, message: `uncaught in task: ${data.message}` });
    if (!data.code) (wrapped as { code?: string }).code = 'E_HANDLER';
    failCurrent(wrapped);
  };
  if (typeof globalThis.addEventListener === 'function') {
    globalThis.addEventListener('unhandledrejection', (e: Event) => onStray((e as PromiseRejectionEvent).reason, e));
    globalThis.addEventListener('error', (e: Event) => onStray((e as ErrorEvent).error ?? new Error((e as ErrorEvent).message), e));
  }

  return {
    async hello(lockName: string): Promise<HandshakeReply> {
      let locked = false;
      const locks = (globalThis.navigator as Navigator | undefined)?.locks;
      if (locks) {
        await new Promise<void>((granted) => {
          void locks.request(lockName, () => {
            granted();
            return new Promise<never>(() => {});
          });
        });
        locked = true;
      }
      return { names: Object.keys(handlers), locked };
    },
    run,
    abort,
  };
}
