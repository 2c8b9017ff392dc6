import { ParleyError, toBase64Url, type BlobDigest, type ProfileVersion, type UserId } from '@parley/protocol';
import { ceilHour, dayOf } from '../clock.js';
import type { AppContext } from '../context.js';

/**
 * Encrypted profiles (docs/protocol.md, "Profiles (server)"). Each user has at
 * most one: opaque ciphertext stored under an opaque version that only holders
 * of the user's profile key can derive. The server checks forms and sizes (the
 * route's schema), that the picture blob was uploaded, and nothing else: it
 * cannot read a profile, nor tell whether a ciphertext is one.
 *
 * The picture blob need not be this account's own upload: the blob table
 * keeps no uploader (on purpose, see the threat model), so the server could
 * not tell. Referring to a blob someone else uploaded only keeps that
 * ciphertext stored while the profile refers to it — one blob per account,
 * whose digest the referrer must already know.
 */

/** Stores the caller's profile, replacing the previous one; a released picture keeps the blob grace period. */
export async function putProfile(ctx: AppContext, userId: UserId, body: { version: ProfileVersion; ciphertext: Uint8Array; pictureBlob: BlobDigest | null }): Promise<void> {
  const now = ctx.clock.now();
  await ctx.storage.putProfile(
    { userId, version: body.version, ciphertext: body.ciphertext, pictureBlob: body.pictureBlob, updatedDay: dayOf(now) },
    ceilHour(now + ctx.config.blobGraceSeconds),
  );
}

/** Any signed-in account may read a profile by its version: knowing the version means holding the key. */
export async function getProfile(ctx: AppContext, version: ProfileVersion): Promise<{ userId: UserId; ciphertext: string; pictureBlob: BlobDigest | null }> {
  const p = await ctx.storage.getProfile(version);
  if (!p) throw new ParleyError('not_found', 'no profile with this version');
  // The owner is named: the reader derived the version from that user's id, so this tells it nothing new.
  return { userId: p.userId, ciphertext: toBase64Url(p.ciphertext), pictureBlob: p.pictureBlob };
}

/** Deletes the caller's profile (none is fine); its picture keeps the blob grace period, then goes. */
export async function deleteProfile(ctx: AppContext, userId: UserId): Promise<void> {
  await ctx.storage.deleteProfile(userId, ceilHour(ctx.clock.now() + ctx.config.blobGraceSeconds));
}
