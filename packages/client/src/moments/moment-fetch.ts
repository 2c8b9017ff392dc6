import { decryptAttachment, decryptMomentBody } from '@parley/crypto';
import { fromBase64Url } from '@parley/protocol';
import type { BlobDigest } from '@parley/protocol';
import type { ClientCore } from '../core/context.js';
import { ClientError } from '../errors.js';
import { MediaRecords } from '../media/media-records.js';
import type { MediaBlob } from '../media/media-records.js';
import { StoreBatch } from '../store/records.js';
import type { MomentRecords, PostRecord } from './moment-records.js';

/** A body that fails this often (not counting being offline) shows the post as failed. */
const BODY_ATTEMPTS = 5;

/**
 * What a device fetches of a post: its body as soon as the reference is
 * stored (decrypted and checked against the reference, up to BODY_ATTEMPTS
 * times), then its photos up to the media auto-download size, kept in the
 * media table like chat media; larger photos when they are viewed.
 */
export class MomentFetcher {
  private readonly media: MediaRecords;
  private readonly fetching = new Set<string>();

  constructor(
    private readonly core: ClientCore,
    private readonly records: MomentRecords,
    private readonly autoDownloadMaxBytes: () => Promise<number>,
  ) {
    this.media = new MediaRecords(core.repo.store);
  }

  /** A photo's bytes: from the device, else downloaded, checked and kept. */
  async photo(p: PostRecord, index: number): Promise<Uint8Array> {
    const ph = p.content?.photos[index];
    if (ph === undefined) throw new ClientError('not_found', 'no such photo');
    const key = fromBase64Url(ph.key);
    const nonce = fromBase64Url(ph.nonce);
    if (key === undefined || nonce === undefined) throw new ClientError('internal', 'photo key unreadable');
    const blob = { digest: ph.digest as BlobDigest, size: ph.size, key, nonce };
    const kept = await this.media.read(blob);
    if (typeof kept === 'object') return kept.bytes;
    const bytes = await decryptAttachment(await this.core.api.getBlob(blob.digest), blob);
    if (bytes.length !== ph.size) throw new ClientError('bad_response', 'photo size differs from the post');
    const batch = new StoreBatch();
    await this.media.put(batch, blob, bytes, ph.mimeType);
    await this.core.repo.commit(batch);
    return bytes;
  }

  /** Adds the author's own photos, as posted, to `batch` (kept whatever the setting: they are the only copy besides the server's). */
  async keep(batch: StoreBatch, photos: ReadonlyArray<{ blob: MediaBlob; bytes: Uint8Array; mimeType: string }>): Promise<void> {
    for (const ph of photos) await this.media.put(batch, ph.blob, ph.bytes, ph.mimeType);
  }

  async dropPhotos(batch: StoreBatch, p: PostRecord): Promise<void> {
    for (const ph of p.content?.photos ?? []) await this.media.drop(batch, ph.digest as BlobDigest);
  }

  /** Fetches and opens a post's body, then keeps its photos (in the background); `photosToo`: a post that came with its body. */
  fetchBody(postId: string, photosToo = false): void {
    if (this.fetching.has(postId)) return;
    this.fetching.add(postId);
    void this.fetchNow(postId, photosToo)
      .catch((err: unknown) => this.core.isClosed() || this.core.emitError('moment_invalid', err))
      .finally(() => this.fetching.delete(postId));
  }

  private async fetchNow(postId: string, photosToo: boolean): Promise<void> {
    const p = await this.records.post(postId);
    if (p === undefined) return;
    // A post that came with its body (history archive): only its photos to keep.
    if (p.state === 'ready' && photosToo) return this.keepPhotos(p);
    if (p.state !== 'loading') return;
    const key = fromBase64Url(p.body.key);
    const nonce = fromBase64Url(p.body.nonce);
    let next: PostRecord;
    try {
      if (key === undefined || nonce === undefined) throw new ClientError('bad_request', 'post key unreadable');
      const body = await decryptMomentBody(await this.core.api.getBlob(p.body.digest as BlobDigest), { digest: p.body.digest as BlobDigest, key, nonce }, postId);
      next = { ...p, state: 'ready', content: { text: body.text, ...(body.location === undefined ? {} : { location: body.location }), photos: body.photos } };
    } catch (err) {
      const offline = err instanceof ClientError && (err.code === 'network' || err.code === 'disconnected');
      const attempts = p.attempts + (offline ? 0 : 1);
      next = { ...p, attempts, state: attempts >= BODY_ATTEMPTS ? 'failed' : 'loading' };
      if (!offline) this.core.emitError('moment_invalid', err);
    }
    await this.core.locks.run(`moments/post/${postId}`, async () => {
      // Deleted meanwhile: nothing to write back.
      if ((await this.records.post(postId)) === undefined) return;
      const batch = new StoreBatch();
      this.records.putPost(batch, next);
      await this.core.repo.commit(batch);
    });
    this.core.emit('moments', { kind: 'post', postId });
    if (next.state === 'ready') await this.keepPhotos(next);
  }

  /** Downloads and keeps a post's photos within the media setting (like chat media); the others are fetched when viewed. */
  private async keepPhotos(p: PostRecord): Promise<void> {
    const max = await this.autoDownloadMaxBytes();
    for (const [i, ph] of (p.content?.photos ?? []).entries()) if (ph.size <= max) await this.photo(p, i).catch(() => undefined);
  }
}
