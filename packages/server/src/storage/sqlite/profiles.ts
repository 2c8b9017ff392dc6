import type { BlobDigest, ProfileVersion, UserId } from '@parley/protocol';
import { StorageError, type ProfileRecord } from '../storage.js';
import type { SqliteCore } from './core.js';
import { bytes, str, type Row } from './rows.js';

/** Encrypted profiles on SQLite: one row per user (see Storage.putProfile). */
export class SqliteProfiles {
  constructor(private readonly core: SqliteCore) {}

  private q(sql: string) {
    return this.core.q(sql);
  }

  put(p: ProfileRecord, releasedKeepUntil: number): Promise<void> {
    return this.core.writes.run(() => {
      if (this.q('SELECT 1 FROM users WHERE id = ? AND purge_at IS NULL').get(p.userId) === undefined) throw new StorageError('not_found', 'user not found');
      if (p.pictureBlob !== null && this.q('SELECT 1 FROM blobs WHERE digest = ?').get(p.pictureBlob) === undefined) {
        throw new StorageError('not_found', 'referenced blob not found', { blob: p.pictureBlob });
      }
      const holder = this.core.pluck('SELECT user_id FROM profiles WHERE version = ?').get(p.version) as string | undefined;
      if (holder !== undefined && holder !== p.userId) throw new StorageError('profile_version_taken', 'another account holds this profile version');
      const old = this.oldPicture(p.userId);
      this.q(
        `INSERT INTO profiles (user_id, version, ciphertext, picture_blob, updated_day) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (user_id) DO UPDATE SET version = excluded.version, ciphertext = excluded.ciphertext,
           picture_blob = excluded.picture_blob, updated_day = excluded.updated_day`,
      ).run(p.userId, p.version, p.ciphertext, p.pictureBlob, p.updatedDay);
      if (old !== null && old !== p.pictureBlob) this.release(old, releasedKeepUntil);
    });
  }

  get(version: ProfileVersion): ProfileRecord | undefined {
    const row = this.q('SELECT user_id, version, ciphertext, picture_blob, updated_day FROM profiles WHERE version = ?').get(version) as Row | undefined;
    if (!row) return undefined;
    const picture = row['picture_blob'];
    return {
      userId: str(row, 'user_id') as UserId,
      version: str(row, 'version') as ProfileVersion,
      ciphertext: Uint8Array.from(bytes(row, 'ciphertext')),
      pictureBlob: picture === null ? null : (str(row, 'picture_blob') as BlobDigest),
      updatedDay: str(row, 'updated_day'),
    };
  }

  delete(userId: UserId, releasedKeepUntil: number): Promise<boolean> {
    return this.core.writes.run(() => deleteProfileSync(this.core, userId, { raiseTo: releasedKeepUntil }));
  }

  private oldPicture(userId: UserId): BlobDigest | null {
    return pictureOf(this.core, userId);
  }

  private release(digest: BlobDigest, keepUntil: number): void {
    this.q('UPDATE blobs SET keep_until = MAX(keep_until, ?) WHERE digest = ?').run(keepUntil, digest);
  }
}

function pictureOf(core: SqliteCore, userId: UserId): BlobDigest | null {
  const v = core.pluck('SELECT picture_blob FROM profiles WHERE user_id = ?').get(userId) as string | null | undefined;
  return typeof v === 'string' ? (v as BlobDigest) : null;
}

/**
 * Deletes the user's profile inside a running write (DELETE /v1/profile, and
 * account deletion). Its picture's keepUntil is raised to `raiseTo` (a
 * released picture keeps a grace) or lowered to `capAt` (a deleted account's
 * goes at the next collection after it).
 */
export function deleteProfileSync(core: SqliteCore, userId: UserId, keep: { raiseTo: number } | { capAt: number }): boolean {
  const old = pictureOf(core, userId);
  const deleted = core.q('DELETE FROM profiles WHERE user_id = ?').run(userId).changes > 0;
  if (old !== null) {
    if ('raiseTo' in keep) core.q('UPDATE blobs SET keep_until = MAX(keep_until, ?) WHERE digest = ?').run(keep.raiseTo, old);
    else core.q('UPDATE blobs SET keep_until = MIN(keep_until, ?) WHERE digest = ?').run(keep.capAt, old);
  }
  return deleted;
}
