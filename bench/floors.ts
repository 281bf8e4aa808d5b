/** The floors and peers, measured in the same page as tasklane. */
import { type Remote, wrap } from 'comlink';
import PQueue from 'p-queue';
import workerpool from 'workerpool';
import type { ComlinkApi } from './comlink.worker.js';
import wpWorkerUrl from './wp.worker.ts?worker&url';

export const now = (): number => performance.now();

// ── raw postMessage ──────────────────────────────────────────────────────────────────────────────

export interface RawPool {
  workers: Worker[];
  close(): void;
}

export async function rawPool(size: number): Promise<RawPool> {
  const workers: Worker[] = [];
  for (let i = 0; i < size; i++) workers.push(new Worker(new URL('./raw.worker.ts', import.meta.url), { type: 'module' }));
  // One round trip each: the module is loaded and answering.
  await Promise.all(workers.map((w) => rawRoundTrip(w)));
  return {
    workers,
    close: () => {
      for (const w of workers) w.terminate();
    },
  };
}

/** One no-op task there and back. */
export function rawRoundTrip(worker: Worker): Promise<void> {
  return roundTrip(worker, { id: 0, name: 'noop', input: null });
}

/** `message` there and the first answer back. */
function roundTrip(worker: Worker, message: unknown): Promise<void> {
  return new Promise((resolve) => {
    worker.onmessage = () => resolve();
    worker.postMessage(message);
  });
}

/** Sequential round trips to `worker`, the i-th posting `message(i)`; each one's latency in µs. Leaves `onmessage` unset. */
async function latencies(worker: Worker, n: number, message: (i: number) => unknown): Promise<number[]> {
  const out: number[] = new Array(n);
  try {
    for (let i = 0; i < n; i++) {
      const t0 = now();
      await roundTrip(worker, message(i));
      out[i] = (now() - t0) * 1000;
    }
  } finally {
    worker.onmessage = null;
  }
  return out;
}

/** `n` tasks, one message per task each way, all sent at once round-robin: the unbatched dispatch floor. Returns ms. */
export async function rawPipelined(pool: RawPool, n: number): Promise<number> {
  const { workers } = pool;
  let left = n;
  const done = new Promise<void>((resolve) => {
    for (const w of workers)
      w.onmessage = () => {
        if (--left === 0) resolve();
      };
  });
  const t0 = now();
  for (let i = 0; i < n; i++) (workers[i % workers.length] as Worker).postMessage({ id: i, name: 'noop', input: null });
  await done;
  return now() - t0;
}

/** `n` tasks sent `batch` to a message, round-robin, answered one message per batch: the batched floor. Returns ms. */
export async function rawBatched(pool: RawPool, n: number, batch: number): Promise<number> {
  const { workers } = pool;
  let left = n;
  const done = new Promise<void>((resolve) => {
    for (const w of workers)
      w.onmessage = (e: MessageEvent<unknown[]>) => {
        left -= e.data.length;
        if (left === 0) resolve();
      };
  });
  const t0 = now();
  let w = 0;
  for (let i = 0; i < n; i += batch) {
    const msg = [];
    for (let j = i; j < Math.min(n, i + batch); j++) msg.push({ id: j, name: 'noop', input: null });
    (workers[w++ % workers.length] as Worker).postMessage(msg);
  }
  await done;
  return now() - t0;
}

/**
 * Sequential round trips to the echo listener of a tasklane bench worker (`tasks.worker.ts`), on
 * the same thread as the tasks it runs; returns each one's latency in µs.
 */
export function echoLatencies(worker: Worker, n: number): Promise<number[]> {
  return latencies(worker, n, (i) => ({ echo: i }));
}

/** Sequential no-op round trips to one plain worker; returns each one's latency in µs. */
export function rawLatencies(worker: Worker, n: number): Promise<number[]> {
  return latencies(worker, n, () => ({ id: 0, name: 'noop', input: null }));
}

// ── raw Comlink ──────────────────────────────────────────────────────────────────────────────────

export interface ComlinkPool {
  remotes: Remote<ComlinkApi>[];
  close(): void;
}

export async function comlinkPool(size: number): Promise<ComlinkPool> {
  const workers: Worker[] = [];
  for (let i = 0; i < size; i++) workers.push(new Worker(new URL('./comlink.worker.ts', import.meta.url), { type: 'module' }));
  const remotes = workers.map((w) => wrap<ComlinkApi>(w));
  await Promise.all(remotes.map((r) => r.ready()));
  return {
    remotes,
    close: () => {
      for (const w of workers) w.terminate();
    },
  };
}

/** `n` calls through `Comlink.wrap`, all at once, round-robin. Returns ms. */
export async function comlinkPipelined(pool: ComlinkPool, n: number): Promise<number> {
  const { remotes } = pool;
  const t0 = now();
  const calls: Promise<null>[] = new Array(n);
  for (let i = 0; i < n; i++) calls[i] = (remotes[i % remotes.length] as Remote<ComlinkApi>).noop(null);
  await Promise.all(calls);
  return now() - t0;
}

// ── workerpool ───────────────────────────────────────────────────────────────────────────────────

export interface WorkerpoolPeer {
  exec(n: number): Promise<number>;
  close(): Promise<void>;
}

export async function workerpoolPeer(size: number): Promise<WorkerpoolPeer> {
  const pool = workerpool.pool(wpWorkerUrl, { maxWorkers: size, minWorkers: size, workerType: 'web', workerOpts: { type: 'module' } });
  const exec = async (n: number): Promise<number> => {
    const t0 = now();
    const calls: Promise<unknown>[] = new Array(n);
    for (let i = 0; i < n; i++) calls[i] = pool.exec('noop', [null]);
    await Promise.all(calls);
    return now() - t0;
  };
  await exec(size * 50);
  return {
    exec,
    close: async () => {
      await pool.terminate(true);
    },
  };
}

// ── p-queue ──────────────────────────────────────────────────────────────────────────────────────

/** Prioritised adds into a paused p-queue (priorities mapped so 0 stays most urgent). Returns ms. */
export function pQueueAdds(priorities: Uint8Array, n: number): number {
  const queue = new PQueue({ concurrency: 1, autoStart: false });
  const task = async () => null;
  const t0 = now();
  for (let i = 0; i < n; i++) void queue.add(task, { priority: 4 - (priorities[i] as number) });
  const ms = now() - t0;
  queue.clear();
  return ms;
}

// ── a bare binary heap ───────────────────────────────────────────────────────────────────────────

interface Node {
  id: number;
  priority: number;
  seq: number;
}

/** Creates and pushes `n` plain objects into a textbook array min-heap (priority, then seq). Returns ms. */
export function bareHeapPushes(priorities: Uint8Array, n: number): number {
  const heap: Node[] = [];
  const t0 = now();
  for (let i = 0; i < n; i++) {
    const node: Node = { id: i, priority: priorities[i] as number, seq: i };
    let index = heap.length;
    heap.push(node);
    while (index > 0) {
      const parentIndex = (index - 1) >>> 1;
      const parent = heap[parentIndex] as Node;
      if (parent.priority < node.priority || (parent.priority === node.priority && parent.seq < node.seq)) break;
      heap[parentIndex] = node;
      heap[index] = parent;
      index = parentIndex;
    }
  }
  const ms = now() - t0;
  if (heap.length !== n) throw new Error('heap lost nodes');
  return ms;
}

// ── raw IndexedDB ────────────────────────────────────────────────────────────────────────────────

/** A record of the same shape as tasklane's `TaskRecord` for a queued no-op. */
export function taskLikeRecord(i: number, at: number): Record<string, unknown> {
  return {
    id: `bench-${i.toString(36)}`,
    name: 'noop',
    input: null,
    priority: 2,
    runAt: at,
    seq: i,
    status: 'queued',
    attempt: 0,
    retry: { attempts: 3, backoff: { kind: 'exponential', delayMs: 1000, maxMs: 60000, factor: 2, jitter: false } },
    timeoutMs: 30000,
    errors: [],
    createdAt: at,
    stalls: 0,
  };
}

export function openRawDb(name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name, 1);
    req.onupgradeneeded = () => req.result.createObjectStore('tasks', { keyPath: 'id' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

export function deleteDb(name: string): Promise<void> {
  return new Promise((resolve) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = () => resolve();
    req.onerror = () => resolve();
    req.onblocked = () => resolve();
  });
}

function commit(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('transaction aborted'));
  });
}

/**
 * Puts all `records` in one readwrite transaction; resolves when it commits. Durability `relaxed`,
 * as tasklane's store uses by default.
 */
export async function idbPutAll(db: IDBDatabase, records: readonly Record<string, unknown>[]): Promise<void> {
  const tx = db.transaction('tasks', 'readwrite', { durability: 'relaxed' });
  const store = tx.objectStore('tasks');
  for (const r of records) store.put(r);
  await commit(tx);
}

export async function idbDeleteAll(db: IDBDatabase, ids: readonly string[]): Promise<void> {
  const tx = db.transaction('tasks', 'readwrite', { durability: 'relaxed' });
  const store = tx.objectStore('tasks');
  for (const id of ids) store.delete(id);
  await commit(tx);
}

/** The naive queue: each record put in its own transaction, then deleted in its own, one after another. */
export async function idbOneTxnPerRecord(db: IDBDatabase, records: readonly Record<string, unknown>[]): Promise<void> {
  for (const r of records) {
    const put = db.transaction('tasks', 'readwrite', { durability: 'relaxed' });
    put.objectStore('tasks').put(r);
    await commit(put);
    const del = db.transaction('tasks', 'readwrite', { durability: 'relaxed' });
    del.objectStore('tasks').delete(r.id as string);
    await commit(del);
  }
}
