import type { DeviceId } from '@parley/protocol';
import { StorageError, type ClaimedKeyPackage, type KeyPackageCount, type KeyPackageIn } from '../storage.js';
import type { SqliteCore } from './core.js';
import { bytes, num, status, type Row } from './rows.js';

/** The KeyPackage directory on SQLite. */
export class SqliteKeyPackages {
  constructor(private readonly core: SqliteCore) {}

  private q(sql: string) {
    return this.core.q(sql);
  }

  add(deviceId: DeviceId, packages: readonly KeyPackageIn[], lastResort: KeyPackageIn | undefined, max: number, now: number): Promise<KeyPackageCount> {
    return this.core.writes.run(() => {
      const dev = this.q('SELECT status FROM devices WHERE id = ?').get(deviceId) as Row | undefined;
      if (!dev) throw new StorageError('not_found', 'device not found');
      const s = status(dev);
      if (s === 'revoked') throw new StorageError('device_revoked', 'device revoked');
      if (s === 'pending') throw new StorageError('device_pending', 'device not approved yet');
      this.q('DELETE FROM key_packages WHERE device_id = ? AND expires_at <= ?').run(deviceId, now);
      const existing = num(this.q('SELECT COUNT(*) AS n FROM key_packages WHERE device_id = ? AND last_resort = 0').get(deviceId) as Row, 'n');
      if (existing + packages.length > max) {
        throw new StorageError('too_many_key_packages', `at most ${max} key packages may be stored`, { max, existing });
      }
      const insert = this.q('INSERT INTO key_packages (device_id, ciphersuite, expires_at, last_resort, data) VALUES (?, ?, ?, ?, ?)');
      for (const p of packages) insert.run(deviceId, p.ciphersuite, p.expiresAt, 0, p.data);
      if (lastResort) {
        this.q('DELETE FROM key_packages WHERE device_id = ? AND last_resort = 1').run(deviceId);
        insert.run(deviceId, lastResort.ciphersuite, lastResort.expiresAt, 1, lastResort.data);
      }
      return this.count(deviceId, now);
    });
  }

  count(deviceId: DeviceId, now: number): KeyPackageCount {
    const row = this.q(
      `SELECT COALESCE(SUM(CASE WHEN last_resort = 0 THEN 1 ELSE 0 END), 0) AS available,
              COALESCE(SUM(last_resort), 0) AS lr
       FROM key_packages WHERE device_id = ? AND expires_at > ?`,
    ).get(deviceId, now) as Row;
    return { available: num(row, 'available'), lastResort: num(row, 'lr') > 0 };
  }

  claim(deviceIds: readonly DeviceId[], now: number, lastResortAllowed: ReadonlySet<DeviceId> | undefined): Promise<ClaimedKeyPackage[]> {
    return this.core.writes.run(() => {
      const out: ClaimedKeyPackage[] = [];
      const active = this.q("SELECT 1 FROM devices WHERE id = ? AND status = 'active'");
      const pick = this.q(
        `SELECT id, ciphersuite, data, last_resort FROM key_packages
         WHERE device_id = ? AND expires_at > ? AND (last_resort = 0 OR ? = 1) ORDER BY last_resort ASC, id ASC LIMIT 1`,
      );
      const consume = this.q('DELETE FROM key_packages WHERE id = ?');
      for (const deviceId of deviceIds) {
        if (active.get(deviceId) === undefined) continue;
        const row = pick.get(deviceId, now, lastResortAllowed === undefined || lastResortAllowed.has(deviceId) ? 1 : 0) as Row | undefined;
        if (!row) continue;
        const lastResort = num(row, 'last_resort') !== 0;
        if (!lastResort) consume.run(num(row, 'id'));
        out.push({ deviceId, ciphersuite: num(row, 'ciphersuite'), data: bytes(row, 'data'), lastResort });
      }
      return out;
    });
  }

  sweepSync(now: number): number {
    return this.q('DELETE FROM key_packages WHERE expires_at <= ?').run(now).changes;
  }
}
