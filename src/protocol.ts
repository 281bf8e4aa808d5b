import type { DependencyOutcome, SerializedError } from './types.js';

/**
 * What crosses the worker boundary. The handshake: the worker announces itself (`WireReady`) once
 * `defineTasks()` has run, however late the module calls it; only then does the main thread call
 * `WorkerApi.hello` through Comlink (task names, lifetime lock), because a message posted to a worker
 * before its module listens is lost. `run`/`abort` stay callable through Comlink. The hot path then
 * uses the worker's own channel (`Worker.postMessage` / `self.postMessage`) with plain messages:
 * one per batch each way and no per-call reply, where a Comlink call costs a request and a response.
 *
 * Hot-path messages are flat arrays tagged by their first element (`WireRun`, `WireAbort`,
 * `WireDone`, `WireProgress`): a flat array of primitives is about half the structured-clone cost
 * of nested objects. Comlink shares the channel without seeing them: on the main thread it acts only
 * on replies carrying an `id`, and in the worker the runtime's listener runs first and stops them.
 * Not a `MessageChannel`: in Chromium a round trip over a transferred port measured 3–15 µs slower
 * than over the worker's own channel. Messages on the channel arrive in order. Calls are identified
 * by `callId`, unique per worker handle.
 */

/** One task to run, as sent to a worker. Several go in one run message. */
export interface RunRequest {
  callId: number;
  id: string;
  name: string;
  input: unknown;
  /** 1-based attempt number. */
  attempt: number;
  /** How its dependencies ended, by id, in `dependsOn` order: what the handler gets as `ctx.dependencies`. */
  dependencyOutcomes?: Readonly<Record<string, DependencyOutcome>>;
}

/** How a call ended, as the main thread reads it off a done message. */
export type RunOutcome<C = unknown> =
  | { call: C; ok: true; value: unknown; runMs: number }
  | { call: C; ok: false; error: SerializedError; runMs: number };

/**
 * Tags: small integers (free to clone and compare, where a string is allocated on every receipt),
 * unlikely to collide with anything else posted on `self`.
 */
export const RUN = 0x7a5c01;
export const ABORT = 0x7a5c02;
export const DONE = 0x7a5c03;
export const PROGRESS = 0x7a5c04;
export const READY = 0x7a5c05;

/**
 * Main thread → worker: queues tasks, run one at a time in order. `RUN_STRIDE` slots each: callId,
 * id, name, input, attempt. When some of them have dependencies, one more slot at the end (so the
 * length is not 1 + a multiple of the stride) holds their outcomes: a flat array of position in the
 * message, `dependencyOutcomes`, and so on. A message without it costs nothing more.
 */
export type WireRun = [typeof RUN, ...unknown[]];
export const RUN_STRIDE = 5;
/** Main thread → worker: aborts a queued or running call's signal with `reason`. */
export type WireAbort = [typeof ABORT, callId: number, reason: SerializedError];
/**
 * Worker → main thread: outcomes in the order the worker finished them, `DONE_STRIDE` slots each:
 * callId, ok, value (ok) or SerializedError (not ok), runMs.
 */
export type WireDone = [typeof DONE, ...unknown[]];
export const DONE_STRIDE = 4;
export type WireProgress = [typeof PROGRESS, callId: number, value: number];

/** Worker → main thread, once: `defineTasks()` ran and the runtime listens. Nothing is sent to a worker before it. */
export type WireReady = [typeof READY];

export type WireReport = WireDone | WireProgress;

export interface HandshakeReply {
  /** Task names the module defines. */
  names: string[];
  /** Whether the worker took the lifetime lock. */
  locked: boolean;
}

/** Exposed by the worker runtime. */
export interface WorkerApi {
  /**
   * The handshake, called once the worker announced itself (`WireReady`). `lockName` names a Web
   * Lock the worker holds for its lifetime: its release tells the main thread the worker died.
   * Hot-path messages may follow at once.
   */
  hello(lockName: string): Promise<HandshakeReply>;
  /** Queues tasks, as a run message does. Returns at once. */
  run(batch: RunRequest[]): void;
  /** Aborts a queued or running call's signal with `reason`, as an abort message does. */
  abort(callId: number, reason: SerializedError): void;
}
