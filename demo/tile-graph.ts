import type { EnqueueItem, PriorityName, Scheduler } from '../src/index.js';
import type { AssembleInput, Tasks } from './demo.worker.js';
import type { TileRequest } from './mandelbrot.js';

/** One tile to enqueue with the picture. */
export interface TileJob {
  tx: number;
  ty: number;
  priority: PriorityName;
  request: TileRequest;
}

/** A stored tile task the picture's `assemble` should also wait for (after a reload: one finished or still live). */
export interface StoredTile {
  id: string;
  tx: number;
  ty: number;
}

const THUMBNAIL_SCALE = 4;

/**
 * Runs `fn` holding the demo's render lock (a Web Lock), so two tabs never read and enqueue the same
 * picture at once: the one that changed the view enqueues it, the other then finds it stored.
 */
export function withRenderLock<R>(fn: () => Promise<R>): Promise<R> {
  return navigator.locks.request('tasklane-demo:render', fn) as unknown as Promise<R>;
}

/**
 * Enqueues the picture as one graph in one commit: a task per tile (each with a `ref`) and an
 * `assemble` task that depends on every one of them (`on: 'completion'`, so a failed tile leaves a
 * gap rather than no picture), and on `stored` tiles of the same picture by id.
 */
export async function enqueuePicture(
  scheduler: Scheduler<Tasks>,
  picture: { gen: number; width: number; height: number },
  jobs: readonly TileJob[],
  stored: readonly StoredTile[],
): Promise<{ tileIds: string[]; assembleId: string }> {
  const ref = (j: { tx: number; ty: number }) => `tile:${j.tx}:${j.ty}`;
  const input: AssembleInput = {
    ...picture,
    scale: THUMBNAIL_SCALE,
    tiles: [...jobs, ...stored].map((t) => [t.tx, t.ty]),
  };
  const items: EnqueueItem<Tasks>[] = jobs.map((job) => ({
    ref: ref(job),
    name: 'tile',
    input: job.request,
    options: { priority: job.priority, timeoutMs: 20_000, retry: { attempts: 2, backoff: { kind: 'fixed', delayMs: 500 } } },
  }));
  items.push({
    name: 'assemble',
    input,
    options: { priority: 'high', dependsOn: [...jobs.map(ref), ...stored.map((t) => t.id)].map((id) => ({ id, on: 'completion' })) },
  });
  const ids = await scheduler.enqueueMany(items);
  return { tileIds: ids.slice(0, jobs.length), assembleId: ids[jobs.length] as string };
}

/**
 * The live `assemble` task of picture `gen`, if any, and which tile each of its dependencies is:
 * `list()` gives no inputs, so the tiles' places come from the assemble's own input, whose `tiles`
 * follow its `dependsOn` order.
 */
export async function findPicture(
  scheduler: Scheduler<Tasks>,
  gen: number,
): Promise<{ assembleId?: string; tiles: Map<string, { tx: number; ty: number }> }> {
  const tiles = new Map<string, { tx: number; ty: number }>();
  for (const task of await scheduler.list({ status: ['waiting', 'queued', 'retrying', 'running'], name: 'assemble', limit: 100 })) {
    const input = (await scheduler.inspect(task.id))?.input as AssembleInput | undefined;
    if (input?.gen !== gen) continue;
    task.dependsOn?.forEach((dep, i) => {
      const at = input.tiles[i];
      if (at) tiles.set(dep.id, { tx: at[0], ty: at[1] });
    });
    return { assembleId: task.id, tiles };
  }
  return { tiles };
}
