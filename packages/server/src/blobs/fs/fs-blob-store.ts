import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobDigest } from '@parley/protocol';
import { BlobDigestMismatchError, BlobTooLargeError, type BlobStore } from '../blob-store.js';

/** Blobs as files: `<dir>/<first two hex chars>/<digest>`, written via a temp file and renamed. */
export class FsBlobStore implements BlobStore {
  constructor(private readonly dir: string) {}

  private pathOf(digest: BlobDigest): string {
    return join(this.dir, digest.slice(0, 2), digest);
  }

  async put(expected: BlobDigest, body: Readable, maxBytes: number): Promise<{ size: number }> {
    await mkdir(join(this.dir, 'tmp'), { recursive: true });
    const tmp = join(this.dir, 'tmp', randomBytes(12).toString('hex'));
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
        size += chunk.length;
        if (size > maxBytes) {
          cb(new BlobTooLargeError());
          return;
        }
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(body, meter, createWriteStream(tmp, { flags: 'wx' }));
      if (hash.digest('hex') !== expected) throw new BlobDigestMismatchError();
      const final = this.pathOf(expected);
      await mkdir(join(this.dir, expected.slice(0, 2)), { recursive: true });
      await rename(tmp, final);
      return { size };
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async get(digest: BlobDigest): Promise<{ size: number; stream: Readable } | undefined> {
    const path = this.pathOf(digest);
    try {
      const s = await stat(path);
      return { size: s.size, stream: createReadStream(path) };
    } catch {
      return undefined;
    }
  }

  async delete(digest: BlobDigest): Promise<void> {
    await rm(this.pathOf(digest), { force: true });
  }
}
