import type { PoolClient } from 'pg';
import type { DeviceId } from '@parley/protocol';
import { StorageError, type ClaimedKeyPackage, type KeyPackageCount, type KeyPackageIn } from '../storage.js';
import { rows, type PgCore } from './core.js';
import { bytes, num, status, str, type Row } from './rows.js';

const COUNT_SQL = `SELECT COUNT(*) FILTER (WHERE NOT last_resort) AS available, COUNT(*) FILTER (WHERE last_resort) AS lr
                   FROM key_packages WHERE device_id = $1 AND expires_at > $2`;

function toCount(result: Row[]): KeyPackageCount {
  const row = result[0];
  if (!row) throw new Error('storage row: missing count');
  return { available: num(row, 'available'), lastResort: num(row, 'lr') > 0 };
}

/** The KeyPackage directory on PostgreSQL. */
export class PgKeyPackages {
  constructor(private readonly core: PgCore) {}

  add(deviceId: DeviceId, packages: readonly KeyPackageIn[], lastResort: KeyPackageIn | undefined, max: number, now: number): Promise<KeyPackageCount> {
    return this.core.tx(async (c) => {
      // Serializes uploads for one device, so two at once cannot both pass the cap check.
      const dev = (await rows(c, 'SELECT status FROM devices WHERE id = $1 FOR NO KEY UPDATE', [deviceId]))[0];
      if (!dev) throw new StorageError('not_found', 'device not found');
      const s = status(dev);
      if (s === 'revoked') throw new StorageError('device_revoked', 'device revoked');
      if (s === 'pending') throw new StorageError('device_pending', 'device not approved yet');
      await c.query('DELETE FROM key_packages WHERE device_id = $1 AND expires_at <= $2', [deviceId, now]);
      const countRow = (await rows(c, 'SELECT COUNT(*) AS n FROM key_packages WHERE device_id = $1 AND NOT last_resort', [deviceId]))[0];
      const existing = countRow ? num(countRow, 'n') : 0;
      if (existing + packages.length > max) {
        throw new StorageError('too_many_key_packages', `at most ${max} key packages may be stored`, { max, existing });
      }
      if (packages.length > 0) {
        await c.query(
          `INSERT INTO key_packages (device_id, ciphersuite, expires_at, last_resort, data)
           SELECT $1, t.cs, t.ex, FALSE, t.d FROM unnest($2::integer[], $3::bigint[], $4::bytea[]) AS t(cs, ex, d)`,
          [deviceId, packages.map((p) => p.ciphersuite), packages.map((p) => p.expiresAt), packages.map((p) => p.data)],
        );
      }
      if (lastResort) {
        await c.query('DELETE FROM key_packages WHERE device_id = $1 AND last_resort', [deviceId]);
        await c.query('INSERT INTO key_packages (device_id, ciphersuite, expires_at, last_resort, data) VALUES ($1, $2, $3, TRUE, $4)', [
          deviceId,
          lastResort.ciphersuite,
          lastResort.expiresAt,
          lastResort.data,
        ]);
      }
      return this.countIn(c, deviceId, now);
    });
  }

  private async countIn(c: PoolClient, deviceId: DeviceId, now: number): Promise<KeyPackageCount> {
    return toCount(await rows(c, COUNT_SQL, [deviceId, now]));
  }

  async count(deviceId: DeviceId, now: number): Promise<KeyPackageCount> {
    return toCount(await this.core.read(COUNT_SQL, [deviceId, now]));
  }

  claim(deviceIds: readonly DeviceId[], now: number, lastResortAllowed: ReadonlySet<DeviceId> | undefined): Promise<ClaimedKeyPackage[]> {
    return this.core.tx(async (c) => {
      if (deviceIds.length === 0) return [];
      // FOR SHARE: claims run side by side, but a revocation waits for them (and they for it).
      const active = new Set(
        (
          await rows(c, "SELECT id FROM devices WHERE id = ANY($1::text[]) AND status = 'active' ORDER BY id COLLATE \"C\" FOR SHARE", [[...new Set(deviceIds)]])
        ).map((r) => str(r, 'id')),
      );
      const out: ClaimedKeyPackage[] = [];
      for (const deviceId of deviceIds) {
        if (!active.has(deviceId)) continue;
        // SKIP LOCKED: a package another transaction is taking is passed over, never handed out twice
        // and never waited for.
        let row = (
          await rows(
            c,
            `DELETE FROM key_packages WHERE id = (
               SELECT id FROM key_packages WHERE device_id = $1 AND NOT last_resort AND expires_at > $2
               ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING ciphersuite, data`,
            [deviceId, now],
          )
        )[0];
        let lastResort = false;
        if (!row && (lastResortAllowed === undefined || lastResortAllowed.has(deviceId))) {
          row = (
            await rows(c, 'SELECT ciphersuite, data FROM key_packages WHERE device_id = $1 AND last_resort AND expires_at > $2 ORDER BY id LIMIT 1', [deviceId, now])
          )[0];
          lastResort = true;
        }
        if (!row) continue;
        out.push({ deviceId, ciphersuite: num(row, 'ciphersuite'), data: bytes(row, 'data'), lastResort });
      }
      return out;
    });
  }

  async sweep(now: number): Promise<number> {
    return (await this.core.one('DELETE FROM key_packages WHERE expires_at <= $1', [now])).rowCount;
  }
}
