import type { MlsEngine } from '@parley/crypto';
import { bytesEqual, fromBase64Url, toBase64Url } from '@parley/protocol';
import type { DeviceId } from '@parley/protocol';
import { ClientError } from '../errors.js';
import { StoreBatch } from '../store/records.js';
import type { ClientRepository } from '../store/records.js';
import type { HttpApi, KeyPackageUploadBody } from '../transport/http-api.js';
import type { ClaimTarget } from './device-sync.js';

/**
 * This device's stock of key packages on the server: `target` single-use
 * ones plus a last-resort one. Private halves are stored BEFORE the public
 * halves are uploaded, so a Welcome can never arrive for a package whose keys
 * are lost. And the other side: claiming other devices' packages, each
 * checked to be exactly the device asked for.
 */
export class KeyPackageStock {
  private refilling: Promise<void> | undefined;

  constructor(
    private readonly api: HttpApi,
    private readonly repo: ClientRepository,
    private readonly engine: MlsEngine,
    private readonly target: number,
    private readonly onError: (code: 'key_packages' | 'unverified_member', err: unknown) => void,
  ) {}

  /** The full stock, for a device that just got its session. */
  fill(): Promise<void> {
    return this.upload(this.target, true);
  }

  async upload(count: number, lastResort: boolean): Promise<void> {
    const fresh = await this.engine.generateKeyPackages(count);
    const resort = lastResort ? await this.engine.generateKeyPackages(1, { lastResort: true }) : [];
    const batch = new StoreBatch();
    for (const kp of [...fresh, ...resort]) batch.putKeyPackage({ ref: kp.ref, bundle: kp.privateBundle, lastResort: kp.lastResort });
    await this.repo.commit(batch);
    const wire = (kp: { ciphersuite: number; expiresAt: number; keyPackage: Uint8Array }) => ({ ciphersuite: kp.ciphersuite, expiresAt: kp.expiresAt, data: toBase64Url(kp.keyPackage) });
    const body: KeyPackageUploadBody = { keyPackages: fresh.map(wire) };
    const last = resort[0];
    if (last !== undefined) body.lastResort = wire(last);
    await this.api.uploadKeyPackages(body);
  }

  /** Tops the stock up to the target (once at a time); failures go to onError. */
  refill(): Promise<void> {
    this.refilling ??= (async () => {
      try {
        const stock = await this.api.keyPackageStock();
        const missing = this.target - stock.available;
        if (missing > 0 || !stock.lastResort) await this.upload(Math.max(0, missing), !stock.lastResort);
      } catch (err) {
        this.onError('key_packages', err);
      } finally {
        this.refilling = undefined;
      }
    })();
    return this.refilling;
  }

  /**
   * One key package per target device. Never for a revoked device. A package
   * that does not name the device asked for, or carries another key than the
   * directory's, is dropped (`unverified_member`): the server could hand out
   * anything.
   */
  async claim(targets: readonly ClaimTarget[]): Promise<Array<{ deviceId: DeviceId; data: Uint8Array }>> {
    const wanted = new Map(targets.filter((t) => t.device.revokedAt === null).map((t) => [t.device.id, t]));
    if (wanted.size === 0) return [];
    const claimed = await this.api.claimKeyPackages([...wanted.keys()]);
    const out: Array<{ deviceId: DeviceId; data: Uint8Array }> = [];
    for (const c of claimed.keyPackages) {
      const data = fromBase64Url(c.data);
      const target = wanted.get(c.deviceId);
      if (data === undefined || target === undefined) continue;
      let info;
      try {
        info = await this.engine.inspectKeyPackage(data);
      } catch (err) {
        this.onError('unverified_member', err);
        continue;
      }
      if (info.deviceId !== c.deviceId || info.userId !== target.userId || !bytesEqual(info.signaturePublicKey, target.device.signatureKey)) {
        this.onError('unverified_member', new ClientError('forbidden', `key package for ${c.deviceId} is not that device's`));
        continue;
      }
      out.push({ deviceId: c.deviceId, data });
      wanted.delete(c.deviceId);
    }
    return out;
  }
}
