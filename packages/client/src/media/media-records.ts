import { z } from 'zod';
import { blobDigest } from '@parley/crypto';
import type { MessageContent } from '@parley/crypto';
import { BlobDigestSchema, fromBase64Url, GroupIdSchema, toBase64Url } from '@parley/protocol';
import type { BlobDigest } from '@parley/protocol';
import type { Store } from '../store/store.js';
import type { StoreBatch } from '../store/records.js';

/**
 * The records of media kept on the device, in the store's `media` table.
 * Decrypted bytes are stored as base64url strings in fixed-size chunks, so
 * that no single value grows past what every adapter handles comfortably:
 *
 * - `h/<digest>`: the header (JSON): plaintext size, mime type, chunk count,
 *   SHA-256 of the plaintext, when it was stored.
 * - `c/<digest>/<index, 6 digits>`: chunk `index` (CHUNK_BYTES bytes, the
 *   last one shorter), base64url, not JSON.
 * - `q/<digest>`: a pending background download (JSON): which message to
 *   fetch it for. Removed in the batch that stores the bytes, or when the
 *   download cannot succeed.
 *
 * `<digest>` is the blob's name on the server (SHA-256 of the ciphertext).
 * The header and every chunk are written in one batch; reading checks the
 * chunk count, every chunk's length and the plaintext hash, and a copy that
 * fails is dropped (and fetched again while the server has it).
 */

/** Part of the record format: deleteMediaFor derives the chunk keys from it and the size. */
export const CHUNK_BYTES = 512 * 1024;
/** The most a device may be told to keep per file (mediaSettings): bounds the chunks of one file. */
export const MAX_KEPT_BYTES = 1024 * 1024 * 1024;
const MAX_CHUNKS = Math.ceil(MAX_KEPT_BYTES / CHUNK_BYTES);
const RECORD_VERSION = 1;

const HeaderSchema = z.object({
  v: z.literal(RECORD_VERSION),
  size: z.number().int().min(0).max(MAX_KEPT_BYTES),
  mimeType: z.string().min(1).max(255),
  chunks: z.number().int().min(0).max(MAX_CHUNKS),
  /** Hex SHA-256 of the plaintext (the digest in the key names the ciphertext, which is not kept). */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /**
   * Hex SHA-256 of the message's key and nonce: the copy is handed out only
   * for content that names this blob with the key it was kept under (another
   * message naming the same digest with other secrets does not get it).
   */
  keyCheck: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.number().int().min(0),
});
export type MediaHeader = Omit<z.output<typeof HeaderSchema>, 'v'>;

const QueueSchema = z.object({
  v: z.literal(RECORD_VERSION),
  conversationId: GroupIdSchema,
  seq: z.number().int().min(1),
  /** Failed attempts so far (network errors); the job is dropped after MAX_ATTEMPTS. */
  attempts: z.number().int().min(0).max(1000),
});
export type MediaJob = Omit<z.output<typeof QueueSchema>, 'v'> & { readonly digest: BlobDigest };

const HEADER_PREFIX = 'h/';
const CHUNK_PREFIX = 'c/';
const QUEUE_PREFIX = 'q/';

const headerKey = (digest: BlobDigest) => `${HEADER_PREFIX}${digest}`;
const chunkPrefix = (digest: BlobDigest) => `${CHUNK_PREFIX}${digest}/`;
const chunkKey = (digest: BlobDigest, index: number) => `${chunkPrefix(digest)}${index.toString().padStart(6, '0')}`;
const queueKey = (digest: BlobDigest) => `${QUEUE_PREFIX}${digest}`;

function chunkCount(size: number): number {
  return Math.ceil(size / CHUNK_BYTES);
}

/** The blob of content that carries one (attachments, voice messages), else undefined. */
export interface MediaBlob {
  readonly digest: BlobDigest;
  readonly size: number;
  readonly key: Uint8Array;
  readonly nonce: Uint8Array;
}

export function blobOf(content: { readonly type: string }): MediaBlob | undefined {
  const c = content as MessageContent;
  return c.type === 'attachment' || c.type === 'voice' ? c.blob : undefined;
}

/**
 * Adds to `batch` the deletion of everything this device keeps for the
 * media of `content` (its bytes and a pending download), if it has any.
 * For the modules that remove a message (delete for everyone, disappearing
 * messages): call it in the batch that removes the message. Reads nothing;
 * content without media adds nothing.
 */
export function deleteMediaFor(batch: StoreBatch, content: { readonly type: string }): void {
  const blob = blobOf(content);
  if (blob === undefined) return;
  deleteMediaRecords(batch, blob.digest, blob.size);
}

function deleteMediaRecords(batch: StoreBatch, digest: BlobDigest, size: number): void {
  const chunks = size <= MAX_KEPT_BYTES ? chunkCount(size) : 0;
  batch.deleteAll([
    { table: 'media', key: headerKey(digest) },
    { table: 'media', key: queueKey(digest) },
    ...Array.from({ length: chunks }, (_, i) => ({ table: 'media' as const, key: chunkKey(digest, i) })),
  ]);
}

async function keyCheck(blob: MediaBlob): Promise<string> {
  const both = new Uint8Array(blob.key.length + blob.nonce.length);
  both.set(blob.key);
  both.set(blob.nonce, blob.key.length);
  return blobDigest(both);
}

function parseJson<T>(schema: z.ZodType<T>, text: string): T | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const r = schema.safeParse(json);
  return r.success ? r.data : undefined;
}

/** Typed access to the `media` table. Every read is checked; nothing here talks to the server. */
export class MediaRecords {
  constructor(private readonly store: Store) {}

  /** The header of a kept file, if there is a valid one. */
  async header(digest: BlobDigest): Promise<MediaHeader | undefined> {
    const text = await this.store.get('media', headerKey(digest));
    return text === undefined ? undefined : parseJson(HeaderSchema, text);
  }

  /**
   * The kept bytes for `blob`, checked against the header (chunk count,
   * chunk lengths, plaintext hash) and the size, key and nonce the message
   * states. `missing`: nothing kept for this blob with these secrets;
   * `corrupt`: something is kept but fails a check.
   */
  async read(blob: MediaBlob): Promise<{ bytes: Uint8Array } | 'missing' | 'corrupt'> {
    const { digest, size } = blob;
    const text = await this.store.get('media', headerKey(digest));
    if (text === undefined) return 'missing';
    const header = parseJson(HeaderSchema, text);
    if (header === undefined || header.chunks !== chunkCount(header.size)) return 'corrupt';
    if (header.size !== size || header.keyCheck !== (await keyCheck(blob))) return 'missing';
    const rows = await this.store.list('media', { prefix: chunkPrefix(digest) });
    if (rows.length !== header.chunks) return 'corrupt';
    const bytes = new Uint8Array(size);
    for (const [i, row] of rows.entries()) {
      const chunk = row.key === chunkKey(digest, i) ? fromBase64Url(row.value) : undefined;
      const expected = i < header.chunks - 1 ? CHUNK_BYTES : size - CHUNK_BYTES * i;
      if (chunk === undefined || chunk.length !== expected) return 'corrupt';
      bytes.set(chunk, CHUNK_BYTES * i);
    }
    if ((await blobDigest(bytes)) !== header.sha256) return 'corrupt';
    return { bytes };
  }

  /** Adds the writes that keep `bytes` (header and chunks) to `batch`, and settles a pending download. */
  async put(batch: StoreBatch, blob: MediaBlob, bytes: Uint8Array, mimeType: string): Promise<void> {
    if (bytes.length > MAX_KEPT_BYTES || bytes.length !== blob.size) throw new RangeError('not the size to keep');
    const digest = blob.digest;
    const header = { v: RECORD_VERSION, size: bytes.length, mimeType, chunks: chunkCount(bytes.length), sha256: await blobDigest(bytes), keyCheck: await keyCheck(blob), createdAt: Date.now() };
    for (let i = 0; i < header.chunks; i++) batch.putText('media', chunkKey(digest, i), toBase64Url(bytes.subarray(CHUNK_BYTES * i, CHUNK_BYTES * (i + 1))));
    batch.putText('media', headerKey(digest), JSON.stringify(header));
    batch.deleteAll([{ table: 'media', key: queueKey(digest) }]);
  }

  /** Adds the deletion of a kept copy (whatever its header says it holds) and any pending download of it to `batch`. */
  async drop(batch: StoreBatch, digest: BlobDigest): Promise<void> {
    const header = await this.header(digest);
    deleteMediaRecords(batch, digest, header?.size ?? 0);
    // A header that no longer parses: its chunks are found by listing.
    if (header === undefined) batch.deleteAll((await this.store.list('media', { prefix: chunkPrefix(digest) })).map((row) => ({ table: 'media' as const, key: row.key })));
  }

  /** Every kept file's header (not its bytes). */
  async headers(): Promise<Array<{ digest: BlobDigest; header: MediaHeader | undefined }>> {
    const rows = await this.store.list('media', { prefix: HEADER_PREFIX });
    return rows.map((row) => {
      const digest = BlobDigestSchema.safeParse(row.key.slice(HEADER_PREFIX.length));
      return { digest: (digest.success ? digest.data : row.key.slice(HEADER_PREFIX.length)) as BlobDigest, header: parseJson(HeaderSchema, row.value) };
    });
  }

  queue(batch: StoreBatch, job: MediaJob): void {
    batch.putText('media', queueKey(job.digest), JSON.stringify({ v: RECORD_VERSION, conversationId: job.conversationId, seq: job.seq, attempts: job.attempts }));
  }

  dequeue(batch: StoreBatch, digest: BlobDigest): void {
    batch.deleteAll([{ table: 'media', key: queueKey(digest) }]);
  }

  async job(digest: BlobDigest): Promise<MediaJob | undefined> {
    const text = await this.store.get('media', queueKey(digest));
    const job = text === undefined ? undefined : parseJson(QueueSchema, text);
    return job === undefined ? undefined : { digest, conversationId: job.conversationId, seq: job.seq, attempts: job.attempts };
  }

  /** Pending downloads; a malformed one is returned as `undefined` job with its key, for the caller to drop. */
  async jobs(): Promise<Array<{ key: string; job: MediaJob | undefined }>> {
    const rows = await this.store.list('media', { prefix: QUEUE_PREFIX });
    return rows.map((row) => {
      const digest = BlobDigestSchema.safeParse(row.key.slice(QUEUE_PREFIX.length));
      const job = parseJson(QueueSchema, row.value);
      return { key: row.key, job: digest.success && job !== undefined ? { digest: digest.data, conversationId: job.conversationId, seq: job.seq, attempts: job.attempts } : undefined };
    });
  }

  /** Adds the deletion of everything in the table to `batch`: every kept file (chunk keys from its header) and every pending download. */
  async clear(batch: StoreBatch): Promise<void> {
    for (const { digest, header } of await this.headers()) {
      if (header === undefined) await this.drop(batch, digest);
      else deleteMediaRecords(batch, digest, header.size);
    }
    batch.deleteAll((await this.store.list('media', { prefix: QUEUE_PREFIX })).map((row) => ({ table: 'media' as const, key: row.key })));
  }
}
