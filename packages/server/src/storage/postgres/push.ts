import type { DeviceId } from '@parley/protocol';
import { StorageError, type PushSubscriptionRecord } from '../storage.js';
import { rows, type PgCore } from './core.js';
import { str } from './rows.js';

/**
 * Web Push subscriptions on PostgreSQL: one row per device (see
 * Storage.putPushSubscription). The device row is held while writing, so a
 * concurrent revocation (which deletes the subscription) is either first
 * (the put finds no active device) or sees the row.
 */
export class PgPush {
  constructor(private readonly core: PgCore) {}

  put(sub: PushSubscriptionRecord): Promise<void> {
    return this.core.tx(async (c) => {
      if ((await rows(c, "SELECT 1 FROM devices WHERE id = $1 AND status = 'active' FOR NO KEY UPDATE", [sub.deviceId])).length === 0) {
        throw new StorageError('not_found', 'device not found');
      }
      await c.query(
        `INSERT INTO push_subscriptions (device_id, endpoint, p256dh, auth) VALUES ($1, $2, $3, $4)
         ON CONFLICT (device_id) DO UPDATE SET endpoint = EXCLUDED.endpoint, p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth`,
        [sub.deviceId, sub.endpoint, sub.p256dh, sub.auth],
      );
    });
  }

  async list(deviceIds: readonly DeviceId[]): Promise<PushSubscriptionRecord[]> {
    if (deviceIds.length === 0) return [];
    const found = await this.core.read('SELECT device_id, endpoint, p256dh, auth FROM push_subscriptions WHERE device_id = ANY($1::text[])', [[...deviceIds]]);
    return found.map((r) => ({ deviceId: str(r, 'device_id') as DeviceId, endpoint: str(r, 'endpoint'), p256dh: str(r, 'p256dh'), auth: str(r, 'auth') }));
  }

  async delete(deviceId: DeviceId, endpoint?: string): Promise<boolean> {
    const r = await this.core.tx((c) =>
      endpoint === undefined
        ? rows(c, 'DELETE FROM push_subscriptions WHERE device_id = $1 RETURNING device_id', [deviceId])
        : rows(c, 'DELETE FROM push_subscriptions WHERE device_id = $1 AND endpoint = $2 RETURNING device_id', [deviceId, endpoint]),
    );
    return r.length > 0;
  }
}
