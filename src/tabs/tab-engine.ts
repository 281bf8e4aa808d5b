import type { MintedIds } from '../id-run.js';
import type { EnqueueItem, Scheduler } from '../scheduler-api.js';
import type { TaskHandle } from '../task-handle.js';
import type { TaskMap } from '../task-types.js';
import type { EnqueueOptions } from '../types.js';

/** What the multi-tab front needs of the engine running the queue in the leader tab (the local scheduler). */
export interface TabEngine extends Scheduler<TaskMap> {
  /** `enqueue` under an id a follower minted. */
  _enqueueAs(id: string, name: string, input: unknown, options: EnqueueOptions | undefined): Promise<TaskHandle>;
  /** `enqueueMany` under ids a follower minted. */
  _enqueueManyAs(minted: MintedIds, items: readonly EnqueueItem<TaskMap>[]): Promise<string[]>;
  /** Whether a task with this id is live or stored. */
  _has(id: string): Promise<boolean>;
  /** Takes over handles this tab's callers held while another tab led. */
  _adopt(handles: readonly TaskHandle[]): Promise<void>;
  /** Forgets an adopted handle whose enqueue was refused. */
  _forget(id: string): void;
  /** Closes for the next leader: nothing cancelled, running tasks finish first. */
  _handOver(): Promise<void>;
}
