import type { SerializedError } from './types.js';

/**
 * What crosses the worker boundary. The handshake goes through Comlink (`WorkerApi.hello`); it hands
 * the worker a `MessagePort` that then carries the hot path both ways as plain messages (`PortRequest`,
 * `PortReport`): one message per batch and no per-call reply, where a Comlink call costs a request
 * and a response each way. Calls are identified by `callId`, which is unique per worker handle.
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

/** Main thread → worker, on the handshake's port. Messages on one port arrive in order. */
export type PortRequest =
  /** Queues tasks; they run one at a time in order. */
  | { type: 'run'; batch: RunRequest[] }
  /** Aborts a queued or running call's signal with `reason`. */
  | { type: 'abort'; callId: number; reason: SerializedError };

/** Worker → main thread, on the handshake's port. `done` carries outcomes in the order the worker finished them. */
export type PortReport = { type: 'done'; outcomes: RunOutcome[] } | { type: 'progress'; callId: number; value: number };

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
   * the main thread the worker died. `port` (transferred) carries everything after the handshake:
   * `PortRequest`s in, `PortReport`s out.
   */
  hello(lockName: string, port: MessagePort): Promise<HandshakeReply>;
  /** Queues tasks, as a `run` port message does. Returns at once. */
  run(batch: RunRequest[]): void;
  /** Aborts a queued or running call's signal with `reason`, as an `abort` port message does. */
  abort(callId: number, reason: SerializedError): void;
}
