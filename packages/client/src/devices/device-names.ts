import { AccountKeyError, openDeviceName, sealDeviceName, sealedKeyId } from '@parley/crypto';
import { fromBase64Url, toBase64Url } from '@parley/protocol';
import type { DeviceId, DeviceInfo, UserId } from '@parley/protocol';
import { ClientError } from '../errors.js';
import type { AccountKeyRing } from '../self/self-group.js';
import type { HttpApi } from '../transport/http-api.js';
import type { DeviceSummary } from '../types.js';

/** What device names need from the client core. */
export interface DeviceNamesOps {
  readonly me: { readonly userId: UserId; readonly deviceId: DeviceId };
  readonly api: Pick<HttpApi, 'devices' | 'setDeviceName'>;
  keyRing(): Promise<AccountKeyRing>;
  /** This device's own name (kept in its account record). */
  ownName(): string;
  /** A name is sealed under a key this device does not hold: ask the user's other devices for their keys. */
  missingKey(): void;
  report(error: Error): void;
}

/**
 * Device names, encrypted so that only the user's own devices read them: the
 * server stores each device's name sealed under the account key
 * (`sealDeviceName`: AES-256-GCM under an HKDF-derived key, bound to the user
 * and device ids, padded to one size) and hands the ciphertexts back in
 * `GET /v1/devices`. Each device keeps its own name in its account record and
 * makes sure the server holds it sealed under the current key (`syncOwn`:
 * when it gets the keys, after a rotation, and at every start — names from
 * before encryption were deleted by the server's migration). A name that
 * cannot be read is shown as null ("Unnamed device"): not yet uploaded,
 * sealed under a key this device does not hold yet (it then asks for it), or
 * refused — tampered with or moved from another device (a `device_name`
 * error event, once per ciphertext).
 */
export class DeviceNames {
  private syncing: Promise<void> | undefined;
  private again = false;
  private readonly reported = new Set<string>();

  constructor(private readonly ops: DeviceNamesOps) {}

  /** This user's devices with their names decrypted (null when a name cannot be read). */
  async list(): Promise<DeviceSummary[]> {
    const [{ devices }, ring] = await Promise.all([this.ops.api.devices(), this.ops.keyRing()]);
    const out: DeviceSummary[] = [];
    for (const d of devices) {
      let name: string | null;
      if (d.current) {
        // This device knows its own name; if the server's copy is missing or stale, put it right.
        name = this.ops.ownName();
        if (ring.current !== undefined && !(await this.holdsOwn(d, ring))) this.syncOwn().catch((err: unknown) => this.fail(err));
      } else {
        name = await this.read(d, ring, true);
      }
      out.push({ id: d.id, name, createdDay: d.createdDay, status: d.status, revoked: d.revoked, current: d.current });
    }
    return out;
  }

  /**
   * Makes sure the server holds this device's name sealed under the current
   * key (does nothing while this device holds no key). Coalesces: a call while
   * one runs runs once more after it.
   */
  syncOwn(): Promise<void> {
    if (this.syncing !== undefined) {
      this.again = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      try {
        do {
          this.again = false;
          await this.uploadOwn();
        } while (this.again);
      } finally {
        this.syncing = undefined;
      }
    })();
    return this.syncing;
  }

  /**
   * After this device made a new key (a device was removed): seals every
   * name it can read with it, so the server no longer holds them under a key
   * the removed device knows. Devices do the same for their own name when the
   * new key reaches them; this covers those that are offline.
   */
  async resealAll(): Promise<void> {
    const ring = await this.ops.keyRing();
    if (ring.current === undefined) return;
    for (const d of (await this.ops.api.devices()).devices) {
      if (d.current || d.status === 'revoked' || d.encryptedName === null) continue;
      const sealed = fromBase64Url(d.encryptedName);
      if (sealed === undefined || sealedKeyId(sealed) === ring.currentId) continue;
      const name = await this.read(d, ring, false);
      if (name === null) continue;
      try {
        await this.ops.api.setDeviceName(d.id, toBase64Url(await sealDeviceName(ring.current, { userId: this.ops.me.userId, deviceId: d.id }, name)));
      } catch (err) {
        // Revoked or gone meanwhile: nothing to protect any more.
        if (!(err instanceof ClientError && err.code === 'not_found')) throw err;
      }
    }
    await this.syncOwn();
  }

  private async uploadOwn(): Promise<void> {
    const ring = await this.ops.keyRing();
    if (ring.current === undefined) return;
    const mine = (await this.ops.api.devices()).devices.find((d) => d.current);
    if (mine === undefined) return;
    if (await this.holdsOwn(mine, ring)) return;
    const device = { userId: this.ops.me.userId, deviceId: this.ops.me.deviceId };
    await this.ops.api.setDeviceName(this.ops.me.deviceId, toBase64Url(await sealDeviceName(ring.current, device, this.ops.ownName())));
  }

  /** True when the server's copy of this device's name is its own name sealed under the current key. */
  private async holdsOwn(mine: DeviceInfo, ring: AccountKeyRing): Promise<boolean> {
    const sealed = mine.encryptedName === null ? undefined : fromBase64Url(mine.encryptedName);
    return sealed !== undefined && sealedKeyId(sealed) === ring.currentId && (await this.read(mine, ring, false)) === this.ops.ownName();
  }

  /** The name in `d`, or null. `report`: tell the app about a refused name and ask for a missing key. */
  private async read(d: DeviceInfo, ring: AccountKeyRing, report: boolean): Promise<string | null> {
    if (d.encryptedName === null) return null;
    const sealed = fromBase64Url(d.encryptedName);
    try {
      if (sealed === undefined) throw new AccountKeyError('malformed', 'not base64url');
      return await openDeviceName(ring.keys, { userId: this.ops.me.userId, deviceId: d.id }, sealed);
    } catch (err) {
      if (!(err instanceof AccountKeyError)) throw err;
      if (!report) return null;
      if (err.code === 'unknown_key') {
        this.ops.missingKey();
      } else if (!this.reported.has(d.encryptedName)) {
        this.reported.add(d.encryptedName);
        this.ops.report(new ClientError('device_name', `the name of device ${d.id} cannot be read (${err.code}): shown as unnamed`, { cause: err, detail: { deviceId: d.id, reason: err.code } }));
      }
      return null;
    }
  }

  private fail(err: unknown): void {
    this.ops.report(err instanceof Error ? err : new Error(String(err)));
  }
}
