import type { Clock } from '../clock.js';
import type { TaskIndex } from '../task-index.js';
import type { TaskRecord } from '../types.js';
import { ExclusiveGate } from './exclusive.js';
import type { DispatchGate } from './gates.js';
import { type GroupLimits, Limits } from './limits.js';
import { OnlineGate } from './online.js';
import type { GateTags } from './task-settings.js';

export interface GateSetHost {
  readonly clock: Clock;
  readonly index: TaskIndex;
  /** Whether the task is in the running set. */
  running(id: string): boolean;
  /** Whether the task is in the running set and its attempt's start has not been told yet. */
  unstarted(id: string): boolean;
  schedulePump(): void;
}

/**
 * The dispatch gates of one scheduler, and which live task each must know of. A gate joins the
 * list the dispatcher asks (`list`, shared with it) only when it can hold a task back: limits when
 * `limits` are configured, the online gate with the first online-only task, the lock gate with the
 * first `exclusive` task. A queue that uses none of them asks no gate at all.
 */
export class GateSet {
  /** The dispatcher's gates: the same array, grown here. */
  readonly list: DispatchGate[];
  readonly limits: Limits | undefined;
  readonly #host: GateSetHost;
  #online?: OnlineGate;
  #exclusive?: ExclusiveGate;

  constructor(host: GateSetHost, limits: ReadonlyMap<string, GroupLimits> | undefined, extra: readonly DispatchGate[] = []) {
    this.#host = host;
    this.list = [...extra];
    const reopen = (id: string, readyAt: number, now: number) => host.index.moveTo(id, readyAt, now);
    if (limits) {
      this.limits = new Limits(limits, { running: host.running, unstarted: host.unstarted, reopen, schedulePump: host.schedulePump });
      this.list.push(this.limits);
    }
  }

  /** A live task (admitted or recovered) with gate tags. */
  note(id: string, tags: GateTags): void {
    if (tags.requires === 'online') this.#onlineGate().note(id);
    // A task's limits group needs no noting: its index entry carries it (the index is made with `groups`).
    if (tags.exclusive !== undefined) this.#exclusiveGate().note(id, tags.exclusive);
  }

  /** A task ended. */
  finished(id: string): void {
    this.#online?.finished(id);
    this.#exclusive?.finished(id);
  }

  /** Task `id` of `group` (its group, else its name) reached the head of its worker at `at` (the start rate windows count). */
  started(id: string, group: string, at: number): void {
    this.limits?.started(id, group, at);
  }

  /** A handler threw `RateLimitedError`: the task's group waits until `until`. */
  rateLimited(record: TaskRecord, until: number): void {
    this.limits?.pauseGroup(record.group ?? record.name, until);
  }

  /** Whether a failed attempt of `record` is not counted: it needs the network and the browser is offline. */
  offline(record: TaskRecord): boolean {
    return record.requires === 'online' && !isOnline();
  }

  stop(): void {
    this.#online?.stop();
    this.#exclusive?.stop();
  }

  #onlineGate(): OnlineGate {
    if (this.#online) return this.#online;
    const host = this.#host;
    const gate = new OnlineGate({
      isOnline,
      onOnline: (listener) => {
        if (typeof globalThis.addEventListener !== 'function') return () => {};
        globalThis.addEventListener('online', listener);
        return () => globalThis.removeEventListener('online', listener);
      },
      readyNow: (ids) => {
        const at = host.clock.now();
        for (const id of ids) host.index.moveTo(id, at, at);
        host.schedulePump();
      },
    });
    this.list.push(gate);
    return (this.#online = gate);
  }

  #exclusiveGate(): ExclusiveGate {
    if (this.#exclusive) return this.#exclusive;
    const host = this.#host;
    const gate = new ExclusiveGate({
      request: requestLock,
      running: host.running,
      reopen: (id, readyAt, now) => host.index.moveTo(id, readyAt, now),
      now: () => host.clock.now(),
      schedulePump: host.schedulePump,
    });
    this.list.push(gate);
    return (this.#exclusive = gate);
  }
}

const isOnline = () => typeof navigator === 'undefined' || navigator.onLine !== false;

function requestLock(name: string, signal: AbortSignal, granted: (release: () => void) => void): void {
  navigator.locks
    .request(name, { mode: 'exclusive', signal }, () => new Promise<void>((release) => granted(release)))
    .catch(() => {
      // Aborted before it was granted: the gate gave the request up.
    });
}
