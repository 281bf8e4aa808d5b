import { StorageError } from './errors.js';
import { MemoryStore } from './memory-store.js';
import type { TaskStore } from './store.js';
import { describe } from './validate.js';

export interface StoreChoice {
  /** The database name, for the IndexedDB store. */
  name: string;
  /** @default 'indexeddb' */
  store?: 'indexeddb' | 'memory' | TaskStore;
  /** @default 'relaxed' */
  durability?: 'relaxed' | 'strict';
  /** Ask the browser for persistent storage (`navigator.storage.persist()`). @default false */
  persist?: boolean;
}

/**
 * The store a scheduler runs on. `'indexeddb'` (the default) falls back to a `MemoryStore` where
 * IndexedDB is unavailable (no `indexedDB`, an opaque origin, a browser that refuses it in private
 * mode), and says so through `warn`: the queue then works but does not survive a reload. A
 * database made by a newer tasklane (`VersionError`) is no reason to drop durability silently: that
 * rejects with the `StorageError`.
 */
/** Throws the named TypeError of a bad `store`, `durability` or `persist`, before anything is started. */
export function checkStoreChoice(choice: StoreChoice): void {
  const { store } = choice;
  if (choice.persist !== undefined && typeof choice.persist !== 'boolean')
    throw new TypeError(`Expected options.persist to be a boolean, got ${describe(choice.persist)}`);
  const own = typeof store === 'object' && store !== null && typeof (store as TaskStore).write === 'function';
  if (!own && store !== undefined && store !== 'memory' && store !== 'indexeddb')
    throw new TypeError(`Expected options.store to be 'indexeddb', 'memory' or a TaskStore, got ${describe(store)}`);
  const durability = choice.durability ?? 'relaxed';
  if (durability !== 'relaxed' && durability !== 'strict')
    throw new TypeError(`Expected options.durability to be 'relaxed' or 'strict', got ${describe(durability)}`);
}

export async function openStore(choice: StoreChoice, warn: (error: Error) => void): Promise<TaskStore> {
  checkStoreChoice(choice);
  const { store } = choice;
  if (store === 'memory') return new MemoryStore();
  if (typeof store === 'object' && store !== null && typeof (store as TaskStore).write === 'function') {
    // A store of the caller's that reports warnings (an IdbStore opened on a Storage Bucket, say) reports them as the scheduler's.
    if ('onwarning' in store && store.onwarning === undefined) store.onwarning = warn;
    if (choice.persist && typeof (store as Partial<PersistenceNote>)._notePersisted === 'function')
      void askPersistence(store as unknown as PersistenceNote);
    return store;
  }
  const durability = choice.durability ?? 'relaxed';
  try {
    // Loaded on first use: an app on the memory store (or its own) does not load the IndexedDB code.
    const { openIdbStore } = await import('./idb-store.js');
    const opened = await openIdbStore(choice.name, { durability, onWarning: warn });
    if (choice.persist) void askPersistence(opened);
    return opened;
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause;
    if ((cause as DOMException | undefined)?.name === 'VersionError') throw error;
    warn(
      new StorageError(
        `IndexedDB is unavailable, so tasks are kept in memory only and will not survive a reload: ${(error as Error).message}`,
        { cause: error },
      ),
    );
    return new MemoryStore();
  }
}

/** A store that shows what the browser answered (the IndexedDB store; checked by shape, so this file does not load its code). */
interface PersistenceNote {
  _notePersisted(granted: boolean): void;
}

/**
 * Asks the browser to keep this origin's storage under pressure (`navigator.storage.persist()`),
 * without waiting (Firefox asks the user); what it answered shows in `metrics().storage.persisted`.
 * A browser without the API, or one that refuses to answer, counts as a no.
 */
async function askPersistence(store: PersistenceNote): Promise<void> {
  const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
  let granted = false;
  try {
    granted = typeof storage?.persist === 'function' ? await storage.persist() : false;
  } catch {
    // Refused without an answer: not persisted.
  }
  store._notePersisted(granted);
}
