import type { PoolClient } from 'pg';
import type { BlobDigest, ProfileVersion, UserId } from '@parley/protocol';
import { StorageError, type ProfileRecord } from '../storage.js';
import { rows, type PgCore } from './core.js';
import { bytes, isUniqueViolation, str, type Row } from './rows.js';

const takenError = () => new StorageError('profile_version_taken', 'another account holds this profile version');

/**
 * Encrypted profiles on PostgreSQL: one row per user (see Storage.putProfile).
 * Lock order as everywhere (postgres-storage.ts): the user row first — every
 * writer of a user's profile holds it, account deletion included — then the
 * blobs involved, in digest order, so a concurrent blob deletion either ends
 * first (the picture is then missing) or sees the new reference.
 */
export class PgProfiles {
  constructor(private readonly core: PgCore) {}

  put(p: ProfileRecord, releasedKeepUntil: number): Promise<void> {
    return this.core.tx(async (c) => {
      if ((await rows(c, 'SELECT 1 FROM users WHERE id = $1 AND purge_at IS NULL FOR NO KEY UPDATE', [p.userId])).length === 0) {
        throw new StorageError('not_found', 'user not found');
      }
      const old = await pictureOf(c, p.userId);
      const involved = [...new Set([p.pictureBlob, old].filter((d): d is BlobDigest => d !== null))];
      const present = new Set(
        involved.length === 0
          ? []
          : (await rows(c, 'SELECT digest FROM blobs WHERE digest = ANY($1::text[]) ORDER BY digest COLLATE "C" FOR NO KEY UPDATE', [involved])).map((r) => str(r, 'digest')),
      );
      if (p.pictureBlob !== null && !present.has(p.pictureBlob)) throw new StorageError('not_found', 'referenced blob not found', { blob: p.pictureBlob });
      const holder = (await rows(c, 'SELECT user_id FROM profiles WHERE version = $1', [p.version]))[0];
      if (holder && str(holder, 'user_id') !== p.userId) throw takenError();
      try {
        await c.query(
          `INSERT INTO profiles (user_id, version, ciphertext, picture_blob, updated_day) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (user_id) DO UPDATE SET version = EXCLUDED.version, ciphertext = EXCLUDED.ciphertext,
             picture_blob = EXCLUDED.picture_blob, updated_day = EXCLUDED.updated_day`,
          [p.userId, p.version, p.ciphertext, p.pictureBlob, p.updatedDay],
        );
      } catch (err) {
        // Another account took the version between the check and the write.
        if (isUniqueViolation(err)) throw takenError();
        throw err;
      }
      if (old !== null && old !== p.pictureBlob) await c.query('UPDATE blobs SET keep_until = GREATEST(keep_until, $2) WHERE digest = $1', [old, releasedKeepUntil]);
    });
  }

  async get(version: ProfileVersion): Promise<ProfileRecord | undefined> {
    const row = (await this.core.read('SELECT user_id, version, ciphertext, picture_blob, updated_day FROM profiles WHERE version = $1', [version]))[0];
    return row ? toProfile(row) : undefined;
  }

  delete(userId: UserId, releasedKeepUntil: number): Promise<boolean> {
    return this.core.tx(async (c) => {
      await c.query('SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE', [userId]);
      return deleteProfileIn(c, userId, { raiseTo: releasedKeepUntil });
    });
  }
}

function toProfile(row: Row): ProfileRecord {
  const picture = row['picture_blob'];
  return {
    userId: str(row, 'user_id') as UserId,
    version: str(row, 'version') as ProfileVersion,
    ciphertext: bytes(row, 'ciphertext'),
    pictureBlob: picture === null ? null : (str(row, 'picture_blob') as BlobDigest),
    updatedDay: str(row, 'updated_day'),
  };
}

async function pictureOf(c: PoolClient, userId: UserId): Promise<BlobDigest | null> {
  const row = (await rows(c, 'SELECT picture_blob FROM profiles WHERE user_id = $1', [userId]))[0];
  const v = row?.['picture_blob'];
  return typeof v === 'string' ? (v as BlobDigest) : null;
}

/**
 * Deletes the user's profile in a transaction that holds the user row
 * (DELETE /v1/profile, and account deletion). Its picture's keepUntil is
 * raised to `raiseTo` (a released picture keeps a grace) or lowered to
 * `capAt` (a deleted account's goes at the next collection after it).
 */
export async function deleteProfileIn(c: PoolClient, userId: UserId, keep: { raiseTo: number } | { capAt: number }): Promise<boolean> {
  const deleted = await rows(c, 'DELETE FROM profiles WHERE user_id = $1 RETURNING picture_blob', [userId]);
  const picture = deleted[0]?.['picture_blob'];
  if (typeof picture === 'string') {
    if ('raiseTo' in keep) await c.query('UPDATE blobs SET keep_until = GREATEST(keep_until, $2) WHERE digest = $1', [picture, keep.raiseTo]);
    else await c.query('UPDATE blobs SET keep_until = LEAST(keep_until, $2) WHERE digest = $1', [picture, keep.capAt]);
  }
  return deleted.length > 0;
}
