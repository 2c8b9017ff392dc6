import type { BlobDigest, UserId } from '@parley/protocol';
import { StorageError, type BlobQuota, type BlobRecord } from '../storage.js';
import type { SqliteCore } from './core.js';
import { num, plainNum, str, type Row } from './rows.js';

const DAY = 86400;

/** First day bucket that still counts in a window of `windowSeconds` ending at `now` (partial days count whole). */
export function firstDay(now: number, windowSeconds: number): number {
  return Math.floor((now - windowSeconds) / DAY);
}

/** Blob metadata and per-user upload buckets on SQLite. */
export class SqliteBlobs {
  constructor(private readonly core: SqliteCore) {}

  private q(sql: string) {
    return this.core.q(sql);
  }

  put(blob: BlobRecord, quota: BlobQuota | undefined, now: number | undefined): Promise<void> {
    return this.core.writes.run(() => {
      // Uploading bytes the server already holds stores nothing new, so it costs nothing.
      if (quota && this.q('SELECT 1 FROM blobs WHERE digest = ?').get(blob.digest) === undefined) {
        if (now === undefined) throw new TypeError('putBlob: `now` is required with a quota');
        const day = Math.floor(now / DAY);
        this.q(
          `INSERT INTO blob_usage (user_id, day, bytes, keep_until) VALUES (?, ?, ?, ?)
           ON CONFLICT (user_id, day) DO UPDATE SET bytes = bytes + excluded.bytes, keep_until = MAX(keep_until, excluded.keep_until)`,
        ).run(quota.userId, day, blob.size, (day + 1) * DAY + quota.windowSeconds);
        if (this.usage(quota.userId, quota.windowSeconds, now) > quota.maxBytes) {
          throw new StorageError('quota_exceeded', 'too many blob bytes uploaded by this account', { quota: 'blob_bytes' });
        }
      }
      this.q(
        `INSERT INTO blobs (digest, size, keep_until) VALUES (?, ?, ?)
         ON CONFLICT (digest) DO UPDATE SET keep_until = MAX(keep_until, excluded.keep_until)`,
      ).run(blob.digest, blob.size, blob.keepUntil);
    });
  }

  usage(userId: UserId, windowSeconds: number, now: number): number {
    return plainNum(this.core.pluck('SELECT COALESCE(SUM(bytes), 0) FROM blob_usage WHERE user_id = ? AND day >= ?').get(userId, firstDay(now, windowSeconds)));
  }

  get(digest: BlobDigest): BlobRecord | undefined {
    const row = this.q('SELECT digest, size, keep_until FROM blobs WHERE digest = ?').get(digest) as Row | undefined;
    if (!row) return undefined;
    return { digest: str(row, 'digest') as BlobDigest, size: num(row, 'size'), keepUntil: num(row, 'keep_until') };
  }

  collectable(now: number, limit: number): BlobDigest[] {
    return (
      this.q(
        `SELECT digest FROM blobs b WHERE keep_until <= ?
         AND NOT EXISTS (SELECT 1 FROM blob_refs r WHERE r.digest = b.digest)
         AND NOT EXISTS (SELECT 1 FROM profiles p WHERE p.picture_blob = b.digest) ORDER BY digest LIMIT ?`,
      ).all(now, limit) as Row[]
    ).map((r) => str(r, 'digest') as BlobDigest);
  }

  delete(digests: readonly BlobDigest[]): Promise<BlobDigest[]> {
    return this.core.writes.run(() => {
      const del = this.q(
        `DELETE FROM blobs WHERE digest = ? AND NOT EXISTS (SELECT 1 FROM blob_refs r WHERE r.digest = blobs.digest)
         AND NOT EXISTS (SELECT 1 FROM profiles p WHERE p.picture_blob = blobs.digest)`,
      );
      return digests.filter((d) => del.run(d).changes > 0);
    });
  }

  /** Upload buckets that can no longer count in any window they were charged under. */
  sweepSync(now: number): number {
    return this.q('DELETE FROM blob_usage WHERE keep_until <= ?').run(now).changes;
  }
}
