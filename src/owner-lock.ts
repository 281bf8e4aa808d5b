/**
 * Lease ownership across tabs, through the Web Locks API. A scheduler holds the lock
 * `tasklane:<name>:owner:<ownerId>` for its whole life; the browser releases it when the scheduler
 * closes or its page goes away (closed tab, crash, reload). So on open, a record left `running` by
 * an owner whose lock nobody holds belongs to a dead tab, whatever its lease time says.
 */

const prefix = (name: string) => `tasklane:${name}:owner:`;

export interface OwnerLock {
  /** The lock's full name. */
  readonly lockName: string;
  /** False where the Web Locks API is missing (then every other owner counts as dead). */
  readonly held: boolean;
  release(): void;
}

function locks(): LockManager | undefined {
  return typeof navigator !== 'undefined' ? navigator.locks : undefined;
}

/** Takes this owner's lock, resolving once it is granted (owner ids are unique, so at once). */
export async function acquireOwnerLock(name: string, owner: string): Promise<OwnerLock> {
  const lockName = prefix(name) + owner;
  const manager = locks();
  if (!manager) return { lockName, held: false, release() {} };
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  // A context that may not use locks (an opaque origin) refuses the request: run without one.
  const held = await new Promise<boolean>((granted) => {
    manager
      .request(lockName, () => {
        granted(true);
        return released;
      })
      .catch(() => granted(false));
  });
  return { lockName, held, release };
}

/**
 * Owners of `name` whose lock is held right now, in any tab or worker of this origin; undefined
 * where the Web Locks API is missing.
 */
export async function liveOwners(name: string): Promise<Set<string> | undefined> {
  const manager = locks();
  if (!manager) return undefined;
  const p = prefix(name);
  let snapshot: LockManagerSnapshot;
  try {
    snapshot = await manager.query();
  } catch {
    return undefined;
  }
  const owners = new Set<string>();
  for (const lock of snapshot.held ?? []) if (lock.name?.startsWith(p)) owners.add(lock.name.slice(p.length));
  return owners;
}
