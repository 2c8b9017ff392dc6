import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStorage } from '../src/storage/sqlite/sqlite-storage.js';
import { WAL_SIZE_LIMIT, type SqliteCore } from '../src/storage/sqlite/core.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { account, groupWith, NOW, rejectsWith, storageContract } from './storage-contract.js';
import { LEFTOVERS_SQL, type GroupLeftovers } from './storage-contract-helpers.js';

storageContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-sqlite-'));
  const path = join(dir, 'parley.db');
  const storage = new SqliteStorage({ path });
  await storage.migrate();
  return {
    storage,
    async welcomeStats() {
      // A second connection sees what the storage committed (its writes resolve after the commit).
      const db = new Database(path, { readonly: true });
      try {
        const w = db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(length(welcome) + COALESCE(length(group_info), 0)), 0) AS b FROM welcomes').get() as { n: number; b: number };
        const r = db.prepare('SELECT COUNT(*) AS n FROM welcome_recipients').get() as { n: number };
        return { welcomes: w.n, bytes: w.b, recipients: r.n };
      } finally {
        db.close();
      }
    },
    async leftovers(groupId) {
      const db = new Database(path, { readonly: true });
      try {
        return db.prepare(LEFTOVERS_SQL.replaceAll('$1', '@g')).get({ g: groupId }) as GroupLeftovers;
      } finally {
        db.close();
      }
    },
    async storedMessages() {
      const db = new Database(path, { readonly: true });
      try {
        return db.prepare('SELECT COUNT(*) FROM group_messages').pluck().get() as number;
      } finally {
        db.close();
      }
    },
    async cleanup() {
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('sqlite storage: what is remembered between writes', () => {
  const message = (groupId: string, sender: string, epoch = 1) =>
    ({ groupId, senderDevice: sender, kind: 'application', epoch, payload: Uint8Array.of(1), blobs: [], expiresAt: NOW + 100, blobKeepUntil: NOW }) as unknown as Parameters<SqliteStorage['appendMessage']>[0];

  it('sees a revocation committed by another connection (the admin CLI) at the next write', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-sqlite-'));
    const path = join(dir, 'parley.db');
    const server = new SqliteStorage({ path });
    await server.migrate();
    const cli = new SqliteStorage({ path });
    try {
      const [a, b, c] = [await account(server), await account(server), await account(server)];
      const gid = await groupWith(server, a.deviceId, [a.deviceId, b.deviceId, c.deviceId]);
      assert.deepEqual((await server.appendMessage(message(gid, a.deviceId))).recipients.sort(), [b.deviceId, c.deviceId].sort());
      await cli.revokeDevice(c.deviceId, NOW);
      assert.deepEqual((await server.appendMessage(message(gid, a.deviceId))).recipients, [b.deviceId]);
      await rejectsWith(server.appendMessage(message(gid, c.deviceId)), 'not_member');
    } finally {
      await cli.close();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('deletes a Welcome stored before a restart when its device acknowledges it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-sqlite-'));
    const path = join(dir, 'parley.db');
    const first = new SqliteStorage({ path });
    await first.migrate();
    const [a, b] = [await account(first), await account(first)];
    const gid = await groupWith(first, a.deviceId, [a.deviceId, b.deviceId]);
    await first.close();
    const s = new SqliteStorage({ path });
    try {
      const [welcome] = await s.pendingWelcomes(b.deviceId);
      assert.ok(welcome);
      await s.ack(b.deviceId, gid, welcome.seq - 1);
      assert.equal((await s.pendingWelcomes(b.deviceId)).length, 1, 'an earlier seq leaves it');
      await s.ack(b.deviceId, gid, welcome.seq);
      assert.deepEqual(await s.pendingWelcomes(b.deviceId), []);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('forgets membership read inside a batch that was rolled back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-sqlite-'));
    const s = new SqliteStorage({ path: join(dir, 'parley.db') });
    await s.migrate();
    try {
      const [a, b] = [await account(s), await account(s)];
      const gid = await groupWith(s, a.deviceId, [a.deviceId, b.deviceId]);
      // One batch: a commit removing b, an append that reads the new membership, and a write that fails.
      const [removed, appended, failed] = await Promise.allSettled([
        s.appendCommit({ groupId: gid, senderDevice: a.deviceId, epoch: 1, commit: Uint8Array.of(1), devices: [a.deviceId], welcome: undefined, groupInfo: undefined, expiresAt: NOW + 100 }),
        s.appendMessage(message(gid, a.deviceId, 2)),
        s.appendMessage(message(gid, a.deviceId, 9)),
      ]);
      assert.equal(removed.status, 'fulfilled');
      assert.ok(appended.status === 'fulfilled' && appended.value.recipients.length === 0);
      assert.equal(failed.status, 'rejected');
      await rejectsWith(s.appendMessage(message(gid, b.deviceId, 2)), 'not_member');
      assert.deepEqual((await s.appendMessage(message(gid, a.deviceId, 2))).recipients, []);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps account charges right across a rolled-back batch and a trim by another connection', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-sqlite-'));
    const path = join(dir, 'parley.db');
    const server = new SqliteStorage({ path });
    await server.migrate();
    const cli = new SqliteStorage({ path });
    try {
      const [a, b] = [await account(server), await account(server)];
      const gid = await groupWith(server, a.deviceId, [a.deviceId, b.deviceId]);
      const sized = (size: number, epoch = 1) => ({ ...message(gid, a.deviceId, epoch), payload: new Uint8Array(size), quota: { userId: a.userId, maxBytes: 150 } });
      // One batch: a charged append, then a failing one; the batch runs again, charging once.
      const [charged, failed] = await Promise.allSettled([server.appendMessage(sized(100)), server.appendMessage(sized(1, 9))]);
      assert.equal(charged.status, 'fulfilled');
      assert.equal(failed.status, 'rejected');
      assert.equal(await server.queuedBytes(a.userId), 100);
      await server.appendMessage(sized(50));
      await rejectsWith(server.appendMessage(sized(1)), 'quota_exceeded');
      // b reads everything and another connection trims: the server sees the charge gone.
      await cli.ack(b.deviceId, gid, 100);
      await cli.trim([gid]);
      assert.equal(await server.queuedBytes(a.userId), 0);
      await server.appendMessage(sized(150));
      assert.equal(await server.queuedBytes(a.userId), 150);
    } finally {
      await cli.close();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sqlite storage: durability and what the files keep of deleted rows', () => {
  // A peek at the connection's settings: pragmas are per connection, so only the storage's own can tell.
  const db = (s: SqliteStorage) => (s as unknown as { core: SqliteCore }).core.db;

  it('commits with synchronous=FULL unless told NORMAL, zeroes freed pages and bounds the WAL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-sqlite-'));
    try {
      const full = new SqliteStorage({ path: join(dir, 'a.db') });
      const normal = new SqliteStorage({ path: join(dir, 'b.db'), synchronous: 'normal' });
      try {
        assert.equal(db(full).pragma('synchronous', { simple: true }), 2, 'FULL');
        assert.equal(db(normal).pragma('synchronous', { simple: true }), 1, 'NORMAL');
        for (const s of [full, normal]) {
          assert.equal(db(s).pragma('secure_delete', { simple: true }), 1);
          assert.equal(db(s).pragma('journal_size_limit', { simple: true }), WAL_SIZE_LIMIT);
        }
      } finally {
        await full.close();
        await normal.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /** Messages carrying `marker`, delivered to everyone and trimmed: their ciphertext is deleted. */
  async function deliverAndDelete(s: SqliteStorage, marker: Buffer): Promise<void> {
    const [a, b] = [await account(s), await account(s)];
    const gid = await groupWith(s, a.deviceId, [a.deviceId, b.deviceId]);
    let last = 0;
    for (let i = 0; i < 200; i++) {
      const payload = Buffer.concat([marker, randomBytes(1000)]);
      last = (await s.appendMessage({ groupId: gid, senderDevice: a.deviceId, kind: 'application', epoch: 1, payload, blobs: [], expiresAt: NOW + 100, blobKeepUntil: NOW })).seq;
    }
    await s.ack(b.deviceId, gid, last);
    assert.equal(await s.trim([gid]), 200);
  }

  const contains = (path: string, marker: Buffer) => existsSync(path) && readFileSync(path).includes(marker);

  it('empties the WAL on request once messages are deleted, leaving their ciphertext in no file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-sqlite-'));
    const path = join(dir, 'parley.db');
    // Checkpoints only when asked (the interval is longer than the test).
    const s = new SqliteStorage({ path, checkpointIntervalMs: 3_600_000 });
    try {
      await s.migrate();
      const marker = randomBytes(24);
      await deliverAndDelete(s, marker);
      assert.ok(statSync(`${path}-wal`).size > 100_000, 'the WAL holds the writes');
      assert.ok(contains(`${path}-wal`, marker), 'including the deleted ciphertext (the test can fail)');
      assert.equal(await s.truncateWal(), true);
      assert.equal(statSync(`${path}-wal`).size, 0);
      assert.equal(contains(path, marker), false, 'secure_delete zeroed the freed pages in the database file');
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs the checkpoint worker only while there are writes to checkpoint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-sqlite-'));
    const path = join(dir, 'parley.db');
    const first = new SqliteStorage({ path, checkpointIntervalMs: 20, walIdleTicks: 3 });
    await first.migrate();
    await first.close();
    const s = new SqliteStorage({ path, checkpointIntervalMs: 20, walIdleTicks: 3 });
    const waitFor = async (what: string, cond: () => boolean) => {
      const deadline = Date.now() + 30_000;
      while (!cond()) {
        assert.ok(Date.now() < deadline, what);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      await s.migrate();
      assert.equal(s.checkpointerRunning, false, 'a fresh storage with nothing to checkpoint has no worker');
      // Nothing runs to truncate: it is done on the storage's own connection.
      assert.equal(await s.truncateWal(), true);
      const marker = randomBytes(24);
      await deliverAndDelete(s, marker);
      assert.equal(s.checkpointerRunning, true, 'writes start the worker');
      await waitFor('the worker never stopped', () => !s.checkpointerRunning);
      assert.equal(statSync(`${path}-wal`).size, 0, 'it stopped after truncating the WAL');
      assert.equal(contains(path, marker), false);
      // The next write starts it again, and it stops again once idle.
      await account(s);
      assert.equal(s.checkpointerRunning, true);
      assert.ok(statSync(`${path}-wal`).size > 0);
      await waitFor('the worker never stopped again', () => !s.checkpointerRunning);
      assert.equal(statSync(`${path}-wal`).size, 0);
      // On demand while none runs.
      await account(s);
      assert.equal(await s.truncateWal(), true);
      assert.equal(statSync(`${path}-wal`).size, 0);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('truncates the WAL by itself once writers are idle', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-sqlite-'));
    const path = join(dir, 'parley.db');
    // A short tick so the idle period passes quickly; the test waits for the outcome, not for a time.
    const s = new SqliteStorage({ path, checkpointIntervalMs: 20, walIdleTicks: 3 });
    try {
      await s.migrate();
      const marker = randomBytes(24);
      await deliverAndDelete(s, marker);
      const deadline = Date.now() + 30_000;
      while (statSync(`${path}-wal`).size > 0) {
        assert.ok(Date.now() < deadline, 'the WAL was never truncated');
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(contains(`${path}-wal`, marker), false);
      assert.equal(contains(path, marker), false);
      // Still usable, and the WAL grows again with new writes.
      await account(s);
      assert.ok(statSync(`${path}-wal`).size > 0);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
