import type { Readable } from 'node:stream';
import { ParleyError, type BlobDigest, type BlobUploadResponse, type UserId } from '@parley/protocol';
import { ceilHour } from '../clock.js';
import type { AppContext } from '../context.js';

/**
 * Encrypted attachments. The 256-bit digest is the blob's name and, since the
 * bytes are ciphertext whose key travels only inside MLS messages, knowing it
 * grants nothing but the ciphertext.
 */
export async function uploadBlob(ctx: AppContext, userId: UserId, digest: BlobDigest, body: Readable, declaredLength: number | undefined): Promise<BlobUploadResponse> {
  if (declaredLength !== undefined && declaredLength > ctx.config.maxBlobBytes) {
    throw new ParleyError('payload_too_large', `blobs are limited to ${ctx.config.maxBlobBytes} bytes`);
  }
  const now = ctx.clock.now();
  // Uploaded bytes count for as long as a blob can live without a newer reference.
  const quota = { userId, maxBytes: ctx.config.quotas.blobBytes, windowSeconds: ctx.config.retentionSeconds + ctx.config.blobGraceSeconds };
  // Refused before a byte of the body is read when the declared length already cannot fit.
  const used = await ctx.storage.blobUsage(userId, quota.windowSeconds, now);
  if (used + (declaredLength ?? 1) > quota.maxBytes) {
    throw new ParleyError('quota_exceeded', 'this account’s attachment storage is full', { detail: { quota: 'blob_bytes', maxBytes: quota.maxBytes } });
  }
  const { size } = await ctx.blobs.put(digest, body, ctx.config.maxBlobBytes);
  try {
    await ctx.storage.putBlob({ digest, size, keepUntil: ceilHour(now + ctx.config.blobGraceSeconds) }, quota, now);
  } catch (err) {
    // Refused (an undeclared length past the quota): leave no bytes behind that no record accounts for.
    if (!(await ctx.storage.getBlob(digest).catch(() => undefined))) await ctx.blobs.delete(digest).catch(() => undefined);
    throw err;
  }
  return { digest, size };
}

export async function downloadBlob(ctx: AppContext, digest: BlobDigest): Promise<{ size: number; stream: Readable }> {
  const meta = await ctx.storage.getBlob(digest);
  const file = meta ? await ctx.blobs.get(digest) : undefined;
  if (!file) throw new ParleyError('not_found', 'no such blob');
  return file;
}

/** Deletes blobs that no message references and whose grace period is over. */
export async function collectBlobs(ctx: AppContext, limit = 500): Promise<number> {
  const candidates = await ctx.storage.collectableBlobs(ctx.clock.now(), limit);
  if (candidates.length === 0) return 0;
  const deleted = await ctx.storage.deleteBlobs(candidates);
  for (const d of deleted) await ctx.blobs.delete(d);
  return deleted.length;
}
