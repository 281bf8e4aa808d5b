import { expose } from 'comlink';
import { deserializeError, serializeError, UnknownTaskError } from './errors.js';
import type { HandshakeReply, PortReport, PortRequest, RunOutcome, RunRequest, WorkerApi } from './protocol.js';
import type { SerializedError } from './types.js';

/** What a handler gets besides its input. */
export interface TaskContext {
  /** Aborted on cancel or timeout; `signal.reason` is a `CancelledError` or `TimeoutError`. */
  readonly signal: AbortSignal;
  /** Reports progress, a number in 0..1 (clamped), as 'progress' events on the main thread. */
  progress(value: number): void;
  /** 1-based attempt number. */
  readonly attempt: number;
  readonly id: string;
  /**
   * Marks `value` (or the given list) to be transferred, not copied, when the result goes back.
   * Returns `value` so it can wrap a return expression: `return ctx.transfer(bitmap)`.
   */
  transfer<T>(value: T, transferables?: Transferable[]): T;
}

// biome-ignore lint/suspicious/noExplicitAny: handler inputs are user-defined
export type TaskHandler<I = any, O = any> = (input: I, ctx: TaskContext) => O | Promise<O>;
export type TaskMap = Record<string, TaskHandler>;

/** Task names of a worker module's `tasks`. */
export type TaskName<T> = Extract<keyof T, string>;
/** The input type of task `N`. */
export type TaskInput<T, N extends TaskName<T>> = T[N] extends (input: infer I, ctx: TaskContext) => unknown ? I : never;
/** The resolved result type of task `N`. */
export type TaskOutput<T, N extends TaskName<T>> = T[N] extends (...args: never[]) => infer O ? Awaited<O> : never;

interface Running {
  request: RunRequest;
  controller: AbortController;
}

const TRANSFERABLE_CTORS = ['ArrayBuffer', 'MessagePort', 'ImageBitmap', 'OffscreenCanvas', 'ReadableStream', 'WritableStream', 'TransformStream', 'VideoFrame', 'AudioData'];

function asTransferable(value: unknown): Transferable | undefined {
  if (ArrayBuffer.isView(value)) return value.buffer as ArrayBuffer;
  const ctor = (value as { constructor?: { name?: string } } | null)?.constructor?.name;
  return ctor && TRANSFERABLE_CTORS.includes(ctor) ? (value as Transferable) : undefined;
}

let defined = false;

/**
 * Registers the module's task handlers and starts serving the scheduler. Call it once, at the top
 * level of the worker module, and export its result so the main thread can infer types:
 *
 * @example
 * export const tasks = defineTasks({ async resize(input: { blob: Blob }, ctx) { … } });
 * export type Tasks = typeof tasks;
 */
export function defineTasks<T extends TaskMap>(handlers: T): T {
  if (typeof handlers !== 'object' || handlers === null) throw new TypeError('Expected defineTasks() to get an object of handler functions');
  for (const [name, fn] of Object.entries(handlers))
    if (typeof fn !== 'function') throw new TypeError(`Expected task "${name}" to be a function, got ${typeof fn}`);
  if (defined) throw new Error('defineTasks() was called twice in one worker');
  defined = true;
  const scope = globalThis as unknown as { postMessage?: unknown; document?: unknown };
  if (typeof scope.postMessage === 'function' && scope.document === undefined) {
    expose(createRuntime(handlers), globalThis as unknown as Parameters<typeof expose>[1]);
  }
  return handlers;
}

/** The worker side of the protocol: a FIFO of calls run one at a time, outcomes reported in batches. */
export function createRuntime(handlers: TaskMap): WorkerApi {
  /** The hot path to the main thread, from the handshake. */
  let port: MessagePort | undefined;
  const report = (message: PortReport, transfers: Transferable[] = []) => port?.postMessage(message, transfers);
  const queue: RunRequest[] = [];
  let head = 0;
  const aborted = new Map<number, SerializedError>();
  let current: Running | undefined;
  let outbox: RunOutcome[] = [];
  let lastFlush = 0;
  let pumping = false;
  /** Settles the current call early when an uncaught error or rejection is attributed to it. */
  let failCurrent: ((error: unknown) => void) | undefined;

  const flush = () => {
    if (outbox.length === 0 || !port) return;
    const batch = outbox;
    outbox = [];
    lastFlush = performance.now();
    const transfers: Transferable[] = [];
    const perCall: (Transferable[] | undefined)[] = [];
    for (const o of batch) {
      const list = pendingTransfers.get(o.callId);
      perCall.push(list);
      if (list) {
        transfers.push(...list);
        pendingTransfers.delete(o.callId);
      }
    }
    try {
      report({ type: 'done', outcomes: batch }, transfers);
    } catch {
      // postMessage refused the batch (a bad transfer list, say) before sending any of it: send each
      // outcome alone, so only the bad ones fail.
      batch.forEach((o, i) => {
        try {
          report({ type: 'done', outcomes: [o] }, perCall[i]);
        } catch (error) {
          const message = `the result could not be sent to the main thread: ${(error as Error)?.message ?? String(error)}`;
          report({
            type: 'done',
            outcomes: [{ callId: o.callId, ok: false, error: { name: 'DataCloneError', code: 'E_DATA_CLONE', message }, runMs: o.runMs }],
          });
        }
      });
    }
  };
  const pendingTransfers = new Map<number, Transferable[]>();

  const runOne = async (request: RunRequest): Promise<RunOutcome> => {
    const t0 = performance.now();
    const reason = aborted.get(request.callId);
    if (reason) {
      aborted.delete(request.callId);
      return { callId: request.callId, ok: false, error: reason, runMs: 0 };
    }
    const handler = Object.hasOwn(handlers, request.name) ? handlers[request.name] : undefined;
    if (!handler) {
      const error = new UnknownTaskError(`no task named "${request.name}" in this worker module`);
      return { callId: request.callId, ok: false, error: serializeError(error), runMs: 0 };
    }
    const controller = new AbortController();
    current = { request, controller };
    const transfers: Transferable[] = [];
    const ctx: TaskContext = {
      signal: controller.signal,
      attempt: request.attempt,
      id: request.id,
      progress(value: number) {
        if (current?.request !== request || typeof value !== 'number' || Number.isNaN(value)) return;
        report({ type: 'progress', callId: request.callId, value: Math.min(1, Math.max(0, value)) });
      },
      transfer<V>(value: V, list?: Transferable[]): V {
        if (list) transfers.push(...list);
        else {
          const t = asTransferable(value);
          if (t) transfers.push(t);
        }
        return value;
      },
    };
    try {
      const value = await new Promise<unknown>((resolve, reject) => {
        failCurrent = reject;
        Promise.resolve()
          .then(() => handler(request.input, ctx))
          .then(resolve, reject);
      });
      if (transfers.length) pendingTransfers.set(request.callId, transfers);
      try {
        // Fail here, with a clear error, rather than in postMessage where the whole batch would be lost.
        if (!transfers.length && value !== undefined && value !== null && typeof value === 'object') structuredClone(value);
      } catch (error) {
        return {
          callId: request.callId,
          ok: false,
          error: { name: 'DataCloneError', code: 'E_DATA_CLONE', message: `task "${request.name}" returned a value that cannot be structured-cloned: ${(error as Error).message}` },
          runMs: performance.now() - t0,
        };
      }
      return { callId: request.callId, ok: true, value, runMs: performance.now() - t0 };
    } catch (error) {
      return { callId: request.callId, ok: false, error: serializeError(error), runMs: performance.now() - t0 };
    } finally {
      failCurrent = undefined;
      current = undefined;
    }
  };

  const pump = async () => {
    if (pumping) return;
    pumping = true;
    try {
      while (head < queue.length) {
        const request = queue[head++] as RunRequest;
        if (head > 1024 && head * 2 > queue.length) {
          queue.splice(0, head);
          head = 0;
        }
        outbox.push(await runOne(request));
        if (head >= queue.length || performance.now() - lastFlush >= 1) flush();
      }
      queue.length = 0;
      head = 0;
      flush();
    } finally {
      pumping = false;
    }
  };

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

  const api: WorkerApi = {
    async hello(lockName: string, handshakePort: MessagePort): Promise<HandshakeReply> {
      port = handshakePort;
      port.onmessage = (event: MessageEvent<PortRequest>) => {
        const message = event.data;
        if (message.type === 'run') api.run(message.batch);
        else api.abort(message.callId, message.reason);
      };
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
    run(batch: RunRequest[]) {
      for (const r of batch) queue.push(r);
      void pump();
    },
    abort(callId: number, reason: SerializedError) {
      if (current?.request.callId === callId) current.controller.abort(deserializeError(reason));
      else aborted.set(callId, reason);
    },
  };
  return api;
}

