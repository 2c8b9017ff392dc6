import type { DeviceDirectory } from '@parley/crypto';
import { bytesEqual, fromBase64Url } from '@parley/protocol';
import type { DeviceId, UserDevicesResponse, UserId } from '@parley/protocol';
import { ClientError } from '../errors.js';

export interface DirectoryDevice {
  readonly id: DeviceId;
  readonly signatureKey: Uint8Array;
  /** Unix seconds; null while the device is active. */
  readonly revokedAt: number | null;
  /** The same user's device the server says approved this one; null for a registered or reset device. */
  readonly approvedBy: DeviceId | null;
  /** approvedBy's signature over linkApprovalMessage (see devices/approvals.ts); null when none was given or it was not base64url. */
  readonly approval: Uint8Array | null;
}

export interface DirectoryUser {
  readonly userId: UserId;
  readonly username: string;
  /** Active AND revoked devices (revoked ones stay listed so history verifies). Never pending ones. */
  readonly devices: readonly DirectoryDevice[];
}

/** The two directory routes (GET /v1/users/:username/devices and /v1/users/by-id/:userId/devices). */
export interface DirectorySource {
  userDevices(username: string): Promise<UserDevicesResponse>;
  userDevicesById(userId: UserId): Promise<UserDevicesResponse>;
}

/** The devices a client may add to a group or count in a safety number: never revoked ones. */
export function activeDevices(user: DirectoryUser): DirectoryDevice[] {
  return user.devices.filter((d) => d.revokedAt === null);
}

interface Entry {
  user: DirectoryUser;
  fetchedAt: number;
}

/**
 * The MLS authentication directory: the server's device lists, cached per
 * user id and refetched when a device or key is missing (at most every
 * `minRefetchMs` per user).
 *
 * Fail closed. `check` — what the MLS engine asks about every credential
 * entering a group — is true ONLY when the directory lists exactly that
 * (userId, deviceId) with exactly that key, active or revoked. Revoked
 * devices count because an old commit that added a since-revoked device
 * must still verify for a member catching up; adding devices uses
 * `activeDevices` only. A user this device has never seen is looked up by
 * id, so a Welcome from a stranger is checked when it is joined.
 */
export class DeviceDirectoryCache {
  private readonly names = new Map<UserId, string>();
  private readonly entries = new Map<UserId, Entry>();
  private readonly inflight = new Map<string, Promise<DirectoryUser | undefined>>();

  constructor(
    private readonly source: DirectorySource,
    private readonly minRefetchMs = 250,
  ) {}

  /** A name known from elsewhere (this device's own account). The directory's own answers win. */
  learn(userId: UserId, username: string): void {
    if (!this.entries.has(userId)) this.names.set(userId, username);
  }

  usernameOf(userId: UserId): string | undefined {
    return this.entries.get(userId)?.user.username ?? this.names.get(userId);
  }

  /** The cached entry, if any (no request). */
  cached(userId: UserId): DirectoryUser | undefined {
    return this.entries.get(userId)?.user;
  }

  /** A fresh copy of the user from the server; throws ClientError('unknown_user'). */
  async lookupUser(username: string): Promise<DirectoryUser> {
    const user = await this.once(`name:${username}`, () => this.source.userDevices(username));
    if (user === undefined) throw new ClientError('unknown_user', 'no such user');
    return user;
  }

  /** A fresh copy of the user from the server, by id; throws ClientError('unknown_user'). */
  async lookupUserById(userId: UserId): Promise<DirectoryUser> {
    const user = await this.fetchById(userId);
    if (user === undefined) throw new ClientError('unknown_user', 'no such user');
    return user;
  }

  private fetchById(userId: UserId): Promise<DirectoryUser | undefined> {
    return this.once(`id:${userId}`, async () => {
      const res = await this.source.userDevicesById(userId);
      if (res.userId !== userId) throw new ClientError('bad_response', 'the directory answered for another user');
      return res;
    });
  }

  /** One request per key at a time; undefined when the server does not know the user. */
  private once(key: string, fetch: () => Promise<UserDevicesResponse>): Promise<DirectoryUser | undefined> {
    const running = this.inflight.get(key);
    if (running !== undefined) return running;
    const p = (async () => {
      let res;
      try {
        res = await fetch();
      } catch (err) {
        if (err instanceof ClientError && err.code === 'not_found') return undefined;
        throw err;
      }
      return this.store(res);
    })().finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  private store(res: UserDevicesResponse): DirectoryUser {
    const devices: DirectoryDevice[] = [];
    for (const d of res.devices) {
      const key = fromBase64Url(d.signatureKey);
      if (key === undefined) throw new ClientError('bad_response', 'device signature key is not base64url');
      // An approval that does not decode is no approval: that device is refused where approvals count.
      const approval = d.approval === null ? null : (fromBase64Url(d.approval) ?? null);
      devices.push({ id: d.id, signatureKey: key, revokedAt: d.revokedAt, approvedBy: d.approvedBy, approval });
    }
    const user: DirectoryUser = { userId: res.userId, username: res.username, devices };
    this.entries.set(res.userId, { user, fetchedAt: Date.now() });
    this.names.delete(res.userId);
    return user;
  }

  private static lists(user: DirectoryUser | undefined, userId: UserId, deviceId: DeviceId, key: Uint8Array): boolean {
    return user?.userId === userId && user.devices.some((d) => d.id === deviceId && bytesEqual(d.signatureKey, key));
  }

  /**
   * True only when the server lists this device of this user with this key
   * (active or revoked). A miss refetches the user once (rate-limited); an
   * unknown user is false. Network and server errors throw (the caller must
   * not mistake "could not ask" for "no").
   */
  async vouches(userId: UserId, deviceId: DeviceId, key: Uint8Array): Promise<boolean> {
    const entry = this.entries.get(userId);
    if (DeviceDirectoryCache.lists(entry?.user, userId, deviceId, key)) return true;
    if (entry !== undefined && Date.now() - entry.fetchedAt < this.minRefetchMs) {
      // A miss right after a fetch: wait out the interval once rather than hammer the server.
      await new Promise((r) => setTimeout(r, this.minRefetchMs - (Date.now() - entry.fetchedAt)));
    }
    return DeviceDirectoryCache.lists(await this.fetchById(userId), userId, deviceId, key);
  }

  /** The DeviceDirectory the MLS engine consults for every credential entering a group (see the class comment). */
  readonly check: DeviceDirectory = (userId, deviceId, key) => this.vouches(userId, deviceId, key);
}
