import { serializeError, TabVersionError } from '../errors.js';
import { TaskEvent, WarningEvent, WorkerEvent } from '../events.js';
import { type MintedIds, mintedId } from '../id-run.js';
import type { ScheduleSpec } from '../schedule-types.js';
import type { EnqueueItem } from '../scheduler-api.js';
import { TaskHandle } from '../task-handle.js';
import type { TaskMap } from '../task-types.js';
import type { EnqueueOptions, PriorityLevel, PriorityName } from '../types.js';
import { fromColumns, type ItemColumns } from './item-wire.js';
import {
  HANDLE_EVENTS,
  type HandleWire,
  type Interest,
  type Message,
  type Method,
  type Outbox,
  PROTOCOL_VERSION,
  type Snapshot,
  type ToLeader,
} from './protocol.js';
import type { TabEngine } from './tab-engine.js';

const TERMINAL: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled', 'skipped']);

/** A call heard this close to its ack deadline is ignored: the ack might arrive after the caller gave up. */
const ACK_MARGIN_MS = 250;

/**
 * While calls are in flight the leader says so this often: a follower that hears nothing from it for
 * its `leaderTimeoutMs` takes it for frozen. A background tab's timers run at most once a second.
 */
const ALIVE_MS = 1_000;

/** Snapshots for followers go out at most this often (a panel re-renders per frame at most anyway). */
const SNAPSHOT_MS = 100;

/**
 * Applies one call a follower made (or this tab made while it followed) to the engine. A call
 * `resent` after a change of leader is applied only if it was not: an enqueue whose id is stored
 * already answers with that task.
 */
export async function applyCall(engine: TabEngine, m: Method, a: unknown[], resent: boolean): Promise<unknown> {
  switch (m) {
    case 'enqueue': {
      const [id, name, input, options] = a as [string, string, unknown, EnqueueOptions | undefined];
      if (resent && (await engine._has(id))) return engine.get(id);
      return engine._enqueueAs(id, name, input, options);
    }
    case 'enqueueMany': {
      const [minted, sent] = a as [MintedIds, EnqueueItem<TaskMap>[] | ItemColumns];
      const items = Array.isArray(sent) ? sent : fromColumns(sent);
      // All of a batch is stored or none: its first id tells.
      if (resent && items.length > 0 && (await engine._has(mintedId(minted, 0)))) return items.map((_, i) => mintedId(minted, i));
      return engine._enqueueManyAs(minted, items);
    }
    case 'get':
      return engine.get(a[0] as string);
    case 'inspect':
      return engine.inspect(a[0] as string);
    case 'list':
      return engine.list(a[0] as never);
    case 'cancel':
      return engine.cancel(a[0] as string, a[1] as string | undefined);
    case 'retry':
      return engine.retry(a[0] as string);
    case 'reprioritize':
      return engine.reprioritize(a[0] as string, a[1] as PriorityName | PriorityLevel);
    case 'discard':
      return engine.discard(a[0] as string);
    case 'pause':
      return engine.pause();
    case 'resume':
      return engine.resume();
    case 'drain':
      return engine.drain();
    case 'resize':
      return engine.resize(a[0] as { max?: number; min?: number });
    case 'schedule':
      return engine.schedule(a[0] as string, a[1] as string, a[2], a[3] as ScheduleSpec);
    case 'unschedule':
      return engine.unschedule(a[0] as string);
    case 'schedules':
      return engine.schedules();
    case 'watch':
      return Promise.all((a as string[]).map((id) => engine.get(id)));
  }
}

/** A handle as a follower rebuilds it: its state now, and how it ended if it has. */
export function handleWire(handle: TaskHandle): HandleWire {
  const outcome = handle._outcome();
  const wire: HandleWire = { id: handle.id, name: handle.name, status: handle.status };
  if (outcome) wire.outcome = outcome.ok ? { ok: true, value: outcome.value } : { ok: false, error: serializeError(outcome.value) };
  return wire;
}

interface Follower {
  types: ReadonlySet<string>;
  snap: boolean;
  lanes: number;
}

/**
 * The leader tab's side of the channel: answers followers' calls with the engine, forwards the
 * events they listen for (and those their handles need), and pushes snapshots for their sync reads.
 * The engine builds an event only when someone listens: `listens` is that question for the followers.
 */
export class TabHost {
  readonly #engine: TabEngine;
  readonly #out: Outbox;
  readonly #since: number;
  readonly #followers = new Map<string, Follower>();
  /** Event type → how many followers listen. */
  readonly #types = new Map<string, number>();
  /** Tasks some follower holds a handle for; an id goes when its task ends. */
  readonly #watched = new Set<string>();
  #snapWanted = 0;
  #lanes = 0;
  #snapAt = 0;
  #snapTimer?: ReturnType<typeof setTimeout>;
  #serving = true;
  #frozen = false;
  /** Calls acknowledged and not answered yet; while there are some, an `alive` goes out every ALIVE_MS. */
  #inFlight = 0;
  #aliveTimer?: ReturnType<typeof setTimeout>;

  constructor(engine: TabEngine, out: Outbox, since: number) {
    this.#engine = engine;
    this.#out = out;
    this.#since = since;
  }

  announce(): void {
    this.#out.post({ t: 'leader', since: this.#since });
  }

  /** Stops answering and tells followers to wait for the next leader. */
  leave(): void {
    if (!this.#serving) return;
    this.#serving = false;
    this.#out.post({ t: 'leaving' });
    clearTimeout(this.#snapTimer);
  }

  /**
   * The page is frozen (the Page Lifecycle `freeze` event) or back (`resume`). Chromium still runs a
   * frozen page's BroadcastChannel handler, but not its IndexedDB callbacks or timers: a call taken
   * then would be acknowledged and not answered until the thaw. Frozen, the host takes no calls,
   * so a follower is told `LeaderUnavailableError` with nothing applied.
   */
  setFrozen(frozen: boolean): void {
    this.#frozen = frozen;
  }

  /** Whether some follower needs events of `type`. */
  listens(type: string): boolean {
    return this.#types.has(type) || (this.#watched.size > 0 && HANDLE_EVENTS.has(type)) || (this.#snapWanted > 0 && type === 'state');
  }

  onMessage(from: string, message: ToLeader): void {
    if (!this.#serving || this.#frozen) return;
    switch (message.t) {
      case 'hello':
        this.announce();
        this.#sendSnapshot();
        return;
      case 'bye':
        this.#setInterest(from, undefined);
        return;
      case 'interest':
        this.#setInterest(from, message);
        if (message.snap) this.#sendSnapshot();
        return;
      case 'call': {
        // Too late to be sure the caller's ack arrives before its deadline: it is told nothing was applied, so nothing is.
        if (Date.now() > message.deadline - ACK_MARGIN_MS) return;
        this.#out.post({ t: 'ack', to: from, rids: [message.rid] });
        const { rid, m, a } = message;
        if (m === 'enqueue') this.#watched.add(a[0] as string);
        else if (m === 'watch') for (const id of a as string[]) this.#watched.add(id);
        this.#started();
        applyCall(this.#engine, m, a, message.resent === true)
          .finally(() => this.#finished())
          .then(
            (value) => {
              if (value instanceof TaskHandle) {
                const wire = handleWire(value);
                if (wire.outcome) this.#watched.delete(wire.id);
                else this.#watched.add(wire.id);
                value = wire;
              } else if (m === 'enqueueMany') {
                // The follower minted the ids: the count is all it needs back (20k ids not cloned twice).
                value = (value as string[]).length;
              } else if (m === 'watch') {
                const wires = (value as (TaskHandle | undefined)[]).map((h, i) => (h ? handleWire(h) : { id: a[i] as string, gone: true }));
                for (const wire of wires) if ('gone' in wire || wire.outcome) this.#watched.delete(wire.id);
                value = wires;
              }
              this.#out.post({ t: 'reply', to: from, rid, ok: true, v: value });
              this.#snapshotSoon();
            },
            (error: unknown) => {
              if (m === 'enqueue') this.#watched.delete(a[0] as string);
              this.#out.post({ t: 'reply', to: from, rid, ok: false, e: serializeError(error) });
            },
          );
        return;
      }
    }
  }

  /**
   * A message from a tab of another protocol version (`version`): its calls are refused with the
   * reply every version reads, nothing applied; its `hello` is answered, so it learns who leads.
   */
  onForeign(from: string, message: Message, version: number): void {
    if (!this.#serving || this.#frozen) return;
    if (message.t === 'hello') this.announce();
    if (message.t !== 'call') return;
    const error = new TabVersionError(
      `the tab leading queue "${this.#engine.name}" runs tasklane tab protocol v${PROTOCOL_VERSION} and this tab v${version}: the call ${message.m}() was refused, nothing applied; reload the tab with the older build`,
    );
    this.#out.post({ t: 'reply', to: from, rid: message.rid, ok: false, e: serializeError(error) });
  }

  /** An event the engine dispatched (only of types `listens` said yes to, or this tab's own listeners'). */
  forward(event: Event): void {
    if (!this.#serving || this.#followers.size === 0) return;
    if (event instanceof TaskEvent) {
      const type = event.type;
      const forHandle = HANDLE_EVENTS.has(type) && this.#watched.has(event.task.id);
      if (forHandle && TERMINAL.has(type)) this.#watched.delete(event.task.id);
      if (!forHandle && !this.#types.has(type)) return;
      this.#out.post({
        t: 'task',
        type: event.type,
        task: event.task,
        error: event.error ? serializeError(event.error) : undefined,
        progress: event.progress,
        delayMs: event.delayMs,
      });
    } else if (event instanceof WorkerEvent) {
      if (!this.#types.has('worker')) return;
      this.#out.post({
        t: 'worker',
        workerId: event.workerId,
        state: event.state,
        taskId: event.taskId,
        error: event.error ? serializeError(event.error) : undefined,
      });
    } else if (event instanceof WarningEvent) {
      if (this.#types.has('warning')) this.#out.post({ t: 'warning', error: serializeError(event.error) });
    } else if (event.type === 'state') {
      this.#out.post({ t: 'state', paused: this.#engine.paused });
    } else if (event.type === 'schedules') {
      if (this.#types.has('schedules')) this.#out.post({ t: 'schedules' });
    }
    this.#snapshotSoon();
  }

  stop(): void {
    this.#serving = false;
    clearTimeout(this.#snapTimer);
    clearTimeout(this.#aliveTimer);
  }

  #started(): void {
    if (this.#inFlight++ === 0) this.#armAlive();
  }

  #finished(): void {
    if (--this.#inFlight === 0) {
      clearTimeout(this.#aliveTimer);
      this.#aliveTimer = undefined;
    }
  }

  #armAlive(): void {
    this.#aliveTimer = setTimeout(() => {
      if (!this.#serving || this.#inFlight === 0) return;
      this.#out.post({ t: 'alive' });
      this.#armAlive();
    }, ALIVE_MS);
  }

  #setInterest(from: string, interest: Interest | undefined): void {
    const old = this.#followers.get(from);
    if (old) {
      for (const type of old.types) {
        const n = (this.#types.get(type) ?? 1) - 1;
        if (n <= 0) this.#types.delete(type);
        else this.#types.set(type, n);
      }
      if (old.snap) this.#snapWanted--;
      this.#followers.delete(from);
    }
    if (!interest) return;
    const follower: Follower = { types: new Set(interest.types), snap: interest.snap, lanes: interest.lanes };
    this.#followers.set(from, follower);
    for (const type of follower.types) this.#types.set(type, (this.#types.get(type) ?? 0) + 1);
    if (follower.snap) this.#snapWanted++;
    this.#lanes = 0;
    for (const f of this.#followers.values()) if (f.snap && f.lanes > this.#lanes) this.#lanes = f.lanes;
  }

  /** A snapshot now if none went out lately, else one when the interval is up: the last state always arrives. */
  #snapshotSoon(): void {
    if (this.#snapWanted === 0 || this.#snapTimer !== undefined) return;
    const wait = this.#snapAt + SNAPSHOT_MS - performance.now();
    if (wait <= 0) this.#sendSnapshot();
    else
      this.#snapTimer = setTimeout(() => {
        this.#snapTimer = undefined;
        this.#sendSnapshot();
      }, wait);
  }

  #sendSnapshot(): void {
    if (!this.#serving || this.#engine.closed) return;
    this.#snapAt = performance.now();
    const engine = this.#engine;
    const snapshot: Snapshot = { t: 'snap', paused: engine.paused, metrics: engine.metrics(), workers: engine.workers() };
    if (this.#lanes > 0) snapshot.lanes = engine.peekLanes(this.#lanes);
    this.#out.post(snapshot);
  }
}
