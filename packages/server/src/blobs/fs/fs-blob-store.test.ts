import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import type { BlobDigest } from '@parley/protocol';
import { BLOB_FILE_TIME, FsBlobStore } from './fs-blob-store.js';

const digestOf = (b: Buffer) => createHash('sha256').update(b).digest('hex') as BlobDigest;

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('FsBlobStore: file times', () => {
  it('gives blob files and their folders a fixed access and modification time, kept across downloads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-blobs-'));
    try {
      const store = new FsBlobStore(dir);
      const body = randomBytes(5000);
      const digest = digestOf(body);
      assert.deepEqual(await store.put(digest, Readable.from([body]), 1 << 20), { size: 5000 });
      const file = join(dir, digest.slice(0, 2), digest);
      for (const p of [file, join(dir, digest.slice(0, 2)), join(dir, 'tmp'), dir]) {
        const s = statSync(p);
        assert.equal(s.mtimeMs, BLOB_FILE_TIME * 1000, `mtime of ${p}`);
        assert.equal(s.atimeMs, BLOB_FILE_TIME * 1000, `atime of ${p}`);
      }
      const got = await store.get(digest);
      assert.ok(got);
      assert.deepEqual(await readAll(got.stream), body);
      assert.equal(statSync(file).atimeMs, BLOB_FILE_TIME * 1000, 'a download does not record when it happened');
      await store.delete(digest);
      assert.equal(await store.get(digest), undefined);
      assert.equal(statSync(join(dir, digest.slice(0, 2))).mtimeMs, BLOB_FILE_TIME * 1000, 'nor does a deletion, in the folder');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stamps what changed again once its hour is over (so change times show the hour), and only then', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-blobs-'));
    try {
      let now = 1_800_000_000 - (1_800_000_000 % 3600) + 100; // 100 s into an hour
      const store = new FsBlobStore(dir, () => now);
      const bodies = [randomBytes(100), randomBytes(100)];
      const [d0, d1] = bodies.map(digestOf) as [BlobDigest, BlobDigest];
      await store.put(d0, Readable.from([bodies[0]]), 1 << 20);
      assert.equal(await store.restampTimes(), 0, 'still the same hour');
      now += 3600;
      await store.put(d1, Readable.from([bodies[1]]), 1 << 20);
      const file0 = join(dir, d0.slice(0, 2), d0);
      const before = statSync(file0).ctimeMs;
      // d0 and the folders it changed were last changed in the hour that is over; d1 (this hour) waits.
      const restamped = await store.restampTimes();
      assert.ok(restamped >= 2, `restamped ${restamped}`);
      assert.ok(statSync(file0).ctimeMs >= before);
      assert.equal(statSync(file0).mtimeMs, BLOB_FILE_TIME * 1000);
      assert.equal(await store.restampTimes(), 0, 'nothing else is due');
      now += 3600;
      assert.ok((await store.restampTimes()) >= 1, "d1's turn");
      await store.delete(d0);
      await store.delete(d1);
      now += 3600;
      assert.ok((await store.restampTimes()) >= 1, 'the folders the deletions changed');
      assert.equal(await store.restampTimes(), 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
