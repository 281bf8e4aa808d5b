import type { EnqueueItem } from '../scheduler-api.js';
import type { TaskMap } from '../task-types.js';

/**
 * A follower's `enqueueMany` items as they cross to the leader: in columns, not as one object per
 * item. Structured clone writes and reads every object's keys, so 20,000 `{ name, input }` cost
 * about 5 ms to post, 4.5 ms to read and their garbage in the leader; as columns (names as runs,
 * inputs, and options and refs only where some item has them) a fraction of that.
 */
export interface ItemColumns {
  /** Names as runs: name, count, name, count… */
  names: (string | number)[];
  inputs: unknown[];
  options?: unknown[];
  /** The items that have a `ref` (their positions, ascending) and their refs. */
  refAt?: number[];
  refs?: unknown[];
}

/**
 * `items` in columns, or undefined when some item is not a plain `{ name, input, options?, ref? }`
 * (not an object, or with another key): those go as they are, for the leader to name the bad item.
 */
export function toColumns(items: readonly EnqueueItem<TaskMap>[]): ItemColumns | undefined {
  const n = items.length;
  const names: (string | number)[] = [];
  const inputs = new Array<unknown>(n);
  let options: unknown[] | undefined;
  let refAt: number[] | undefined;
  let refs: unknown[] | undefined;
  let last: unknown;
  for (let i = 0; i < n; i++) {
    const item = items[i] as EnqueueItem<TaskMap> & { ref?: unknown };
    if (typeof item !== 'object' || item === null) return undefined;
    for (const key in item)
      if (key !== 'name' && key !== 'input' && key !== 'options' && key !== 'ref' && Object.hasOwn(item, key)) return undefined;
    const name = item.name;
    if (typeof name !== 'string') return undefined;
    if (i > 0 && name === last) (names[names.length - 1] as number)++;
    else names.push(name, 1);
    last = name;
    inputs[i] = item.input;
    if (item.options !== undefined) (options ??= new Array<unknown>(n))[i] = item.options;
    if (Object.hasOwn(item, 'ref')) {
      (refAt ??= []).push(i);
      (refs ??= []).push(item.ref);
    }
  }
  const columns: ItemColumns = { names, inputs };
  if (options) columns.options = options;
  if (refAt) {
    columns.refAt = refAt;
    columns.refs = refs;
  }
  return columns;
}

/** The items `toColumns` took in, each a fresh `{ name, input, options?, ref? }`. */
export function fromColumns(columns: ItemColumns): EnqueueItem<TaskMap>[] {
  const { names, inputs, options, refAt, refs } = columns;
  const items = new Array<EnqueueItem<TaskMap>>(inputs.length);
  let i = 0;
  for (let r = 0; r < names.length; r += 2) {
    const name = names[r] as string;
    const end = i + (names[r + 1] as number);
    for (; i < end; i++) {
      const item: EnqueueItem<TaskMap> & { ref?: unknown } = { name, input: inputs[i] };
      if (options?.[i] !== undefined) item.options = options[i] as EnqueueItem<TaskMap>['options'];
      items[i] = item;
    }
  }
  if (refAt) for (let k = 0; k < refAt.length; k++) (items[refAt[k] as number] as { ref?: unknown }).ref = refs?.[k];
  return items;
}
