import type { BlobDigest, DeviceId, GroupId } from '@parley/protocol';
import { StorageError } from '../storage.js';
import { floorMinute } from '../retention.js';
import { changes, rows, type PgCore } from './core.js';
import { num, str } from './rows.js';

/**
 * Per-group retention (disappearing messages) on PostgreSQL: see
 * Storage.setGroupRetention and enforceRetention. Each group is lowered in its
 * own transaction, holding the group's row lock first (as appends and trims
 * do), then its blobs in digest order (as appends lock them).
 */
export class PgRetention {
  constructor(private readonly core: PgCore) {}

  set(groupId: GroupId, deviceId: DeviceId, seconds: number | null, seq: number): Promise<number | null> {
    return this.core.tx(async (c) => {
      if ((await rows(c, 'SELECT 1 FROM mls_groups WHERE id = $1 FOR NO KEY UPDATE', [groupId])).length === 0) throw new StorageError('not_found', 'group not found');
      const member = await rows(c, 'SELECT 1 FROM group_devices WHERE group_id = $1 AND device_id = $2 AND until_seq IS NULL', [groupId, deviceId]);
      if (member.length === 0) throw new StorageError('not_member', 'not a member of this group');
      await c.query('UPDATE mls_groups SET retention_seconds = $2, retention_seq = $3 WHERE id = $1 AND retention_seq < $3 AND last_seq >= $3', [groupId, seconds, seq]);
      const row = (await rows(c, 'SELECT retention_seconds FROM mls_groups WHERE id = $1', [groupId]))[0];
      return row === undefined || row['retention_seconds'] === null ? null : num(row, 'retention_seconds');
    });
  }

  async get(groupId: GroupId): Promise<number | null | undefined> {
    const row = (await this.core.read('SELECT retention_seconds FROM mls_groups WHERE id = $1', [groupId]))[0];
    if (!row) return undefined;
    return row['retention_seconds'] === null ? null : num(row, 'retention_seconds');
  }

  async enforce(now: number, leadSeconds: number): Promise<number> {
    // Only groups with a message still above its cap get a transaction (the others were lowered by an earlier pass).
    const groups = await this.core.read(
      `SELECT g.id, g.retention_seconds FROM mls_groups g
       WHERE g.retention_seconds IS NOT NULL AND EXISTS (
         SELECT 1 FROM group_messages m WHERE m.group_id = g.id AND m.kind = 'application' AND m.expires_at > (($1::bigint + g.retention_seconds - $2::bigint) / 60) * 60)
       ORDER BY g.id COLLATE "C"`,
      [now, leadSeconds],
    );
    let lowered = 0;
    for (const g of groups) {
      const id = str(g, 'id');
      const until = floorMinute(now + num(g, 'retention_seconds') - leadSeconds);
      lowered += await this.core.tx(async (c) => {
        if ((await rows(c, 'SELECT 1 FROM mls_groups WHERE id = $1 AND retention_seconds IS NOT NULL FOR NO KEY UPDATE', [id])).length === 0) return 0;
        await c.query(
          `UPDATE blobs b SET keep_until = $1 FROM (
             SELECT digest FROM blobs WHERE keep_until > $1 AND digest IN (SELECT digest FROM blob_refs WHERE group_id = $2)
             ORDER BY digest COLLATE "C" FOR NO KEY UPDATE) l
           WHERE b.digest = l.digest`,
          [until, id],
        );
        return changes(c, "UPDATE group_messages SET expires_at = $1 WHERE group_id = $2 AND kind = 'application' AND expires_at > $1", [until, id]);
      });
    }
    return lowered;
  }

  async capBlobs(digests: readonly BlobDigest[], until: number): Promise<void> {
    if (digests.length === 0) return;
    await this.core.one(
      `UPDATE blobs b SET keep_until = $1 FROM (
         SELECT digest FROM blobs WHERE keep_until > $1 AND digest = ANY($2::text[])
         ORDER BY digest COLLATE "C" FOR NO KEY UPDATE) l
       WHERE b.digest = l.digest`,
      [until, [...new Set(digests)]],
    );
  }
}
