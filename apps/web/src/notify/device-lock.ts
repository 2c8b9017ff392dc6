/**
 * One browser profile holds one device: one MLS state in one IndexedDB
 * database. Two clients running on it at once (two tabs, or a tab and the
 * service worker woken by a push) would both advance the same groups and
 * corrupt them, so whoever runs a client holds this Web Lock for as long as
 * the client is open.
 */
export const DEVICE_LOCK = 'parley-device';

interface LockManagerLike {
  request<T>(name: string, options: { ifAvailable?: boolean; signal?: AbortSignal }, callback: (lock: unknown) => Promise<T> | T): Promise<T>;
}

function lockManager(): LockManagerLike | undefined {
  const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
  return nav?.locks;
}

export interface HeldLock {
  /** Lets the lock go (after the client and store are closed). */
  release(): void;
}

/**
 * Takes the device lock for a page: at once if it is free, else `onWaiting`
 * is called and the lock is taken as soon as its holder lets go (another tab
 * closes, the service worker finishes). Rejects with an AbortError when
 * `signal` aborts first. Without Web Locks (very old browsers) it resolves at
 * once: nothing better can be done there.
 */
export function holdDeviceLock(onWaiting: () => void, signal: AbortSignal): Promise<HeldLock> {
  const locks = lockManager();
  if (locks === undefined) return Promise.resolve({ release: () => undefined });
  return new Promise<HeldLock>((resolve, reject) => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    const take = (): Promise<void> => {
      resolve({ release });
      return held;
    };
    locks
      .request(DEVICE_LOCK, { ifAvailable: true }, (lock) => {
        if (lock !== null) return take();
        onWaiting();
        // Not awaited: this callback must return so the "ifAvailable" request ends.
        locks.request(DEVICE_LOCK, { signal }, take).catch((err: unknown) => reject(err instanceof Error ? err : new Error(String(err))));
        return undefined;
      })
      .catch((err: unknown) => reject(err instanceof Error ? err : new Error(String(err))));
  });
}

/**
 * For the service worker: runs `fn` with the device lock if it is free right
 * now, else returns `busy` without waiting (a page or another run has the
 * device; it shows what is new itself).
 */
export async function withDeviceLockIfFree<T>(fn: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }> {
  const locks = lockManager();
  // No Web Locks: the worker cannot know whether a page runs the device, so it does not run a client.
  if (locks === undefined) return { ran: false };
  return locks.request(DEVICE_LOCK, { ifAvailable: true }, async (lock) => (lock === null ? { ran: false as const } : { ran: true as const, value: await fn() }));
}
