import type { DeviceDirectory } from '@parley/crypto';
import { bytesEqual, fromBase64Url } from '@parley/protocol';
import type { DeviceId, UserId } from '@parley/protocol';
import { ClientError } from './errors.js';
import type { HttpApi } from './transport/http-api.js';

export interface DirectoryUser {
  readonly userId: UserId;
  readonly username: string;
  readonly devices: ReadonlyArray<{ readonly id: DeviceId; readonly signatureKey: Uint8Array }>;
}

interface Entry {
  user: DirectoryUser;
  fetchedAt: number;
}

/**
 * The MLS authentication directory, backed by the server's
 * GET /v1/users/:username/devices: a cache, refetched when a device or key
 * is missing from it (at most every `minRefetchMs` per user).
 *
 * The server's directory is keyed by username while MLS credentials name a
 * userId. A userId this device has never seen with a username (a Welcome
 * from a stranger, a member someone else added) is accepted *provisionally*
 * and recorded; the conversation's roster message then names the user, and
 * the client verifies those devices strictly (see ParleyClient.verifyRoster).
 */
export class DeviceDirectoryCache {
  private readonly usernames = new Map<UserId, string>();
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<DirectoryUser>>();
  private readonly provisional = new Set<UserId>();
  private unverified: Array<{ userId: UserId; deviceId: DeviceId }> = [];

  constructor(
    private readonly api: HttpApi,
    private readonly minRefetchMs = 250,
  ) {}

  /** Devices the engine was told to accept although the directory did not list them (see `check`). */
  takeUnverified(): Array<{ userId: UserId; deviceId: DeviceId }> {
    return this.unverified.splice(0);
  }

  learn(userId: UserId, username: string): void {
    this.usernames.set(userId, username);
    this.provisional.delete(userId);
  }

  usernameOf(userId: UserId): string | undefined {
    return this.usernames.get(userId);
  }

  isProvisional(userId: UserId): boolean {
    return this.provisional.has(userId);
  }

  /** A fresh copy of the user's active devices from the server; throws ClientError('unknown_user'). */
  lookupUser(username: string): Promise<DirectoryUser> {
    const running = this.inflight.get(username);
    if (running !== undefined) return running;
    const p = this.fetchUser(username).finally(() => this.inflight.delete(username));
    this.inflight.set(username, p);
    return p;
  }

  private async fetchUser(username: string): Promise<DirectoryUser> {
    let res;
    try {
      res = await this.api.userDevices(username);
    } catch (err) {
      if (err instanceof ClientError && err.code === 'not_found') throw new ClientError('unknown_user', 'no such user', { cause: err });
      throw err;
    }
    const devices: Array<{ id: DeviceId; signatureKey: Uint8Array }> = [];
    for (const d of res.devices) {
      const key = fromBase64Url(d.signatureKey);
      if (key === undefined) throw new ClientError('bad_response', 'device signature key is not base64url');
      devices.push({ id: d.id, signatureKey: key });
    }
    const user: DirectoryUser = { userId: res.userId, username: res.username, devices };
    const entry = { user, fetchedAt: Date.now() };
    this.entries.set(res.username, entry);
    if (res.username !== username) this.entries.set(username, entry);
    const known = this.usernames.get(res.userId);
    if (known === undefined || known === res.username) this.learn(res.userId, res.username);
    return user;
  }

  private static has(user: DirectoryUser, userId: UserId, deviceId: DeviceId, key: Uint8Array): boolean {
    return user.userId === userId && user.devices.some((d) => d.id === deviceId && bytesEqual(d.signatureKey, key));
  }

  /** Strict check: the user must be known by name, and the server must list this device with this key. */
  async verify(userId: UserId, deviceId: DeviceId, key: Uint8Array): Promise<boolean> {
    const username = this.usernames.get(userId);
    if (username === undefined) return false;
    const entry = this.entries.get(username);
    if (entry !== undefined && DeviceDirectoryCache.has(entry.user, userId, deviceId, key)) return true;
    if (entry !== undefined && Date.now() - entry.fetchedAt < this.minRefetchMs) {
      // A miss right after a fetch: wait out the interval once rather than hammer the server.
      await new Promise((r) => setTimeout(r, this.minRefetchMs - (Date.now() - entry.fetchedAt)));
    }
    const fresh = await this.lookupUser(username);
    return DeviceDirectoryCache.has(fresh, userId, deviceId, key);
  }

  /**
   * The DeviceDirectory the MLS engine consults for every credential entering
   * a group. A device the directory does not list is accepted but recorded
   * (takeUnverified → an `unverified_member` event), because the server lists
   * only ACTIVE devices: a member catching up on old commits would otherwise
   * reject the commit that added a device revoked since, and be locked out of
   * the group for good. Rejecting outright needs a directory that also lists
   * revoked devices (see README, "Known gaps").
   */
  readonly check: DeviceDirectory = async (userId, deviceId, key) => {
    if (!this.usernames.has(userId)) {
      this.provisional.add(userId);
      return true;
    }
    if (!(await this.verify(userId, deviceId, key))) this.unverified.push({ userId, deviceId });
    return true;
  };
}
