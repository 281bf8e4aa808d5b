import { deserializeError, LeaderUnavailableError } from '../errors.js';
import type { SerializedError } from '../types.js';
import type { Method, Outbox, ToFollowers } from './protocol.js';

/** A call this tab made that the leader has not answered yet. */
export interface PendingCall {
  rid: number;
  m: Method;
  a: unknown[];
  /** Epoch ms it was last sent: a leader that began serving after this never heard it. */
  sentAt: number;
  /** Ack deadline (epoch ms); Infinity once acked, or while the leader hands over. */
  deadline: number;
  decode: (value: unknown) => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** What the leader pushes to followers unasked: events and snapshots. */
export type Pushed = Exclude<ToFollowers, { t: 'ack' | 'reply' | 'leader' | 'leaving' }>;

/** What the follower's front does with what the leader pushes. */
export interface ClientHost {
  onLeader(since: number): void;
  onMessage(message: Pushed): void;
}

/** Errors of the platform come back as their own class, so `instanceof TypeError` holds across tabs too. */
export function errorFromWire(data: SerializedError): Error {
  if (data.name === 'TypeError' || data.name === 'RangeError') {
    const error = data.name === 'TypeError' ? new TypeError(data.message) : new RangeError(data.message);
    if (data.stack) error.stack = data.stack;
    return error;
  }
  return deserializeError(data);
}

/**
 * A follower tab's calls to the leader: each is acknowledged at once by a live leader, or rejects
 * with `LeaderUnavailableError` after `timeoutMs`; once acknowledged it waits for its answer, and a
 * call the leader left unanswered when it went away is sent again to the next one.
 */
export class TabClient {
  readonly #out: Outbox;
  readonly #id: string;
  readonly #timeoutMs: number;
  readonly #host: ClientHost;
  readonly #pending = new Map<number, PendingCall>();
  /** Calls not acknowledged yet, in send order (so their deadlines are in order too). */
  readonly #unacked = new Map<number, PendingCall>();
  #rid = 0;
  #timer?: ReturnType<typeof setTimeout>;
  #leaderSince: number | undefined;
  #handingOver = false;
  /** Epoch ms the leader was last heard from. */
  #heardAt = 0;
  #silenceTimer?: ReturnType<typeof setTimeout>;

  constructor(out: Outbox, id: string, timeoutMs: number, host: ClientHost) {
    this.#out = out;
    this.#id = id;
    this.#timeoutMs = timeoutMs;
    this.#host = host;
  }

  get leaderSince(): number | undefined {
    return this.#leaderSince;
  }

  get pending(): number {
    return this.#pending.size;
  }

  call(m: Method, a: unknown[], decode: (value: unknown) => unknown = (v) => v): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const now = Date.now();
      const call: PendingCall = {
        rid: ++this.#rid,
        m,
        a,
        sentAt: now,
        deadline: this.#handingOver ? Number.POSITIVE_INFINITY : now + this.#timeoutMs,
        decode,
        resolve,
        reject,
      };
      this.#pending.set(call.rid, call);
      this.#send(call, false);
    });
  }

  hello(): void {
    this.#out.post({ t: 'hello' });
  }

  onMessage(message: ToFollowers): void {
    this.#heardAt = Date.now();
    switch (message.t) {
      case 'alive':
        return;
      case 'leader':
        if (message.since !== this.#leaderSince) this.#newLeader(message.since);
        return;
      case 'leaving':
        // Calls wait for the next leader: the browser hands the lock to a waiting tab.
        this.#handingOver = true;
        for (const call of this.#unacked.values()) call.deadline = Number.POSITIVE_INFINITY;
        return;
      case 'ack':
        if (message.to !== this.#id) return;
        for (const rid of message.rids) {
          const call = this.#unacked.get(rid);
          if (call) {
            call.deadline = Number.POSITIVE_INFINITY;
            this.#unacked.delete(rid);
          }
        }
        this.#armSilence();
        return;
      case 'reply': {
        if (message.to !== this.#id) return;
        const call = this.#pending.get(message.rid);
        if (!call) return;
        this.#pending.delete(message.rid);
        this.#unacked.delete(message.rid);
        if (message.ok) {
          let value: unknown;
          try {
            value = call.decode(message.v);
          } catch (error) {
            call.reject(error);
            return;
          }
          call.resolve(value);
        } else call.reject(errorFromWire(message.e));
        return;
      }
      default:
        this.#host.onMessage(message);
    }
  }

  /** Takes every unanswered call (this tab becomes the leader and answers them itself). */
  takePending(): PendingCall[] {
    const calls = [...this.#pending.values()];
    this.#pending.clear();
    this.#unacked.clear();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    clearTimeout(this.#silenceTimer);
    this.#silenceTimer = undefined;
    return calls;
  }

  /** Rejects every unanswered call with the error `errorOf` gives (`acked`: the leader had taken it). */
  refuseAll(errorOf: (m: Method, acked: boolean) => Error): void {
    const unacked = new Set(this.#unacked.keys());
    for (const call of this.takePending()) call.reject(errorOf(call.m, !unacked.has(call.rid)));
  }

  /** Rejects what is still waiting with `error` and stops. */
  close(error: Error): void {
    for (const call of this.takePending()) call.reject(error);
  }

  /**
   * An acknowledged call waits for its answer while the leader is heard from (any message, or its
   * `alive` while it works). Silent for `timeoutMs`, it is taken for frozen: the call rejects
   * with `LeaderUnavailableError`, saying it may still be applied. `drain` waits as long as the queue takes.
   */
  #armSilence(): void {
    if (this.#silenceTimer !== undefined || this.#handingOver) return;
    this.#silenceTimer = setTimeout(
      () => {
        this.#silenceTimer = undefined;
        const silentMs = Date.now() - this.#heardAt;
        let waiting = false;
        for (const call of [...this.#pending.values()]) {
          if (call.deadline !== Number.POSITIVE_INFINITY || call.m === 'drain') continue;
          if (silentMs < this.#timeoutMs || this.#handingOver) {
            waiting = true;
            continue;
          }
          this.#pending.delete(call.rid);
          call.reject(
            new LeaderUnavailableError(
              `the tab leading the queue took ${call.m}() and then went silent for ${silentMs} ms (frozen or gone); it may still apply it when it wakes`,
            ),
          );
        }
        if (waiting) this.#armSilence();
      },
      Math.max(1, this.#timeoutMs - (Date.now() - this.#heardAt)),
    );
  }

  #newLeader(since: number): void {
    this.#leaderSince = since;
    this.#handingOver = false;
    this.#host.onLeader(since);
    // A call sent before this leader served could not reach it; the one before may have applied it.
    const now = Date.now();
    for (const call of this.#pending.values()) if (call.sentAt <= since) this.#send(call, true, now);
  }

  #send(call: PendingCall, resent: boolean, now = Date.now()): void {
    if (resent) {
      call.sentAt = now;
      call.deadline = now + this.#timeoutMs;
      this.#unacked.delete(call.rid);
    }
    this.#unacked.set(call.rid, call);
    this.#out.post({ t: 'call', rid: call.rid, m: call.m, a: call.a, resent: resent || undefined, deadline: call.deadline });
    this.#arm();
  }

  /** One timer for all deadlines, set for the earliest one (sends come in deadline order, so it is the first but after a hand-over). */
  #arm(): void {
    if (this.#timer !== undefined) return;
    let soonest = Number.POSITIVE_INFINITY;
    for (const call of this.#unacked.values()) {
      if (call.deadline < soonest) soonest = call.deadline;
      if (soonest !== Number.POSITIVE_INFINITY) break;
    }
    if (soonest === Number.POSITIVE_INFINITY) return;
    this.#timer = setTimeout(() => this.#expire(), Math.max(0, soonest - Date.now()) + 1);
  }

  #expire(): void {
    this.#timer = undefined;
    const now = Date.now();
    for (const call of [...this.#unacked.values()]) {
      if (call.deadline > now) continue;
      this.#unacked.delete(call.rid);
      this.#pending.delete(call.rid);
      call.reject(
        new LeaderUnavailableError(
          `the tab leading the queue did not answer ${call.m}() within ${this.#timeoutMs} ms (frozen, busy or gone); nothing was applied`,
        ),
      );
    }
    this.#arm();
  }
}
