import { type Remote, transfer, wrap } from 'comlink';
import { WorkerCrashedError, WorkerLoadError } from './errors.js';
import type { HandshakeReply, PortReport, PortRequest, RunOutcome, RunRequest, WorkerApi } from './protocol.js';
import type { SerializedError } from './types.js';

export type WorkerState = 'starting' | 'idle' | 'busy' | 'terminated';

/** A call the handle sent and has not heard back about. */
export interface InFlight {
  request: RunRequest;
  /** When this call became the one the worker runs (its predecessors done), main-thread clock. */
  startedAt?: number;
  /** Set once the main thread gave up on the call (timeout or cancel); its outcome is ignored. */
  abandoned?: boolean;
}

export interface WorkerHandleEvents {
  /** Outcomes of calls, in the order the worker finished them. */
  onOutcomes(handle: WorkerHandle, outcomes: { call: InFlight; outcome: RunOutcome }[]): void;
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
  readonly #byCallId = new Map<number, InFlight>();
  readonly #worker: Worker;
  readonly #remote: Remote<WorkerApi>;
  /** The hot path: run/abort out, outcomes/progress in, one plain message each (see protocol.ts). */
  readonly #port: MessagePort;
  /** The port's other end, handed to the worker by the handshake. */
  #workerPort: MessagePort | undefined;
  readonly #events: WorkerHandleEvents;
  readonly #lockAbort = new AbortController();
  readonly #now: () => number;
  #nextCallId = 1;
  #exited = false;
  /** Tasks completed by this worker. */
  completed = 0;
  names: string[] = [];
  /** Set when the worker must get no more work (timed out, cancelled, closing). */
  doomed = false;

  constructor(id: number, factory: () => Worker, events: WorkerHandleEvents, now: () => number) {
    this.id = id;
    this.#events = events;
    this.#now = now;
    this.#worker = factory();
    this.#remote = wrap<WorkerApi>(this.#worker);
    const channel = new MessageChannel();
    this.#port = channel.port1;
    this.#workerPort = channel.port2;
  }

  #onReport(report: PortReport): void {
    if (report.type === 'done') this.#onDone(report.outcomes);
    else {
      const call = this.#byCallId.get(report.callId);
      if (call && !call.abandoned) this.#events.onProgress(this, call, report.value);
    }
  }

  #post(message: PortRequest): void {
    this.#port.postMessage(message);
  }

  /** Resolves once the worker loaded and answered; rejects with WorkerLoadError otherwise. */
  start(timeoutMs: number): Promise<HandshakeReply> {
    return new Promise<HandshakeReply>((resolve, reject) => {
      let settled = false;
      const lockName = `tasklane:worker:${instance}:${++lockCounter}`;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#exit(error, false);
        reject(error);
      };
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
      this.#port.onmessage = (event: MessageEvent<PortReport>) => this.#onReport(event.data);
      this.#port.onmessageerror = () => {
        this.#exit(new WorkerCrashedError(`worker ${this.id} sent a message that could not be deserialized`), false);
      };
      const port = this.#workerPort as MessagePort;
      this.#workerPort = undefined;
      this.#remote.hello(lockName, transfer(port, [port])).then(
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

  /** Sends calls; they run in order after what the worker already has. */
  send(requests: Omit<RunRequest, 'callId'>[]): InFlight[] {
    const batch: RunRequest[] = [];
    const sent: InFlight[] = [];
    const wasIdle = this.calls.length === 0;
    for (const r of requests) {
      const request = { ...r, callId: this.#nextCallId++ } as RunRequest;
      const call: InFlight = { request };
      this.calls.push(call);
      this.#byCallId.set(request.callId, call);
      batch.push(request);
      sent.push(call);
    }
    if (wasIdle && this.calls[0]) this.calls[0].startedAt = this.#now();
    this.state = 'busy';
    this.#post({ type: 'run', batch });
    return sent;
  }

  abort(call: InFlight, reason: SerializedError): void {
    call.abandoned = true;
    if (!this.#exited) this.#post({ type: 'abort', callId: call.request.callId, reason });
  }

  #onDone(outcomes: RunOutcome[]) {
    if (this.#exited) return;
    const now = this.#now();
    const finished: { call: InFlight; outcome: RunOutcome }[] = [];
    // Calls finish in order: count the finished ones off the front and drop them in one splice.
    let done = 0;
    for (const outcome of outcomes) {
      const call = this.#byCallId.get(outcome.callId);
      if (!call) continue;
      this.#byCallId.delete(outcome.callId);
      if (this.calls[done] === call) done++;
      else {
        const index = this.calls.indexOf(call, done);
        if (index >= 0) this.calls.splice(index, 1);
      }
      this.completed++;
      finished.push({ call, outcome });
    }
    if (done > 0) this.calls.splice(0, done);
    const head = this.calls[0];
    if (head && head.startedAt === undefined) head.startedAt = now;
    if (this.calls.length === 0 && this.state === 'busy') {
      this.state = 'idle';
    }
    this.#events.onOutcomes(this, finished);
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
    this.#port.close();
    const calls = this.calls.splice(0);
    this.#byCallId.clear();
    this.#events.onExit(this, error, calls, expected);
  }
}
