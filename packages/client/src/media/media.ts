import { z } from 'zod';
import { AttachmentError, decryptAttachment } from '@parley/crypto';
import type { AttachmentContent, VoiceContent } from '@parley/crypto';
import type { BlobDigest, GroupId } from '@parley/protocol';
import type { ClientCore } from '../core/context.js';
import type { HistoryHook } from '../core/group-state.js';
import type { MessageRecord } from '../store/records.js';
import type { InboxBatch } from '../sync/content-handlers.js';
import { ClientError } from '../errors.js';
import { StoreBatch } from '../store/records.js';
import type { MediaSettings, MediaUsage, Message } from '../types.js';
import { blobOf, MAX_KEPT_BYTES, MediaRecords } from './media-records.js';
import type { MediaJob } from './media-records.js';

/** Downloads in the background at most this many at a time. */
const MAX_CONCURRENT_DOWNLOADS = 2;
/** A background download that failed this often (network errors) is given up; the file is fetched on demand instead. */
const MAX_ATTEMPTS = 5;
export const DEFAULT_AUTO_DOWNLOAD_MAX_BYTES = 25 * 1024 * 1024;
const SETTINGS_KEY = 'media-settings';

const SettingsSchema = z.object({ v: z.literal(1), autoDownloadMaxBytes: z.number().int().min(0).max(MAX_KEPT_BYTES) });

type MediaContent = AttachmentContent | VoiceContent;

function mediaContent(content: { readonly type: string }): MediaContent | undefined {
  return blobOf(content) === undefined ? undefined : (content as MediaContent);
}

/**
 * Media kept on the device: attachments and voice messages up to
 * `autoDownloadMaxBytes` are downloaded when they arrive (in the
 * background, a few at a time; a queue record is written in the batch that
 * stores the message, so a download cut short by a crash, a restart or the
 * network is retried after the next sync) and kept in the store's `media`
 * table; `attachment()` reads the local copy first. The sender keeps its
 * own attachments at send time.
 * A copy is kept only while its message is stored: every write re-checks
 * the message under the group lock, and the modules that remove messages
 * delete the copy in their batch (`deleteMediaFor`).
 */
export class Media implements HistoryHook {
  private readonly records: MediaRecords;
  /** Downloads running now (background or on demand), by blob digest: one fetch per blob at a time. */
  private readonly inflight = new Map<BlobDigest, Promise<Uint8Array>>();
  /** Background jobs waiting for a slot (digests; the job itself is read from the store when it starts). */
  private readonly waiting: BlobDigest[] = [];
  private readonly running = new Set<Promise<void>>();
  /** Digests of the jobs running now: a resume while one runs does not start it twice. */
  private readonly active = new Set<BlobDigest>();
  /** Bumped by clear(): downloads started before it do not write their bytes back. */
  private generation = 0;

  constructor(private readonly core: ClientCore) {
    this.records = new MediaRecords(core.repo.store);
  }

  async settings(): Promise<MediaSettings> {
    const text = await this.core.repo.store.get('meta', SETTINGS_KEY);
    if (text === undefined) return { autoDownloadMaxBytes: DEFAULT_AUTO_DOWNLOAD_MAX_BYTES };
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const parsed = SettingsSchema.safeParse(json);
    // A corrupt settings record falls back to the default rather than stopping every download.
    return { autoDownloadMaxBytes: parsed.success ? parsed.data.autoDownloadMaxBytes : DEFAULT_AUTO_DOWNLOAD_MAX_BYTES };
  }

  async setSettings(settings: MediaSettings): Promise<void> {
    this.core.session();
    const max = settings.autoDownloadMaxBytes;
    if (!(Number.isSafeInteger(max) && max >= 0 && max <= MAX_KEPT_BYTES)) throw new ClientError('bad_request', `autoDownloadMaxBytes must be a whole number from 0 to ${MAX_KEPT_BYTES}`);
    await this.core.repo.commit(new StoreBatch().putText('meta', SETTINGS_KEY, JSON.stringify({ v: 1, autoDownloadMaxBytes: max })));
  }

  async usage(): Promise<MediaUsage> {
    this.core.session();
    let bytes = 0;
    let files = 0;
    for (const { header } of await this.records.headers()) {
      if (header === undefined) continue;
      bytes += header.size;
      files += 1;
    }
    return { bytes, files };
  }

  /** Deletes every kept file and pending download. Files are fetched again on demand while the server has them. */
  async clear(): Promise<void> {
    this.core.session();
    this.generation++;
    this.waiting.length = 0;
    const batch = new StoreBatch();
    await this.records.clear(batch);
    await this.core.repo.commit(batch);
  }

  /**
   * The bytes of an attachment or voice message: the kept copy if there is a
   * valid one, else downloaded (checked against digest, key and size) and
   * kept when it fits the limit and its message is still stored.
   * ClientError('blob_gone') when nothing is kept and the server no longer has it.
   */
  async attachment(message: Message | MediaContent): Promise<Uint8Array> {
    this.core.session();
    const stored = 'content' in message ? message : undefined;
    const content = mediaContent(stored?.content ?? (message as MediaContent));
    if (content === undefined) throw new ClientError('bad_request', 'this message has no attachment');
    const local = await this.local(content);
    if (local !== undefined) return local;
    const generation = this.generation;
    const bytes = await this.download(content);
    if (stored !== undefined && content.blob.size <= (await this.settings()).autoDownloadMaxBytes) {
      await this.keep(stored.conversationId, stored.seq, content, bytes, generation).catch((err: unknown) => this.core.emitError('internal', err, { conversationId: stored.conversationId, seq: stored.seq }));
    }
    return bytes;
  }

  /** This device sent `message` with these bytes: keep them (within the limit) before anyone asks. */
  async keepSent(message: Message, bytes: Uint8Array): Promise<void> {
    const content = mediaContent(message.content);
    if (content === undefined || bytes.length > (await this.settings()).autoDownloadMaxBytes) return;
    await this.keep(message.conversationId, message.seq, content, bytes, this.generation);
  }

  /**
   * A history entry is about to be stored (GroupState.prepareHistory): if it
   * carries media that fits the limit and is not kept yet, its download is
   * queued in the same batch, and started once the batch is stored. This
   * device's own sends are kept at send time instead (keepSent, which
   * settles the queue record); one that is not is fetched after the next sync.
   */
  async beforeStore(into: InboxBatch, record: MessageRecord): Promise<MessageRecord> {
    const content = mediaContent(record.content);
    if (content === undefined) return record;
    const digest = content.blob.digest;
    if (content.blob.size > (await this.settings()).autoDownloadMaxBytes || (await this.records.header(digest)) !== undefined) return record;
    this.records.queue(into.batch, { digest, conversationId: record.conversationId, seq: record.seq, attempts: 0 });
    if (!record.outgoing) into.afterCommit(() => this.schedule(digest));
    return record;
  }

  /** Picks up the downloads left pending (a restart, a network failure): after each sync. */
  async resume(): Promise<void> {
    const batch = new StoreBatch();
    for (const { key, job } of await this.records.jobs()) {
      if (job === undefined) batch.deleteAll([{ table: 'media', key }]);
      else this.schedule(job.digest);
    }
    await this.core.repo.commit(batch);
  }

  /** Resolves once no background download is running (close() waits for it before the store is closed). */
  async idle(): Promise<void> {
    this.waiting.length = 0;
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  private schedule(digest: BlobDigest): void {
    if (!this.waiting.includes(digest) && !this.active.has(digest)) this.waiting.push(digest);
    this.pump();
  }

  private pump(): void {
    while (this.running.size < MAX_CONCURRENT_DOWNLOADS && this.waiting.length > 0 && !this.core.isClosed()) {
      const digest = this.waiting.shift() as BlobDigest;
      this.active.add(digest);
      const run = this.runJob(digest)
        .catch((err: unknown) => {
          if (!this.core.isClosed()) this.core.emitError('internal', err);
        })
        .finally(() => {
          this.running.delete(run);
          this.active.delete(digest);
          this.pump();
        });
      this.running.add(run);
    }
  }

  private async runJob(digest: BlobDigest): Promise<void> {
    const job = await this.records.job(digest);
    if (job === undefined) return;
    const generation = this.generation;
    const record = await this.core.repo.message(job.conversationId, job.seq);
    const content = record === undefined ? undefined : mediaContent(record.content);
    // Gone, already kept, or over a limit lowered since it was queued: nothing to fetch.
    if (content === undefined || content.blob.digest !== digest || (await this.records.header(digest)) !== undefined || content.blob.size > (await this.settings()).autoDownloadMaxBytes) {
      return this.settle(job);
    }
    let bytes: Uint8Array;
    try {
      bytes = await this.download(content);
    } catch (err) {
      // Network trouble: try again after the next sync. Anything else (gone, tampered with) will not get better.
      if (err instanceof ClientError && (err.code === 'network' || (err.server && err.code !== 'not_found' && err.code !== 'forbidden')) && job.attempts + 1 < MAX_ATTEMPTS) {
        if (this.core.isClosed() || generation !== this.generation) return;
        const batch = new StoreBatch();
        this.records.queue(batch, { ...job, attempts: job.attempts + 1 });
        await this.core.repo.commit(batch);
        return;
      }
      return this.settle(job);
    }
    await this.keep(job.conversationId, job.seq, content, bytes, generation);
  }

  /** Drops a job that is done or cannot succeed. */
  private async settle(job: MediaJob): Promise<void> {
    if (this.core.isClosed()) return;
    const batch = new StoreBatch();
    this.records.dequeue(batch, job.digest);
    await this.core.repo.commit(batch);
  }

  /** Stores `bytes` for the message at (conversationId, seq), under the group lock and only if that message still carries this blob. */
  private async keep(conversationId: GroupId, seq: number, content: MediaContent, bytes: Uint8Array, generation: number): Promise<void> {
    await this.core.locks.run(conversationId, async () => {
      if (this.core.isClosed() || generation !== this.generation) return;
      const record = await this.core.repo.message(conversationId, seq);
      const batch = new StoreBatch();
      if (record !== undefined && blobOf(record.content)?.digest === content.blob.digest) await this.records.put(batch, content.blob, bytes, content.mimeType);
      else this.records.dequeue(batch, content.blob.digest);
      await this.core.repo.commit(batch);
    });
  }

  /** The kept copy, if valid; a copy that fails its checks is deleted (and fetched again by the caller). */
  private async local(content: MediaContent): Promise<Uint8Array | undefined> {
    const kept = await this.records.read(content.blob);
    if (kept === 'missing') return undefined;
    if (kept === 'corrupt') {
      const batch = new StoreBatch();
      await this.records.drop(batch, content.blob.digest);
      await this.core.repo.commit(batch);
      return undefined;
    }
    return kept.bytes;
  }

  /** GET the blob, check and decrypt it; one request per blob at a time. */
  private download(content: MediaContent): Promise<Uint8Array> {
    const digest = content.blob.digest;
    let p = this.inflight.get(digest);
    if (p === undefined) {
      p = fetchAndDecrypt(this.core, content).finally(() => this.inflight.delete(digest));
      this.inflight.set(digest, p);
    }
    return p;
  }
}

async function fetchAndDecrypt(core: ClientCore, content: MediaContent): Promise<Uint8Array> {
  let ciphertext: Uint8Array;
  try {
    ciphertext = await core.api.getBlob(content.blob.digest);
  } catch (err) {
    if (err instanceof ClientError && err.server && err.code === 'not_found') throw new ClientError('blob_gone', 'the server no longer has this file, and this device did not keep it', { cause: err });
    throw err;
  }
  let bytes: Uint8Array;
  try {
    bytes = await decryptAttachment(ciphertext, { key: content.blob.key, nonce: content.blob.nonce, digest: content.blob.digest });
  } catch (err) {
    if (err instanceof AttachmentError) throw new ClientError('bad_response', `the file does not match its message: ${err.message}`, { cause: err });
    throw err;
  }
  if (bytes.length !== content.blob.size) throw new ClientError('bad_response', 'the file’s size differs from its message');
  return bytes;
}
