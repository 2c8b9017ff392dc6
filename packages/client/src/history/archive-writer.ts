import { sha256 } from '@noble/hashes/sha2.js';
import { blobDigest } from '@parley/crypto';
import { toBase64Url, toHex } from '@parley/protocol';
import type { BlobDigest, GroupId } from '@parley/protocol';
import { ClientError } from '../errors.js';
import { blobOf, MediaRecords } from '../media/media-records.js';
import { toMessage } from '../store/message-records.js';
import type { Store } from '../store/store.js';
import { concatBytes, encryptPart, importArchiveKey, MAX_PARTS, MEDIA_CHUNK_BYTES } from './archive-format.js';
import type { ArchiveCounts, ArchiveKey, ArchiveLine } from './archive-format.js';

/** Which history a new device gets: none, the last 30 days (by when this device received each message), or all of it. */
export type HistoryScope = 'none' | 'month' | 'all';
export const MONTH_MS = 30 * 24 * 60 * 60 * 1000;
/** Messages read from the store per page while writing. */
const PAGE = 500;
/** Lines are gathered into pieces of about this many bytes before they go to the compressor. */
const FLUSH_CHARS = 64 * 1024;

export interface WrittenArchive {
  readonly blobs: Array<{ digest: BlobDigest; size: number }>;
  readonly key: string;
  readonly sha256: string;
  readonly counts: ArchiveCounts;
}

export interface ArchiveSource {
  readonly store: Store;
  /** The conversations to include, with this device's read position in each. */
  readonly conversations: ReadonlyArray<{ id: GroupId; readSeq: number }>;
  readonly scope: 'month' | 'all';
  readonly now: number;
  readonly partBytes: number;
  /** The Moments records to pass on (posts since `since`, with their comments and likes): moments/moment-archive.ts. */
  readonly moments?: (since: number | null) => AsyncIterable<{ key: string; value: string }>;
  /** Uploads one encrypted part (a blob named by its SHA-256). */
  upload(digest: BlobDigest, bytes: Uint8Array): Promise<void>;
  isClosed(): boolean;
}

/**
 * Writes the archive (archive-format.ts) from the store, streaming: one page
 * of messages and one media file at a time are in memory, plus the part
 * being filled. Each full part is encrypted and uploaded as it fills, so a
 * large history never sits in memory whole.
 */
export async function writeArchive(src: ArchiveSource): Promise<WrittenArchive> {
  const rawKey = crypto.getRandomValues(new Uint8Array(32));
  const key = await importArchiveKey(rawKey, 'encrypt');
  const parts = new PartSink(key, src.partBytes, src.upload);
  const gzip = new CompressionStream('gzip');
  const draining = parts.drain(gzip.readable);
  const lines = new LineWriter(gzip.writable.getWriter());
  const since = src.scope === 'month' ? src.now - MONTH_MS : null;
  const media = new MediaRecords(src.store);
  const counts = { conversations: 0, messages: 0, media: 0 };
  let moments = 0;
  try {
    await lines.put({ t: 'head', v: 1, createdAt: src.now, scope: src.scope, since });
    for (const conv of src.conversations) {
      if (src.isClosed()) throw new ClientError('closed', 'the client closed while writing the history archive');
      await lines.put({ t: 'conv', id: conv.id, readSeq: conv.readSeq });
      counts.conversations++;
      const withMedia: Array<{ seq: number; blob: NonNullable<ReturnType<typeof blobOf>> }> = [];
      let after: string | undefined;
      for (;;) {
        const rows = await src.store.list('messages', { prefix: `${conv.id}/`, limit: PAGE, ...(after === undefined ? {} : { after }) });
        for (const row of rows) {
          let record;
          try {
            record = toMessage(row.key, row.value);
          } catch {
            continue; // a corrupt record is not passed on (the receiver would refuse the whole archive)
          }
          if (since !== null && record.receivedAt < since) continue;
          if (record.expiresAt !== undefined && record.expiresAt <= src.now) continue;
          await lines.put({ t: 'msg', key: row.key, value: row.value });
          counts.messages++;
          const blob = blobOf(record.content);
          if (blob !== undefined) withMedia.push({ seq: record.seq, blob });
        }
        if (rows.length < PAGE) break;
        after = rows[rows.length - 1]?.key;
      }
      // The media this device keeps for them, one file at a time.
      for (const { seq, blob } of withMedia) {
        const header = await media.header(blob.digest);
        if (header === undefined) continue;
        const kept = await media.read(blob);
        if (typeof kept !== 'object') continue;
        const chunks = Math.ceil(kept.bytes.length / MEDIA_CHUNK_BYTES);
        await lines.put({ t: 'media', seq, digest: blob.digest, mimeType: header.mimeType, size: kept.bytes.length, chunks });
        for (let i = 0; i < chunks; i++) await lines.put({ t: 'chunk', data: toBase64Url(kept.bytes.subarray(i * MEDIA_CHUNK_BYTES, (i + 1) * MEDIA_CHUNK_BYTES)) });
        counts.media++;
      }
    }
    if (src.moments !== undefined) {
      for await (const m of src.moments(since)) {
        if (src.isClosed()) throw new ClientError('closed', 'the client closed while writing the history archive');
        await lines.put({ t: 'moment', key: m.key, value: m.value });
        moments++;
      }
    }
    await lines.put({ t: 'end', ...counts, ...(moments === 0 ? {} : { moments }) });
    await lines.close();
  } catch (err) {
    await lines.abort(err);
    // The sink's own failure (an upload) is the cause; the writer only saw its stream cancelled.
    const sinkError = await draining.then(
      () => undefined,
      (e: unknown) => e,
    );
    throw sinkError ?? err;
  }
  await draining;
  return { blobs: parts.blobs, key: toBase64Url(rawKey), sha256: toHex(lines.digest()), counts };
}

/** The writer of a CompressionStream, as both the DOM and Node typings accept it. */
interface ByteWriter {
  readonly ready: Promise<unknown>;
  write(chunk: Uint8Array<ArrayBuffer>): Promise<void>;
  close(): Promise<void>;
  abort(reason?: unknown): Promise<void>;
}

/** JSON lines into the compressor, gathered into pieces, hashed as written. */
class LineWriter {
  private readonly hash = sha256.create();
  private pending: string[] = [];
  private pendingChars = 0;
  private readonly encoder = new TextEncoder();

  constructor(private readonly writer: ByteWriter) {}

  async put(line: ArchiveLine): Promise<void> {
    const text = JSON.stringify(line) + '\n';
    this.pending.push(text);
    this.pendingChars += text.length;
    if (this.pendingChars >= FLUSH_CHARS) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const bytes = this.encoder.encode(this.pending.join(''));
    this.pending = [];
    this.pendingChars = 0;
    this.hash.update(bytes);
    await this.writer.ready;
    await this.writer.write(bytes);
  }

  async close(): Promise<void> {
    await this.flush();
    await this.writer.close();
  }

  async abort(reason: unknown): Promise<void> {
    await this.writer.abort(reason).catch(() => undefined);
  }

  digest(): Uint8Array {
    return this.hash.digest();
  }
}

/** Cuts the compressed stream into parts; encrypts and uploads each as it fills. */
class PartSink {
  readonly blobs: Array<{ digest: BlobDigest; size: number }> = [];
  private chunks: Uint8Array[] = [];
  private buffered = 0;

  constructor(
    private readonly key: ArchiveKey,
    private readonly partBytes: number,
    private readonly upload: (digest: BlobDigest, bytes: Uint8Array) => Promise<void>,
  ) {}

  async drain(readable: ReadableStream<Uint8Array>): Promise<void> {
    const reader = readable.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        this.chunks.push(value);
        this.buffered += value.length;
        while (this.buffered >= this.partBytes) await this.flush(false);
      }
      await this.flush(true);
    } catch (err) {
      // The writer side fails at its next write (nobody reads any more).
      await reader.cancel(err).catch(() => undefined);
      throw err;
    }
  }

  private async flush(last: boolean): Promise<void> {
    const all = concatBytes(this.chunks, this.buffered);
    const take = last ? all.length : this.partBytes;
    const part = all.subarray(0, take);
    const rest = all.slice(take);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    const index = this.blobs.length;
    if (index >= MAX_PARTS) throw new ClientError('too_large', `the history archive needs more than ${MAX_PARTS} parts of ${this.partBytes} bytes`, { detail: { maxParts: MAX_PARTS } });
    const ciphertext = await encryptPart(this.key, index, last, part);
    const digest = await blobDigest(ciphertext);
    await this.upload(digest, ciphertext);
    this.blobs.push({ digest, size: ciphertext.length });
  }
}
