import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, utimes, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobDigest } from '@parley/protocol';
import { BlobDigestMismatchError, BlobTooLargeError, type BlobStore } from '../blob-store.js';

/**
 * The access and modification time every blob file and folder is given
 * (2000-01-01 00:00 UTC): a file's times would otherwise record the second it
 * was uploaded and, at each download, read. Nothing uses them: retention lives
 * in the database.
 */
export const BLOB_FILE_TIME = 946_684_800;

/** Reads never touch a file's access time where the system allows it (Linux, files we own). */
const O_NOATIME: number = (fsConstants as { O_NOATIME?: number }).O_NOATIME ?? 0;

/**
 * Blobs as files: `<dir>/<first two hex chars>/<digest>`, written via a temp
 * file and renamed.
 *
 * File times: access and modification times of files and folders are set to
 * BLOB_FILE_TIME after every change, and downloads open files with O_NOATIME.
 * The change time (ctime) cannot be set by a program: the kernel stamps it on
 * every change, setting the other times included. So paths changed in an hour
 * are stamped again once that hour is over (`restampTimes`, run by
 * maintenance): their ctime then shows the end of the hour, not the second.
 */
export class FsBlobStore implements BlobStore {
  /** Paths changed and not yet restamped, with the hour (unix seconds / 3600, floored) of their last change. */
  private readonly changed = new Map<string, number>();

  constructor(
    private readonly dir: string,
    /** Seconds since the epoch (the server's clock). */
    private readonly now: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  private pathOf(digest: BlobDigest): string {
    return join(this.dir, digest.slice(0, 2), digest);
  }

  /** Gives `paths` the fixed times and remembers them for the next restamp. */
  private async stamp(paths: readonly string[]): Promise<void> {
    const hour = Math.floor(this.now() / 3600);
    for (const p of paths) {
      try {
        await utimes(p, BLOB_FILE_TIME, BLOB_FILE_TIME);
        this.changed.set(p, hour);
      } catch (err) {
        // Gone meanwhile (a concurrent delete): nothing left to stamp.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }

  async put(expected: BlobDigest, body: Readable, maxBytes: number): Promise<{ size: number }> {
    const tmpDir = join(this.dir, 'tmp');
    const createdTmp = await mkdir(tmpDir, { recursive: true });
    const tmp = join(tmpDir, randomBytes(12).toString('hex'));
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
      const shard = dirname(final);
      const createdShard = await mkdir(shard, { recursive: true });
      await rename(tmp, final);
      // The folders changed too (an entry added or removed): their times would show when.
      await this.stamp([final, shard, tmpDir, ...(createdShard !== undefined || createdTmp !== undefined ? [this.dir] : [])]);
      return { size };
    } catch (err) {
      await rm(tmp, { force: true });
      await this.stamp([tmpDir]).catch(() => undefined);
      throw err;
    }
  }

  async get(digest: BlobDigest): Promise<{ size: number; stream: Readable } | undefined> {
    let file: FileHandle;
    try {
      file = await openForReading(this.pathOf(digest));
    } catch {
      return undefined;
    }
    try {
      const s = await file.stat();
      return { size: s.size, stream: file.createReadStream() };
    } catch {
      await file.close();
      return undefined;
    }
  }

  async delete(digest: BlobDigest): Promise<void> {
    const path = this.pathOf(digest);
    await rm(path, { force: true });
    this.changed.delete(path);
    await this.stamp([dirname(path)]);
  }

  /**
   * Stamps again every path last changed in an hour that is over, so that its
   * change time shows when that hour ended rather than the second of the
   * change. Returns how many. A crash before it runs leaves the exact change
   * times of the last hour's uploads and deletions.
   */
  async restampTimes(): Promise<number> {
    const hour = Math.floor(this.now() / 3600);
    const due = [...this.changed].filter(([, h]) => h < hour).map(([p]) => p);
    for (const p of due) this.changed.delete(p);
    let n = 0;
    let failure: unknown;
    for (const p of due) {
      try {
        await utimes(p, BLOB_FILE_TIME, BLOB_FILE_TIME);
        n++;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        // Tried again at the next run.
        this.changed.set(p, hour - 1);
        failure ??= err;
      }
    }
    if (failure !== undefined) throw failure;
    return n;
  }
}

async function openForReading(path: string): Promise<FileHandle> {
  if (O_NOATIME !== 0) {
    try {
      return await open(path, fsConstants.O_RDONLY | O_NOATIME);
    } catch (err) {
      // EPERM: a file this process does not own (O_NOATIME needs ownership).
      if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    }
  }
  return open(path, fsConstants.O_RDONLY);
}
