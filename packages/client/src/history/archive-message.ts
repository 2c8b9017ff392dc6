import { z } from 'zod';
import { BlobDigestSchema, DeviceIdSchema, fromBase64Url } from '@parley/protocol';
import type { BlobDigest, DeviceId } from '@parley/protocol';
import { ARCHIVE_FORMAT, MAX_PARTS } from './archive-format.js';

/**
 * The self-group message (kind `history_archive`) that tells a newly linked
 * device where its history archive is and how to open it. Every device of
 * the user receives it (it is an MLS message in the self group); only the
 * device named `forDevice` acts on it.
 */

const Count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const HistoryArchiveFields = {
  /** Random id of this archive (base64url, 16 bytes): a device imports each archive once. */
  archiveId: z.string().regex(/^[A-Za-z0-9_-]{22}$/),
  forDevice: DeviceIdSchema,
  format: z.literal(ARCHIVE_FORMAT),
  /** The parts, in order: each blob's name (SHA-256 of the ciphertext) and size in bytes. */
  blobs: z
    .array(z.object({ digest: BlobDigestSchema, size: z.number().int().min(16).max(Number.MAX_SAFE_INTEGER) }))
    .min(1)
    .max(MAX_PARTS),
  /** The AES-256-GCM key of the parts, base64url. */
  key: z.string().refine((s) => fromBase64Url(s)?.length === 32, 'a 32-byte key in base64url'),
  /** Lower-case hex SHA-256 of the uncompressed plaintext (the JSON lines). */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  counts: z.object({ conversations: Count, messages: Count, media: Count }),
};

export const HistoryArchiveMessageSchema = z.object({ kind: z.literal('history_archive'), ...HistoryArchiveFields });

export interface HistoryArchiveMessage {
  readonly kind: 'history_archive';
  readonly archiveId: string;
  readonly forDevice: DeviceId;
  readonly format: typeof ARCHIVE_FORMAT;
  readonly blobs: ReadonlyArray<{ readonly digest: BlobDigest; readonly size: number }>;
  readonly key: string;
  readonly sha256: string;
  readonly counts: { readonly conversations: number; readonly messages: number; readonly media: number };
}

/** The message's fields in wire order, without the self-message head (type, v, kind). */
export function historyArchiveFields(m: HistoryArchiveMessage): Omit<HistoryArchiveMessage, 'kind'> {
  return { archiveId: m.archiveId, forDevice: m.forDevice, format: m.format, blobs: m.blobs.map((b) => ({ digest: b.digest, size: b.size })), key: m.key, sha256: m.sha256, counts: { ...m.counts } };
}
