import { randomBytes } from 'node:crypto';
import { createClient, MemoryStore } from '@parley/client';
import type { ParleyClient, StoreWrite } from '@parley/client';

/**
 * The friends of the Moments benchmark: Node SDK clients (in memory), each
 * user with `devicesEach` devices (the second and later linked and approved
 * like a phone next to a laptop), created `parallel` at a time.
 */
export interface Friend {
  readonly name: string;
  readonly password: string;
  /** The first device, then the linked ones. */
  readonly devices: readonly ParleyClient[];
}

export interface FriendOptions {
  readonly serverUrl: string;
  readonly count: number;
  readonly devicesEach: number;
  readonly parallel: number;
  /** How long a received message's acknowledgement waits (ms): long, so that the server keeps a post's rows long enough to be counted. */
  readonly ackDelayMs: number;
  readonly progress?: (done: number) => void;
}

export const FRIEND_PASSWORD_PREFIX = 'friend-pw-';

/**
 * A MemoryStore that keeps the media rows a device writes (headers: which
 * files it keeps, how large) but not their bytes: 400 devices each keeping
 * nine 1 MB photos (base64 in the heap) do not fit one process. Downloading,
 * checking and writing them runs as on a real device; nothing here reads a
 * kept photo back.
 */
class BenchDeviceStore extends MemoryStore {
  override write(writes: readonly StoreWrite[]): Promise<void> {
    return super.write(writes.map((w) => (w.type === 'put' && w.table === 'media' && w.key.startsWith('c/') ? { ...w, value: '' } : w)));
  }
}

async function device(o: FriendOptions): Promise<ParleyClient> {
  return createClient({
    serverUrl: o.serverUrl,
    store: new BenchDeviceStore(),
    deviceSyncIntervalMs: 0,
    reconnect: { initialMs: 100, maxMs: 1000 },
    linkPollMs: 100,
    ackDelayMs: o.ackDelayMs,
    // Quiet benchmark devices need few single-use key packages.
    keyPackageStock: 20,
  });
}

async function friend(o: FriendOptions, i: number): Promise<Friend> {
  const name = `f${i}x${randomBytes(4).toString('hex')}`;
  const password = `${FRIEND_PASSWORD_PREFIX}${randomBytes(8).toString('hex')}`;
  const first = await device(o);
  await first.register(name, password);
  await first.whenSynced();
  const devices = [first];
  for (let d = 1; d < o.devicesEach; d++) {
    const other = await device(o);
    const link = await other.linkDevice(name, password);
    await first.approveLink(link.uri);
    await link.approved;
    await other.whenSynced();
    devices.push(other);
  }
  return { name, password, devices };
}

/** Runs `task` for 0..n-1, at most `parallel` at a time, in order of index. */
export async function bounded<T>(n: number, parallel: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array<T>(n);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < n; i = next++) out[i] = await task(i);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, n) }, worker));
  return out;
}

export async function createFriends(o: FriendOptions): Promise<Friend[]> {
  let done = 0;
  return bounded(o.count, o.parallel, async (i) => {
    const f = await friend(o, i);
    o.progress?.(++done);
    return f;
  });
}

/** Closes every device (errors ignored: the run is over). */
export async function closeFriends(friends: readonly Friend[]): Promise<void> {
  await bounded(friends.length, 16, async (i) => {
    for (const c of friends[i]?.devices ?? []) await c.close().catch(() => undefined);
  });
}
