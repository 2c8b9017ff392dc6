import type { MlsEngine } from '@parley/crypto';
import { toBase64Url } from '@parley/protocol';
import { StoreBatch } from '../store/records.js';
import type { ClientRepository } from '../store/records.js';
import type { HttpApi, KeyPackageUploadBody } from '../transport/http-api.js';

/**
 * This device's stock of key packages on the server: `target` single-use
 * ones plus a last-resort one. Private halves are stored BEFORE the public
 * halves are uploaded, so a Welcome can never arrive for a package whose keys
 * are lost.
 */
export class KeyPackageStock {
  private refilling: Promise<void> | undefined;

  constructor(
    private readonly api: HttpApi,
    private readonly repo: ClientRepository,
    private readonly engine: MlsEngine,
    private readonly target: number,
    private readonly onError: (err: unknown) => void,
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
        this.onError(err);
      } finally {
        this.refilling = undefined;
      }
    })();
    return this.refilling;
  }
}
