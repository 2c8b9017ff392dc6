import { z } from 'zod';
import { BlobDigestSchema, GroupIdSchema } from '@parley/protocol';

/**
 * The history archive (format version 1) that a device sends to a newly
 * linked device of the same user (docs/protocol.md, "History on a linked
 * device"):
 *
 *   plaintext  = JSON lines (UTF-8, one object per line, '\n' after each):
 *                a `head` line, then per conversation a `conv` line followed
 *                by its `msg` lines (stored message records, ascending seq)
 *                and its `media` lines (each followed by `chunks` `chunk`
 *                lines), then `moment` lines (Moments posts, comments and
 *                likes this device holds, moments/moment-archive.ts), then
 *                one `end` line with the counts.
 *   compressed = gzip(plaintext) (CompressionStream), streamed.
 *   parts      = compressed cut into pieces of at most `partBytes`;
 *                part i = AES-256-GCM(key, nonce = 8 zero bytes ‖ u32be(i),
 *                aad = "parley-history/1" ‖ u32be(i) ‖ u8(last)) — a fresh
 *                random key per archive, so nonces never repeat under it;
 *                `last` marks the final part, so a truncated list fails.
 *   blobs      = each part uploaded as one blob (name = SHA-256 of it).
 *
 * The self-group message (archive-message.ts) carries the blob list in
 * order, the key, the SHA-256 of the plaintext and the counts. Everything
 * in it is checked on the receiving device before anything is stored.
 */

export const ARCHIVE_FORMAT = 1;
/** At most this many parts: a self-group message may keep at most 32 blobs from garbage collection (protocol SendFrame). */
export const MAX_PARTS = 32;
/** Default size of one part (ciphertext is 16 bytes more): well under the server's default blob limit (100 MiB). */
export const DEFAULT_PART_BYTES = 24 * 1024 * 1024;
/** A line longer than this is refused (a media chunk line is ~700 KB). */
export const MAX_LINE_CHARS = 4 * 1024 * 1024;
/** Raw bytes of media per `chunk` line. */
export const MEDIA_CHUNK_BYTES = 512 * 1024;
/** Bounds on what one archive may hold (the receiving device holds one import in memory). */
export const MAX_ARCHIVE_MESSAGES = 2_000_000;
export const MAX_ARCHIVE_CONVERSATIONS = 100_000;

/** WebCrypto's key type (the client's lib settings have no DOM `CryptoKey` type name). */
export type ArchiveKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

const AAD_LABEL = new TextEncoder().encode('parley-history/1');

const Millis = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const Count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const HeadLineSchema = z.object({
  t: z.literal('head'),
  v: z.literal(ARCHIVE_FORMAT),
  createdAt: Millis,
  scope: z.enum(['month', 'all']),
  /** The oldest receivedAt included (month), or null (all). */
  since: Millis.nullable(),
});

export const ConvLineSchema = z.object({
  t: z.literal('conv'),
  id: GroupIdSchema,
  /** The sending device's read position there: what was read there reads as read here too. */
  readSeq: Count,
});

export const MsgLineSchema = z.object({
  t: z.literal('msg'),
  /** The record's key in the `messages` table (it must belong to the current conversation). */
  key: z.string().min(1).max(512),
  /** The record exactly as the sending device's store keeps it (validated with the store's schemas here). */
  value: z.string().min(2).max(MAX_LINE_CHARS),
});

export const MediaLineSchema = z.object({
  t: z.literal('media'),
  /** The message (in the current conversation, earlier in the archive) whose blob these bytes are. */
  seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  digest: BlobDigestSchema,
  mimeType: z.string().min(1).max(255),
  size: z.number().int().min(0).max(1024 * 1024 * 1024),
  chunks: z.number().int().min(0).max(2048),
});

export const ChunkLineSchema = z.object({ t: z.literal('chunk'), data: z.string().max(MAX_LINE_CHARS) });

/** One Moments record (a post, a comment, a like) as the sending device's store keeps it; validated with the Moments schemas. */
export const MomentLineSchema = z.object({ t: z.literal('moment'), key: z.string().min(1).max(512), value: z.string().min(2).max(MAX_LINE_CHARS) });
/** At most this many Moments records in one archive. */
export const MAX_ARCHIVE_MOMENTS = 200_000;

/** `moments`: absent in archives from devices before Moments (none). */
export const EndLineSchema = z.object({ t: z.literal('end'), conversations: Count, messages: Count, media: Count, moments: Count.optional() });

export const ArchiveLineSchema = z.discriminatedUnion('t', [HeadLineSchema, ConvLineSchema, MsgLineSchema, MediaLineSchema, ChunkLineSchema, MomentLineSchema, EndLineSchema]);
export type ArchiveLine = z.output<typeof ArchiveLineSchema>;

export interface ArchiveCounts {
  readonly conversations: number;
  readonly messages: number;
  readonly media: number;
}

export function partNonce(index: number): Uint8Array<ArrayBuffer> {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setUint32(8, index);
  return nonce;
}

export function partAad(index: number, last: boolean): Uint8Array<ArrayBuffer> {
  const aad = new Uint8Array(AAD_LABEL.length + 5);
  aad.set(AAD_LABEL);
  new DataView(aad.buffer).setUint32(AAD_LABEL.length, index);
  aad[AAD_LABEL.length + 4] = last ? 1 : 0;
  return aad;
}

export async function importArchiveKey(raw: Uint8Array, usage: 'encrypt' | 'decrypt'): Promise<ArchiveKey> {
  return crypto.subtle.importKey('raw', raw as Uint8Array<ArrayBuffer>, 'AES-GCM', false, [usage]);
}

export async function encryptPart(key: ArchiveKey, index: number, last: boolean, plaintext: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: partNonce(index), additionalData: partAad(index, last) }, key, plaintext as Uint8Array<ArrayBuffer>));
}

/** Throws when the tag does not verify (wrong key, changed bytes, wrong position). */
export async function decryptPart(key: ArchiveKey, index: number, last: boolean, ciphertext: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: partNonce(index), additionalData: partAad(index, last) }, key, ciphertext as Uint8Array<ArrayBuffer>));
}

export function concatBytes(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
