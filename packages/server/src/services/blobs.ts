import type { Readable } from 'node:stream';
import { ParleyError, type BlobDigest, type BlobUploadResponse } from '@parley/protocol';
import { ceilHour } from '../clock.js';
import type { AppContext } from '../context.js';

/**
 * Encrypted attachments. The 256-bit digest is the blob's name and, since the
 * bytes are ciphertext whose key travels only inside MLS messages, knowing it
 * grants nothing but the ciphertext.
 */
export async function uploadBlob(ctx: AppContext, digest: BlobDigest, body: Readable, declaredLength: number | undefined): Promise<BlobUploadResponse> {
  if (declaredLength !== undefined && declaredLength > ctx.config.maxBlobBytes) {
    throw new ParleyError('payload_too_large', `blobs are limited to ${ctx.config.maxBlobBytes} bytes`);
  }
  const { size } = await ctx.blobs.put(digest, body, ctx.config.maxBlobBytes);
  await ctx.storage.putBlob({ digest, size, keepUntil: ceilHour(ctx.clock.now() + ctx.config.blobGraceSeconds) });
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
