import type { BlobDigest, DeviceId, GroupId } from '@parley/protocol';
import { StorageError } from '../storage.js';
import { floorMinute } from '../retention.js';
import type { SqliteCore } from './core.js';
import { num, type Row } from './rows.js';

/** Per-group retention (disappearing messages) on SQLite: see Storage.setGroupRetention and enforceRetention. */
export class SqliteRetention {
  constructor(private readonly core: SqliteCore) {}

  private q(sql: string) {
    return this.core.q(sql);
  }

  set(groupId: GroupId, deviceId: DeviceId, seconds: number | null, seq: number): Promise<number | null> {
    return this.core.writes.run(() => {
      if (this.q('SELECT 1 FROM mls_groups WHERE id = ?').get(groupId) === undefined) throw new StorageError('not_found', 'group not found');
      if (this.q('SELECT 1 FROM group_devices WHERE group_id = ? AND device_id = ? AND until_seq IS NULL').get(groupId, deviceId) === undefined) {
        throw new StorageError('not_member', 'not a member of this group');
      }
      this.q('UPDATE mls_groups SET retention_seconds = ?, retention_seq = ? WHERE id = ? AND retention_seq < ? AND last_seq >= ?').run(seconds, seq, groupId, seq, seq);
      return this.get(groupId) ?? null;
    });
  }

  get(groupId: GroupId): number | null | undefined {
    const row = this.q('SELECT retention_seconds FROM mls_groups WHERE id = ?').get(groupId) as Row | undefined;
    if (!row) return undefined;
    return row['retention_seconds'] === null ? null : num(row, 'retention_seconds');
  }

  enforce(now: number, leadSeconds: number): Promise<number> {
    return this.core.writes.run(() => {
      const groups = this.q('SELECT id, retention_seconds FROM mls_groups WHERE retention_seconds IS NOT NULL').all() as Row[];
      const blobs = this.q('UPDATE blobs SET keep_until = ? WHERE keep_until > ? AND digest IN (SELECT digest FROM blob_refs WHERE group_id = ?)');
      const messages = this.q("UPDATE group_messages SET expires_at = ? WHERE group_id = ? AND kind = 'application' AND expires_at > ?");
      let lowered = 0;
      for (const g of groups) {
        const until = floorMinute(now + num(g, 'retention_seconds') - leadSeconds);
        const id = g['id'] as string;
        blobs.run(until, until, id);
        lowered += messages.run(until, id, until).changes;
      }
      return lowered;
    });
  }

  capBlobs(digests: readonly BlobDigest[], until: number): Promise<void> {
    return this.core.writes.run(() => {
      const cap = this.q('UPDATE blobs SET keep_until = ? WHERE digest = ? AND keep_until > ?');
      for (const d of digests) cap.run(until, d, until);
    });
  }
}
