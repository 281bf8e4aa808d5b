import type { SerializedError } from './types.js';

/**
 * What crosses the worker boundary. The main thread talks to the worker through Comlink: it calls
 * the `WorkerApi` the runtime exposes, and the worker reports back through a proxied `ReportSink`.
 * Calls are identified by `callId`, which is unique per worker handle.
 */

/** One task to run, as sent to a worker. Several go in one `run` call. */
export interface RunRequest {
  callId: number;
  id: string;
  name: string;
  input: unknown;
  /** 1-based attempt number. */
  attempt: number;
}

export type RunOutcome =
  | { callId: number; ok: true; value: unknown; runMs: number }
  | { callId: number; ok: false; error: SerializedError; runMs: number };

/** Implemented on the main thread, called by the worker. */
export interface ReportSink {
  /** Outcomes, in the order the worker finished them. */
  done(outcomes: RunOutcome[]): void;
  progress(callId: number, value: number): void;
}

export interface HandshakeReply {
  /** Task names the module defines. */
  names: string[];
  /** Whether the worker took the lifetime lock. */
  locked: boolean;
}

/** Exposed by the worker runtime. */
export interface WorkerApi {
  /**
   * The handshake. `lockName` names a Web Lock the worker holds for its lifetime: its release tells
   * the main thread the worker died. `sink` is a Comlink proxy (Comlink only proxies top-level arguments).
   */
  hello(lockName: string, sink: ReportSink): Promise<HandshakeReply>;
  /** Queues tasks; they run one at a time in order. Returns at once. */
  run(batch: RunRequest[]): void;
  /** Aborts a queued or running call's signal with `reason`. */
  abort(callId: number, reason: SerializedError): void;
}
