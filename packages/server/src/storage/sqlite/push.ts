import type { DeviceId } from '@parley/protocol';
import { StorageError, type PushSubscriptionRecord } from '../storage.js';
import type { SqliteCore } from './core.js';
import { str, type Row } from './rows.js';

/** Web Push subscriptions on SQLite: one row per device (see Storage.putPushSubscription). */
export class SqlitePush {
  constructor(private readonly core: SqliteCore) {}

  put(sub: PushSubscriptionRecord): Promise<void> {
    return this.core.writes.run(() => {
      if (this.core.q("SELECT 1 FROM devices WHERE id = ? AND status = 'active'").get(sub.deviceId) === undefined) throw new StorageError('not_found', 'device not found');
      this.core
        .q(
          `INSERT INTO push_subscriptions (device_id, endpoint, p256dh, auth) VALUES (?, ?, ?, ?)
           ON CONFLICT (device_id) DO UPDATE SET endpoint = excluded.endpoint, p256dh = excluded.p256dh, auth = excluded.auth`,
        )
        .run(sub.deviceId, sub.endpoint, sub.p256dh, sub.auth);
    });
  }

  list(deviceIds: readonly DeviceId[]): PushSubscriptionRecord[] {
    if (deviceIds.length === 0) return [];
    const rows = this.core.q('SELECT device_id, endpoint, p256dh, auth FROM push_subscriptions WHERE device_id IN (SELECT value FROM json_each(?))').all(JSON.stringify(deviceIds)) as Row[];
    return rows.map((r) => ({ deviceId: str(r, 'device_id') as DeviceId, endpoint: str(r, 'endpoint'), p256dh: str(r, 'p256dh'), auth: str(r, 'auth') }));
  }

  delete(deviceId: DeviceId, endpoint?: string): Promise<boolean> {
    return this.core.writes.run(
      () =>
        (endpoint === undefined
          ? this.core.q('DELETE FROM push_subscriptions WHERE device_id = ?').run(deviceId)
          : this.core.q('DELETE FROM push_subscriptions WHERE device_id = ? AND endpoint = ?').run(deviceId, endpoint)
        ).changes > 0,
    );
  }
}
