import { sha256 } from '@noble/hashes/sha2.js';
import { blobDigest } from '@parley/crypto';
import { fromBase64Url, toHex } from '@parley/protocol';
import type { BlobDigest, DeviceId, GroupId } from '@parley/protocol';
import { blobOf, MediaRecords } from '../media/media-records.js';
import type { MediaBlob } from '../media/media-records.js';
import { messageWrite, toMessage } from '../store/message-records.js';
import { StoreBatch } from '../store/records.js';
import type { Store } from '../store/store.js';
import { ArchiveLineSchema, concatBytes, decryptPart, importArchiveKey, MAX_ARCHIVE_CONVERSATIONS, MAX_ARCHIVE_MESSAGES, MAX_ARCHIVE_MOMENTS, MAX_LINE_CHARS, MEDIA_CHUNK_BYTES } from './archive-format.js';
import { readArchivedMoment } from '../moments/moment-archive.js';
import type { ArchivedMoment } from '../moments/moment-archive.js';
import type { ArchiveLine } from './archive-format.js';
import type { HistoryArchiveMessage } from './archive-message.js';

/** Why an archive was refused (the `reason` of a failed 'history' event). */
export type HistoryFailure = 'download_failed' | 'digest_mismatch' | 'decrypt_failed' | 'hash_mismatch' | 'invalid_archive' | 'store_failed';

export class HistoryImportError extends Error {
  constructor(
    readonly reason: HistoryFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'HistoryImportError';
  }
}

/** One message record to import, re-encoded for this device (its key in the `messages` table and its value). */
export interface PlannedMessage {
  readonly key: string;
  readonly value: string;
  readonly seq: number;
  readonly notice: boolean;
  readonly expiresAt?: number;
}

export interface PlannedConversation {
  readonly id: GroupId;
  readonly readSeq: number;
  readonly messages: PlannedMessage[];
  /** The kept media's writes (media table), and the digests they are for. */
  readonly media: StoreBatch;
  readonly mediaDigests: BlobDigest[];
}

/** A downloaded, decrypted and fully validated archive: nothing of it is stored yet. */
export interface ImportPlan {
  readonly conversations: PlannedConversation[];
  readonly messages: number;
  /** Moments records, each validated with its schema and key (moments/moment-archive.ts). */
  readonly moments: ArchivedMoment[];
}

export interface ReadDeps {
  /** The device importing: records it did not send read as not outgoing here. */
  readonly me: DeviceId;
  readonly store: Store;
  download(digest: BlobDigest): Promise<Uint8Array>;
}

/**
 * Downloads the parts in order (each checked against its digest and size
 * before decryption), decrypts them, decompresses the stream and validates
 * every line as it comes: structure, each message record with the store's
 * own schemas (toMessage), each media file against the blob its message
 * names (same ciphertext digest under the message's key and nonce). The
 * SHA-256 of the plaintext must be the one the message states. Throws
 * HistoryImportError; returns the plan only if all of it holds.
 */
export async function readArchive(message: HistoryArchiveMessage, deps: ReadDeps): Promise<ImportPlan> {
  const rawKey = fromBase64Url(message.key);
  if (rawKey?.length !== 32) throw new HistoryImportError('invalid_archive', 'the archive key is not 32 bytes');
  const key = await importArchiveKey(rawKey, 'decrypt');
  const gunzip = new DecompressionStream('gzip');
  const parser = new ArchiveParser(deps);
  const parsing = parser.consume(gunzip.readable);
  const writer = gunzip.writable.getWriter();
  try {
    for (const [index, blob] of message.blobs.entries()) {
      let bytes: Uint8Array;
      try {
        bytes = await deps.download(blob.digest);
      } catch (err) {
        throw new HistoryImportError('download_failed', 'a part of the history archive could not be downloaded', { cause: err });
      }
      if (bytes.length !== blob.size || (await blobDigest(bytes)) !== blob.digest) throw new HistoryImportError('digest_mismatch', `part ${index} of the history archive does not match its digest`);
      let part: Uint8Array;
      try {
        part = await decryptPart(key, index, index === message.blobs.length - 1, bytes);
      } catch (err) {
        throw new HistoryImportError('decrypt_failed', `part ${index} of the history archive does not decrypt`, { cause: err });
      }
      await writer.ready;
      await writer.write(part as Uint8Array<ArrayBuffer>);
    }
    await writer.close();
  } catch (err) {
    await writer.abort(err).catch(() => undefined);
    await parsing.catch(() => undefined);
    throw err;
  }
  try {
    await parsing;
  } catch (err) {
    if (err instanceof HistoryImportError) throw err;
    throw new HistoryImportError('invalid_archive', 'the history archive does not decompress', { cause: err });
  }
  if (toHex(parser.digest()) !== message.sha256) throw new HistoryImportError('hash_mismatch', 'the history archive does not match its hash');
  const plan = parser.result();
  if (plan.conversations.length !== message.counts.conversations || plan.messages !== message.counts.messages) {
    throw new HistoryImportError('invalid_archive', 'the history archive does not hold what its message counts');
  }
  return plan;
}

interface OpenMedia {
  readonly blob: MediaBlob;
  readonly mimeType: string;
  readonly size: number;
  readonly chunks: number;
  readonly parts: Uint8Array[];
}

/** Reads the JSON lines in order and checks each; fails on the first that does not hold. */
class ArchiveParser {
  private readonly hash = sha256.create();
  private readonly conversations: PlannedConversation[] = [];
  private readonly seen = new Set<GroupId>();
  private current: PlannedConversation | undefined;
  /** Blobs of the current conversation's messages, by seq (for its media lines). */
  private blobs = new Map<number, MediaBlob>();
  private media: OpenMedia | undefined;
  private messages = 0;
  private readonly moments: ArchivedMoment[] = [];
  private mediaCount = 0;
  private started = false;
  private ended = false;
  private readonly records: MediaRecords;

  constructor(private readonly deps: ReadDeps) {
    this.records = new MediaRecords(deps.store);
  }

  async consume(readable: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const reader = readable.getReader();
    let rest = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        this.hash.update(value);
        let text: string;
        try {
          text = rest + decoder.decode(value, { stream: true });
        } catch (err) {
          throw invalid('the history archive is not UTF-8', err);
        }
        let start = 0;
        for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
          await this.line(text.slice(start, nl));
          start = nl + 1;
        }
        rest = text.slice(start);
        if (rest.length > MAX_LINE_CHARS) throw invalid('a line of the history archive is too long');
      }
    } catch (err) {
      await reader.cancel(err).catch(() => undefined);
      throw err;
    }
    if (rest.length > 0 || !this.ended) throw invalid('the history archive ends early');
  }

  digest(): Uint8Array {
    return this.hash.digest();
  }

  result(): ImportPlan {
    return { conversations: this.conversations, messages: this.messages, moments: this.moments };
  }

  private async line(text: string): Promise<void> {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw invalid('a line of the history archive is not JSON', err);
    }
    const parsed = ArchiveLineSchema.safeParse(json);
    if (!parsed.success) throw invalid(`a line of the history archive does not match its schema: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.code}`).join('; ')}`);
    const line = parsed.data;
    if (this.ended) throw invalid('lines after the end of the history archive');
    if (!this.started) {
      if (line.t !== 'head') throw invalid('the history archive does not start with its head');
      this.started = true;
      return;
    }
    if (this.media !== undefined && line.t !== 'chunk') throw invalid('a media file of the history archive is cut short');
    switch (line.t) {
      case 'head':
        throw invalid('a second head in the history archive');
      case 'conv':
        return this.conv(line);
      case 'msg':
        return this.msg(line);
      case 'media':
        return this.openMedia(line);
      case 'chunk':
        return this.chunk(line.data);
      case 'moment': {
        if (this.moments.length >= MAX_ARCHIVE_MOMENTS) throw invalid('too many Moments records in the history archive');
        const record = readArchivedMoment(line.key, line.value);
        if (record === undefined) throw invalid('a Moments record of the history archive is not valid');
        this.moments.push(record);
        return;
      }
      case 'end':
        if (line.conversations !== this.conversations.length || line.messages !== this.messages || line.media !== this.mediaCount || (line.moments ?? 0) !== this.moments.length) {
          throw invalid('the end of the history archive counts otherwise');
        }
        this.ended = true;
        return;
    }
  }

  private conv(line: Extract<ArchiveLine, { t: 'conv' }>): void {
    if (this.seen.has(line.id)) throw invalid('a conversation twice in the history archive');
    if (this.conversations.length >= MAX_ARCHIVE_CONVERSATIONS) throw invalid('too many conversations in the history archive');
    this.seen.add(line.id);
    this.current = { id: line.id, readSeq: line.readSeq, messages: [], media: new StoreBatch(), mediaDigests: [] };
    this.conversations.push(this.current);
    this.blobs = new Map();
  }

  private msg(line: Extract<ArchiveLine, { t: 'msg' }>): void {
    const conv = this.current;
    if (conv === undefined || !line.key.startsWith(`${conv.id}/`)) throw invalid('a message outside its conversation in the history archive');
    if (++this.messages > MAX_ARCHIVE_MESSAGES) throw invalid('too many messages in the history archive');
    const last = conv.messages.at(-1);
    if (last !== undefined && line.key <= last.key) throw invalid('messages out of order in the history archive');
    let record;
    try {
      // The store's own schemas and key check: exactly what a read of this record here would accept.
      record = toMessage(line.key, line.value);
    } catch (err) {
      throw invalid('a message record of the history archive is not valid', err);
    }
    // Another device's message, here: never this device's outgoing one.
    const written = messageWrite({ ...record, outgoing: record.outgoing && record.senderDeviceId === this.deps.me });
    if (written.key !== line.key) throw invalid('a message record of the history archive is filed under the wrong key');
    conv.messages.push({ key: written.key, value: JSON.stringify(written.value), seq: record.seq, notice: record.content.type === 'notice', ...(record.expiresAt === undefined ? {} : { expiresAt: record.expiresAt }) });
    const blob = blobOf(record.content);
    if (blob !== undefined) this.blobs.set(record.seq, blob);
  }

  private async openMedia(line: Extract<ArchiveLine, { t: 'media' }>): Promise<void> {
    const blob = this.blobs.get(line.seq);
    if (this.current === undefined || blob === undefined || blob.digest !== line.digest || blob.size !== line.size) throw invalid('media in the history archive for no message of its conversation');
    if (line.chunks !== Math.ceil(line.size / MEDIA_CHUNK_BYTES)) throw invalid('a media file of the history archive has the wrong number of chunks');
    this.blobs.delete(line.seq); // once per message
    this.media = { blob, mimeType: line.mimeType, size: line.size, chunks: line.chunks, parts: [] };
    if (line.chunks === 0) await this.closeMedia();
  }

  private async chunk(data: string): Promise<void> {
    const open = this.media;
    if (open === undefined) throw invalid('a media chunk outside a media file in the history archive');
    const bytes = fromBase64Url(data);
    const index = open.parts.length;
    const expected = index < open.chunks - 1 ? MEDIA_CHUNK_BYTES : open.size - MEDIA_CHUNK_BYTES * index;
    if (bytes?.length !== expected) throw invalid('a media chunk of the history archive has the wrong size');
    open.parts.push(bytes);
    if (open.parts.length === open.chunks) await this.closeMedia();
  }

  /** The bytes must be the plaintext of the message's blob: encrypted with its key and nonce, they give its digest. */
  private async closeMedia(): Promise<void> {
    const open = this.media;
    const conv = this.current;
    if (open === undefined || conv === undefined) return;
    this.media = undefined;
    const bytes = concatBytes(open.parts, open.size);
    const key = await crypto.subtle.importKey('raw', open.blob.key as Uint8Array<ArrayBuffer>, 'AES-GCM', false, ['encrypt']);
    const ciphertext = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: open.blob.nonce as Uint8Array<ArrayBuffer> }, key, bytes as Uint8Array<ArrayBuffer>));
    if ((await blobDigest(ciphertext)) !== open.blob.digest) throw invalid('a media file of the history archive is not the one its message names');
    await this.records.put(conv.media, open.blob, bytes, open.mimeType);
    conv.mediaDigests.push(open.blob.digest);
    this.mediaCount++;
  }
}

function invalid(message: string, cause?: unknown): HistoryImportError {
  return new HistoryImportError('invalid_archive', message, cause === undefined ? undefined : { cause });
}
