/** An `enqueueMany` call's items read into a `Batch`: validated, ids minted, tasks held as columns until a record is needed. */
import type { Clock } from '../clock.js';
import { IdMinter, type MintedIds, mintedId } from '../id-run.js';
import type { NewTasks } from '../index-entry.js';
import type { LazyBatch } from '../lazy-run.js';
import type { EnqueueItem } from '../scheduler-api.js';
import type { TaskMap } from '../task-types.js';
import type { EnqueueOptions, TaskRecord } from '../types.js';
import { assertCloneable, describe, optionKeys, unknownOption } from '../validate.js';
import { yieldToEventLoop } from '../yield.js';
import type { LiveTasks } from './live-tasks.js';
import { checkTaskName, hasTags, type NormalizedDefaults, newRecord, settingsOf, type TaskSettings } from './task-settings.js';

/** The keys of an `enqueueMany` item. */
const ITEM_KEYS = optionKeys<EnqueueItem<TaskMap>>({ name: true, input: true, options: true, ref: true });

/** Distinct options objects one `enqueueMany` call remembers having validated. */
const OPTIONS_SEEN_MAX = 64;
/** Main-thread work `enqueueMany` does before it yields to the event loop, well under a 50 ms long task. */
export const SLICE_MS = 8;

/** An `enqueueMany` call's tasks, built before anything is stored: all in item order. */
export interface Batch {
  /** Items to take: ids and seqs are reserved for this many. */
  size: number;
  firstSeq: number;
  /** Where the ids come from: the i-th task has the i-th id minted from it. */
  minted: MintedIds;
  /** The clock reading every task of the batch was created at. */
  now: number;
  /**
   * The records, made as the items are read (in slices) for a store without `writeBatch`. Otherwise
   * undefined, and the store makes them (a graph's are made before the write).
   */
  records: TaskRecord[] | undefined;
  /** The tasks as columns, by position: no record exists until one is needed. */
  ids: string[];
  names: string[];
  inputs: unknown[];
  settings: TaskSettings[];
  /** Some item has a `ref` or `dependsOn`: the batch is a graph, its records made eagerly. */
  graph: boolean;
  /** Some item has gate tags (`requires`, `group`, `exclusive`). */
  tagged: boolean;
  /** Each item's `ref`, by ref: its position. */
  refs: Map<string, number> | undefined;
}

/** What reading a batch needs of the scheduler. */
export interface BatchHost {
  readonly clock: Clock;
  readonly defaults: NormalizedDefaults;
  /** Where a task's own `retry.fn` is kept, by id, as its item is read. */
  readonly live: Pick<LiveTasks, 'backoffFns'>;
}

/**
 * An empty batch of `size` items, whose seqs (from `firstSeq`) and ids (from `minted`) the caller
 * has reserved. `eager`: records are made as the items are read (a store without `writeBatch`).
 */
export function newBatch(size: number, firstSeq: number, minted: MintedIds, eager: boolean): Batch {
  return {
    size,
    firstSeq,
    minted,
    now: 0,
    records: eager ? [] : undefined,
    ids: [],
    names: [],
    inputs: [],
    settings: [],
    graph: false,
    tagged: false,
    refs: undefined,
  };
}

/**
 * An own key of an `enqueueMany` item that is none of name, input, options, ref; else `'ref'` if it
 * has one; else undefined. Small and apart from the batch loop, so V8 optimises it on its own: one
 * enum-cache walk per item.
 */
function extraItemKey(item: object): string | undefined {
  let ref: string | undefined;
  for (const key in item)
    if (key !== 'name' && key !== 'input' && key !== 'options' && Object.hasOwn(item, key)) {
      if (key !== 'ref') return key;
      ref = key;
    }
  return ref;
}

/** Drops a deleted task's input from its batch's column, which must not keep it alive (nor hold `batch`). */
function releaserOf(inputs: unknown[]): (i: number) => void {
  return (i) => {
    inputs[i] = undefined;
  };
}

/** A batch's task names by position, for a store to filter by name without making records (nor holding `batch`). */
function namesOf(names: string[]): (i: number) => string {
  return (i) => names[i] as string;
}

/**
 * Validates every item and builds its record and id into `batch`, all at one clock
 * reading; returns the distinct task names. An options object shared by many items is validated
 * once. Throws, naming the item (`items[i]…`), at the first bad one.
 *
 * A long batch is worked through in slices of about SLICE_MS, yielding to the event loop between
 * them; items beyond `batch.size` (added to the array meanwhile) are not looked at.
 */
export async function prepareBatch(host: BatchHost, items: readonly EnqueueItem<TaskMap>[], batch: Batch): Promise<string[]> {
  const now = host.clock.now();
  batch.now = now;
  const backoffFns = host.live.backoffFns;
  const plain = settingsOf(host.defaults, undefined, now, '');
  const names = new Set<string>();
  let seen = new Map<object, TaskSettings>();
  let lastName: string | undefined;
  let sliceStart = performance.now();
  const ids = new IdMinter(batch.minted.prefix, batch.minted.first);
  for (let i = 0; i < batch.size; i++) {
    if ((i & 1023) === 1023 && performance.now() - sliceStart > SLICE_MS) {
      await yieldToEventLoop();
      sliceStart = performance.now();
      // The caller's code may have run: options objects are looked at afresh.
      seen = new Map();
      lastName = undefined;
    }
    const item = items[i] as EnqueueItem<TaskMap>;
    let settings = plain;
    try {
      if (typeof item !== 'object' || item === null) throw new TypeError(`Expected items[${i}] to be an object, got ${describe(item)}`);
      const extra = extraItemKey(item);
      if (extra !== undefined) {
        if (extra !== 'ref') throw unknownOption(`items[${i}]`, extra, ITEM_KEYS);
        noteRef(batch, (item as { ref?: unknown }).ref, i);
      }
      const o: unknown = item.options;
      if (o !== undefined) {
        const known = typeof o === 'object' && o !== null ? seen.get(o) : undefined;
        if (known) settings = known;
        else {
          settings = settingsOf(host.defaults, o, now, '');
          const { signal, key, keyTtlMs, onDuplicate } = o as EnqueueOptions;
          if (signal !== undefined || key !== undefined || keyTtlMs !== undefined || onDuplicate !== undefined)
            throw new TypeError(`Expected items[${i}].options to have no signal or key (use enqueue for those)`);
          if (seen.size < OPTIONS_SEEN_MAX) seen.set(o as object, settings);
        }
      }
      if (lastName === undefined || item.name !== lastName) {
        checkTaskName(item.name, '');
        names.add(item.name);
        lastName = item.name;
      }
      assertCloneable(item.input);
    } catch (error) {
      explainItem(host.defaults, item, i, now);
      throw error;
    }
    const id = ids.next();
    if (settings.dependsOn !== undefined) batch.graph = true;
    if (hasTags(settings)) batch.tagged = true;
    if (settings.retry.fn) backoffFns.set(id, settings.retry.fn);
    batch.ids.push(id);
    batch.names.push(item.name);
    batch.inputs.push(item.input);
    batch.settings.push(settings);
    batch.records?.push(newRecord(host.defaults, id, batch.firstSeq + i, item.name, item.input, settings, now));
  }
  // A graph's records are worked on before the write (their dependencies, their first status).
  if (batch.graph && !batch.records) {
    const make = recordMaker(host.defaults, batch);
    batch.records = batch.ids.map((_, i) => make(i));
  }
  return [...names];
}

/** Checks an item's `ref` and keeps it (a graph batch). */
function noteRef(batch: Batch, ref: unknown, i: number): void {
  if (typeof ref !== 'string' || ref === '') throw new TypeError(`Expected items[${i}].ref to be a non-empty string, got ${describe(ref)}`);
  const refs = (batch.refs ??= new Map());
  const first = refs.get(ref);
  if (first !== undefined)
    throw new TypeError(`Expected items[${i}].ref to be unique in the batch, got ${describe(ref)} (items[${first}].ref too)`);
  refs.set(ref, i);
  batch.graph = true;
}

/** Re-validates a bad item with its position in every message, and throws the first error found. */
function explainItem(defaults: NormalizedDefaults, item: unknown, i: number, now: number): void {
  if (typeof item !== 'object' || item === null) return;
  const { name, input, options } = item as EnqueueItem<TaskMap>;
  settingsOf(defaults, options, now, `items[${i}].options`);
  checkTaskName(name, `items[${i}].name`);
  assertCloneable(input, `items[${i}].input`);
}

/**
 * Makes the batch's records by position, as `Admission`'s `#prepare` would have built them. It
 * holds the columns only, not `ids` (that array goes to the caller): an id is minted again when its
 * record is made.
 */
export function recordMaker(defaults: NormalizedDefaults, batch: Batch): (i: number) => TaskRecord {
  const { minted, firstSeq, now, names, inputs, settings } = batch;
  return (i) => newRecord(defaults, mintedId(minted, i), firstSeq + i, names[i] as string, inputs[i], settings[i], now);
}

/** The batch as a store's `writeBatch` takes it: records made on demand, a deleted task's input dropped. */
export function lazyBatch(defaults: NormalizedDefaults, batch: Batch): LazyBatch<TaskRecord> {
  return {
    ...batch.minted,
    size: batch.size,
    make: recordMaker(defaults, batch),
    release: releaserOf(batch.inputs),
    nameOf: namesOf(batch.names),
  };
}

/** The batch's tasks as the index's `addBatch` takes them, read from the columns by position. */
export function indexColumns(batch: Batch): NewTasks {
  const settings = batch.settings;
  return {
    size: batch.size,
    id: (i) => batch.ids[i] as string,
    name: (i) => batch.names[i] as string,
    priority: (i) => (settings[i] as TaskSettings).priority,
    runAt: (i) => (settings[i] as TaskSettings).runAt,
    seq: (i) => batch.firstSeq + i,
    group: (i) => (settings[i] as TaskSettings).group,
  };
}
