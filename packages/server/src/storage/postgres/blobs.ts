import type { BlobDigest, UserId } from '@parley/protocol';
import { StorageError, type BlobQuota, type BlobRecord } from '../storage.js';
import { rows, type PgCore } from './core.js';
import { num, str } from './rows.js';

const DAY = 86400;

/** Blob metadata and per-user upload buckets on PostgreSQL. */
export class PgBlobs {
  constructor(private readonly core: PgCore) {}

  put(blob: BlobRecord, quota: BlobQuota | undefined, now: number | undefined): Promise<void> {
    return this.core.tx(async (c) => {
      // Uploading bytes the server already holds stores nothing new, so it costs nothing.
      if (quota && (await rows(c, 'SELECT 1 FROM blobs WHERE digest = $1', [blob.digest])).length === 0) {
        if (now === undefined) throw new TypeError('putBlob: `now` is required with a quota');
        const day = Math.floor(now / DAY);
        // Charged first: the bucket's row lock makes one user's concurrent uploads check one after the other.
        await c.query(
          `INSERT INTO blob_usage (user_id, day, bytes, keep_until) VALUES ($1, $2, $3, $4)
           ON CONFLICT (user_id, day) DO UPDATE SET bytes = blob_usage.bytes + EXCLUDED.bytes, keep_until = GREATEST(blob_usage.keep_until, EXCLUDED.keep_until)`,
          [quota.userId, day, blob.size, (day + 1) * DAY + quota.windowSeconds],
        );
        const used = (await rows(c, 'SELECT COALESCE(SUM(bytes), 0) AS n FROM blob_usage WHERE user_id = $1 AND day >= $2', [quota.userId, Math.floor((now - quota.windowSeconds) / DAY)]))[0];
        if (used && num(used, 'n') > quota.maxBytes) {
          throw new StorageError('quota_exceeded', 'too many blob bytes uploaded by this account', { quota: 'blob_bytes' });
        }
      }
      await c.query(
        `INSERT INTO blobs (digest, size, keep_until) VALUES ($1, $2, $3)
         ON CONFLICT (digest) DO UPDATE SET keep_until = GREATEST(blobs.keep_until, EXCLUDED.keep_until)`,
        [blob.digest, blob.size, blob.keepUntil],
      );
    });
  }

  async usage(userId: UserId, windowSeconds: number, now: number): Promise<number> {
    const row = (await this.core.read('SELECT COALESCE(SUM(bytes), 0) AS n FROM blob_usage WHERE user_id = $1 AND day >= $2', [userId, Math.floor((now - windowSeconds) / DAY)]))[0];
    return row ? num(row, 'n') : 0;
  }

  async get(digest: BlobDigest): Promise<BlobRecord | undefined> {
    const row = (await this.core.read('SELECT digest, size, keep_until FROM blobs WHERE digest = $1', [digest]))[0];
    if (!row) return undefined;
    return { digest: str(row, 'digest') as BlobDigest, size: num(row, 'size'), keepUntil: num(row, 'keep_until') };
  }

  async collectable(now: number, limit: number): Promise<BlobDigest[]> {
    return (
      await this.core.read(
        `SELECT digest FROM blobs b WHERE keep_until <= $1
         AND NOT EXISTS (SELECT 1 FROM blob_refs r WHERE r.digest = b.digest)
         AND NOT EXISTS (SELECT 1 FROM profiles p WHERE p.picture_blob = b.digest) ORDER BY digest COLLATE "C" LIMIT $2`,
        [now, limit],
      )
    ).map((r) => str(r, 'digest') as BlobDigest);
  }

  delete(digests: readonly BlobDigest[]): Promise<BlobDigest[]> {
    return this.core.tx(async (c) => {
      if (digests.length === 0) return [];
      const list = [...new Set(digests)];
      // Lock first, then check references in a later statement whose fresh snapshot
      // includes any message or profile that referenced the blob while we waited.
      await c.query('SELECT digest FROM blobs WHERE digest = ANY($1::text[]) ORDER BY digest COLLATE "C" FOR UPDATE', [list]);
      const deleted = new Set(
        (
          await rows(
            c,
            `DELETE FROM blobs WHERE digest = ANY($1::text[])
             AND NOT EXISTS (SELECT 1 FROM blob_refs r WHERE r.digest = blobs.digest)
             AND NOT EXISTS (SELECT 1 FROM profiles p WHERE p.picture_blob = blobs.digest) RETURNING digest`,
            [list],
          )
        ).map((r) => str(r, 'digest')),
      );
      const out: BlobDigest[] = [];
      for (const d of digests) {
        if (deleted.delete(d)) out.push(d);
      }
      return out;
    });
  }

  /** Upload buckets that can no longer count in any window they were charged under. */
  async sweep(now: number): Promise<number> {
    return (await this.core.one('DELETE FROM blob_usage WHERE keep_until <= $1', [now])).rowCount;
  }
}
