import { z } from 'zod';
import { Base64UrlBytes, BlobDigestSchema } from '@parley/protocol';

/** The fields every v1 content document starts with (content.ts), shared by the Moments types (moments.ts). */
export const CONTENT_VERSION = 1;

/** 128 random bits, base64url: a message's own id, for later edits, reactions and receipts. */
export const ContentIdSchema = z.string().regex(/^[A-Za-z0-9_-]{22}$/, 'invalid content id');

export const contentBase = {
  v: z.literal(CONTENT_VERSION),
  id: ContentIdSchema,
  /** Sender's clock, milliseconds since the Unix epoch. Inside the ciphertext, so the server never sees it. */
  sentAt: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
};

export const MAX_ATTACHMENT_SIZE = 2 ** 40;

/** An encrypted blob on the server: its digest, and the key and nonce that open it (attachments.ts), with the plaintext size. */
export const BlobRefSchema = z.object({
  digest: BlobDigestSchema,
  key: Base64UrlBytes(32, 32),
  nonce: Base64UrlBytes(12, 12),
  /** Plaintext size in bytes. */
  size: z.number().int().min(0).max(MAX_ATTACHMENT_SIZE),
});
