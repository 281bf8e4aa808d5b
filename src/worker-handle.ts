import { type Remote, releaseProxy, wrap } from 'comlink';
import { WorkerCrashedError, WorkerLoadError } from './errors.js';
import {
  ABORT,
  DONE,
  DONE_STRIDE,
  type HandshakeReply,
  PROGRESS,
  READY,
  RUN,
  type RunOutcome,
  type RunRequest,
  type WireAbort,
  type WorkerApi,
} from './protocol.js';
import type { SerializedError } from './types.js';

export type WorkerState = 'starting' | 'idle' | 'busy' | 'terminated';

/** A call the handle sent and has not heard back about: the request as sent, and its state. */
export interface InFlight extends RunRequest {
  /** When this call became the one the worker runs (its predecessors done), main-thread clock. */
  startedAt?: number;
  /** Set once the main thread gave up on the call (timeout or cancel); its outcome is ignored. */
  abandoned?: boolean;
}

export interface WorkerHandleEvents {
  /** Outcomes of calls, in the order the worker finished them; `now` is when they arrived. */
  onOutcomes(handle: WorkerHandle, outcomes: RunOutcome<InFlight>[], now: number): void;
  onProgress(handle: WorkerHandle, call: InFlight, value: number): void;
  /**
   * The worker is gone. `calls` are those it still had, oldest first: the first was running,
   * the rest never started.
   */
  onExit(handle: WorkerHandle, error: Error, calls: InFlight[], expected: boolean): void;
}

let lockCounter = 0;
const instance = Math.random().toString(36).slice(2, 10);

/**
 * The RUN message for `calls`: `RUN_STRIDE` slots per call after the tag. One call (the common case
 * on an idle pool) is one exact-size literal; more are pushed, never preallocated: V8 structured-
 * clones a holey array the sparse way, index by index (a 512-call message took 3x as long to clone
 * and came out half as big again).
 */
function runMessage(calls: readonly InFlight[]): unknown[] {
  if (calls.length === 1) {
    const r = calls[0] as InFlight;
    if (r.dependencyOutcomes === undefined) return [RUN, r.callId, r.id, r.name, r.input, r.attempt];
    return [RUN, r.callId, r.id, r.name, r.input, r.attempt, [0, r.dependencyOutcomes]];
  }
  const message: unknown[] = [RUN];
  let outcomes: unknown[] | undefined;
  for (let i = 0; i < calls.length; i++) {
    const r = calls[i] as InFlight;
    message.push(r.callId, r.id, r.name, r.input, r.attempt);
    if (r.dependencyOutcomes !== undefined) (outcomes ??= []).push(i, r.dependencyOutcomes);
  }
  if (outcomes) message.push(outcomes);
  return message;
}

/**
 * One Worker, after workerpool's WorkerHandler: a ready handshake, its own map of in-flight calls,
 * and death detection. Comlink alone never rejects a call whose worker died, so every call is
 * tracked here and handed back through `onExit` when the worker goes, however it goes: a crash,
 * `self.close()` (seen through the release of a Web Lock the worker holds for its lifetime),
 * or `terminate()`.
 */
export class WorkerHandle {
  readonly id: number;
  state: WorkerState = 'starting';
  /** Calls sent, oldest first. The first one is running; the others wait inside the worker. */
  readonly calls: InFlight[] = [];
  readonly #worker: Worker;
  readonly #remote: Remote<WorkerApi>;
  readonly #events: WorkerHandleEvents;
  readonly #lockAbort = new AbortController();
  #endStart?: (error: Error) => void;
  /** Set once the worker announced itself (`WireReady`); until then nothing may be sent to it. */
  #ready = false;
  #onReady?: () => void;
  readonly #now: () => number;
  #nextCallId = 1;
  #exited = false;
  /** Tasks completed by this worker. */
  completed = 0;
  names: string[] = [];
  /** Set when the worker must get no more work (timed out, cancelled, closing). */
  doomed = false;
  /**
   * Doomed and about to be terminated (its grace period nearly over): it no longer counts against
   * the pool's `max`, so its replacement can start and be ready when it goes.
   */
  replaced = false;

  constructor(id: number, factory: () => Worker, events: WorkerHandleEvents, now: () => number) {
    this.id = id;
    this.#events = events;
    this.#now = now;
    this.#worker = factory();
    // Ahead of Comlink's listener, which a hot-path report then never reaches (one call less per message).
    this.#worker.addEventListener('message', (event) => {
      if (this.#onMessage(event.data)) event.stopImmediatePropagation();
    });
    this.#remote = wrap<WorkerApi>(this.#worker);
  }

  /** Hot-path reports (see protocol.ts): true if `data` was one. Comlink's replies, objects, are left to Comlink. */
  #onMessage(data: unknown): boolean {
    if (!Array.isArray(data)) return false;
    if (data[0] === DONE) this.#onDone(data);
    else if (data[0] === READY) {
      this.#ready = true;
      const onReady = this.#onReady;
      this.#onReady = undefined;
      onReady?.();
    } else if (data[0] === PROGRESS) {
      const call = this.#find(data[1] as number, 0);
      if (call && !call.abandoned) this.#events.onProgress(this, call, data[2] as number);
    } else return false;
    return true;
  }

  /** Resolves once the worker loaded and answered; rejects with WorkerLoadError otherwise. */
  start(timeoutMs: number): Promise<HandshakeReply> {
    return new Promise<HandshakeReply>((resolve, reject) => {
      let settled = false;
      const lockName = `tasklane:worker:${instance}:${++lockCounter}`;
      // The worker exits (`fail`, or terminated while starting): `#exit` settles the start through
      // this, so the timer (and through it this handle) is let go.
      this.#endStart = (error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error);
      };
      const fail = (error: Error) => this.#exit(error, false);
      const timer = setTimeout(
        () => fail(new WorkerLoadError(`worker did not answer the handshake within ${timeoutMs} ms (did the module call defineTasks?)`)),
        timeoutMs,
      );
      this.#worker.addEventListener('error', (event) => {
        const message = (event as ErrorEvent).message || 'the worker module failed to load or threw while loading';
        if (!settled) {
          event.preventDefault();
          fail(new WorkerLoadError(message));
        } else {
          this.#exit(new WorkerCrashedError(`worker ${this.id} crashed: ${message}`), false);
        }
      });
      this.#worker.addEventListener('messageerror', () => {
        this.#exit(new WorkerCrashedError(`worker ${this.id} received a message it could not deserialize`), false);
      });
      const hello = () =>
        this.#remote.hello(lockName).then(
          (reply) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            this.names = reply.names;
            this.state = 'idle';
            if (reply.locked) this.#watchLock(lockName);
            resolve(reply);
          },
          (error: unknown) => fail(new WorkerLoadError(`handshake failed: ${(error as Error)?.message ?? String(error)}`)),
        );
      if (this.#ready) void hello();
      else this.#onReady = () => void hello();
    });
  }

  #watchLock(lockName: string) {
    navigator.locks
      .request(lockName, { signal: this.#lockAbort.signal }, () => {
        this.#exit(new WorkerCrashedError(`worker ${this.id} exited unexpectedly (closed itself or crashed)`), false);
      })
      .catch(() => {
        // Aborted on purpose when we terminate the worker ourselves.
      });
  }

  /** Sends calls; they run in order after what the worker already has. `now` is the current time, if known. */
  send(requests: Omit<RunRequest, 'callId'>[], now?: number): InFlight[] {
    const wasIdle = this.calls.length === 0;
    // Exact size, filled by index (an array grown by push from empty allocates room for 17).
    const sent: InFlight[] = new Array(requests.length);
    for (let i = 0; i < requests.length; i++) {
      const r = requests[i] as Omit<RunRequest, 'callId'>;
      // Every field set here, in one order: one shape for all calls.
      const call: InFlight = {
        callId: this.#nextCallId++,
        id: r.id,
        name: r.name,
        input: r.input,
        attempt: r.attempt,
        dependencyOutcomes: r.dependencyOutcomes,
        startedAt: undefined,
        abandoned: false,
      };
      this.calls.push(call);
      sent[i] = call;
    }
    if (wasIdle && this.calls[0]) this.calls[0].startedAt = now ?? this.#now();
    this.state = 'busy';
    this.#worker.postMessage(runMessage(sent));
    return sent;
  }

  abort(call: InFlight, reason: SerializedError): void {
    call.abandoned = true;
    if (!this.#exited) this.#worker.postMessage([ABORT, call.callId, reason] satisfies WireAbort);
  }

  /** A done message: `DONE_STRIDE` slots per outcome after the tag. */
  #onDone(data: unknown[]) {
    if (this.#exited) return;
    const now = this.#now();
    const finished: RunOutcome<InFlight>[] = new Array(Math.ceil((data.length - 1) / DONE_STRIDE));
    let n = 0;
    // Calls finish in order: count the finished ones off the front and drop them in one splice.
    let done = 0;
    for (let i = 1; i < data.length; i += DONE_STRIDE) {
      const callId = data[i] as number;
      const call = this.#find(callId, done);
      if (!call) continue;
      const outcome = (
        data[i + 1] === true
          ? { call, ok: true, value: data[i + 2], runMs: data[i + 3] }
          : { call, ok: false, error: data[i + 2], runMs: data[i + 3] }
      ) as RunOutcome<InFlight>;
      if (this.calls[done] === call) done++;
      else {
        const index = this.calls.indexOf(call, done);
        if (index >= 0) this.calls.splice(index, 1);
      }
      this.completed++;
      finished[n++] = outcome;
    }
    if (n < finished.length) finished.length = n;
    if (done === 1) this.calls.shift();
    else if (done > 0) this.calls.splice(0, done);
    const head = this.calls[0];
    if (head && head.startedAt === undefined) head.startedAt = now;
    if (this.calls.length === 0 && this.state === 'busy') {
      this.state = 'idle';
    }
    this.#events.onOutcomes(this, finished, now);
  }

  /** The call with `callId`, looked for from position `from`: outcomes come in order, so it is nearly always the first. */
  #find(callId: number, from: number): InFlight | undefined {
    const calls = this.calls;
    for (let i = from; i < calls.length; i++) if ((calls[i] as InFlight).callId === callId) return calls[i];
    return undefined;
  }

  get running(): InFlight | undefined {
    return this.calls[0];
  }

  get alive(): boolean {
    return !this.#exited;
  }

  /** Kills the worker now; calls still in flight are handed back through `onExit`. */
  terminate(reason: Error): void {
    if (this.#exited) return;
    this.#exit(reason, true);
  }

  #exit(error: Error, expected: boolean) {
    if (this.#exited) return;
    this.#exited = true;
    this.state = 'terminated';
    this.#lockAbort.abort();
    this.#worker.terminate();
    // Comlink's FinalizationRegistry holds the worker strongly until the proxy is released, and the
    // worker's listeners reach this handle and its scheduler: without this, no closed scheduler
    // (nor anything its store held) was ever collected.
    this.#remote[releaseProxy]();
    this.#endStart?.(error);
    this.#endStart = undefined;
    this.#onReady = undefined;
    const calls = this.calls.splice(0);
    this.#events.onExit(this, error, calls, expected);
  }
}
