import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { BlobDigest, DeviceId, GroupId, ProfileVersion, UserId } from '@parley/protocol';
import { PostgresStorage } from '../src/storage/postgres/postgres-storage.js';
import { StorageError, type BlobRecord, type CommitResult, type ProfileRecord } from '../src/storage/storage.js';
import { storageContract } from './storage-contract.js';
import { LEFTOVERS_SQL, type GroupLeftovers } from './storage-contract-helpers.js';
import { dropSchema, freshSchema, pgAccount as account, PG_URL as URL, withClient } from './storage-postgres-helpers.js';

const NOW = 1_800_000_000;

storageContract('postgres', async () => {
  const schema = freshSchema();
  const storage = new PostgresStorage({ connectionString: URL, schema });
  await storage.migrate();
  return {
    storage,
    welcomeStats: () =>
      withClient(async (client) => {
        const w = await client.query<{ n: string; b: string }>(
          `SELECT COUNT(*) AS n, COALESCE(SUM(octet_length(welcome) + COALESCE(octet_length(group_info), 0)), 0) AS b FROM "${schema}".welcomes`,
        );
        const r = await client.query<{ n: string }>(`SELECT COUNT(*) AS n FROM "${schema}".welcome_recipients`);
        return { welcomes: Number(w.rows[0]?.n), bytes: Number(w.rows[0]?.b), recipients: Number(r.rows[0]?.n) };
      }),
    leftovers: (groupId) =>
      withClient(async (client) => {
        await client.query(`SET search_path TO "${schema}"`);
        const row = (await client.query<Record<keyof GroupLeftovers, string>>(LEFTOVERS_SQL, [groupId])).rows[0];
        if (!row) throw new Error('no leftovers row');
        return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)])) as unknown as GroupLeftovers;
      }),
    storedMessages: () =>
      withClient(async (client) => Number((await client.query<{ n: string }>(`SELECT COUNT(*) AS n FROM "${schema}".group_messages`)).rows[0]?.n)),
    async cleanup() {
      await storage.close();
      await dropSchema(schema);
    },
  };
});

/** Several storages on one schema, each with its own pool: stand-ins for separate server processes. */
async function processes(n: number): Promise<{ schema: string; all: PostgresStorage[]; cleanup(): Promise<void> }> {
  const schema = freshSchema();
  const all = Array.from({ length: n }, () => new PostgresStorage({ connectionString: URL, schema, max: 4 }));
  await Promise.all(all.map((s) => s.migrate()));
  return {
    schema,
    all,
    async cleanup() {
      await Promise.all(all.map((s) => s.close()));
      await dropSchema(schema);
    },
  };
}

describe('PostgreSQL across processes', () => {
  it('hands out each of 50 key packages exactly once to 90 claims from 3 processes', async () => {
    const p = await processes(3);
    try {
      const [first] = p.all;
      assert.ok(first);
      const device = await account(first);
      const stock = Array.from({ length: 50 }, (_, i) => ({ ciphersuite: 1, expiresAt: NOW + 86400, data: Uint8Array.of(1, i) }));
      await first.addKeyPackages(device, stock, { ciphersuite: 1, expiresAt: NOW + 86400, data: Uint8Array.of(2, 0) }, 100, NOW);
      const claims = await Promise.all(
        Array.from({ length: 90 }, (_, i) => {
          const s = p.all[i % p.all.length];
          assert.ok(s);
          return s.claimKeyPackages([device], NOW);
        }),
      );
      const handed = claims.map((c) => {
        assert.equal(c.length, 1);
        const [k] = c;
        assert.ok(k);
        return k;
      });
      const single = handed.filter((k) => !k.lastResort).map((k) => Buffer.from(k.data).toString('hex'));
      assert.equal(single.length, 50);
      assert.equal(new Set(single).size, 50);
      const fallback = handed.filter((k) => k.lastResort);
      assert.equal(fallback.length, 40);
      for (const k of fallback) assert.deepEqual(k.data, Uint8Array.of(2, 0));
      assert.deepEqual(await first.countKeyPackages(device, NOW), { available: 0, lastResort: true });
    } finally {
      await p.cleanup();
    }
  });

  it('numbers concurrent messages from 3 processes 1..N without gaps or duplicates', async () => {
    const p = await processes(3);
    try {
      const [first] = p.all;
      assert.ok(first);
      const a = await account(first);
      const b = await account(first);
      const gid = randomBytes(16).toString('base64url') as GroupId;
      await first.createGroup(gid, a);
      const commit = await first.appendCommit({
        groupId: gid,
        senderDevice: a,
        epoch: 0,
        commit: Uint8Array.of(1),
        devices: [a, b],
        welcome: { to: [b], data: Uint8Array.of(2) },
        expiresAt: NOW + 1000,
      });
      assert.equal(commit.seq, 1);
      const n = 60;
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) => {
          const s = p.all[i % p.all.length];
          assert.ok(s);
          return s.appendMessage({
            groupId: gid,
            senderDevice: i % 2 ? a : b,
            kind: 'application',
            epoch: 1,
            payload: Uint8Array.of(i),
            blobs: [],
            expiresAt: NOW + 1000,
            blobKeepUntil: NOW,
          });
        }),
      );
      assert.deepEqual(
        results.map((r) => r.seq).sort((x, y) => x - y),
        Array.from({ length: n }, (_, i) => i + 2),
      );
      assert.deepEqual(await first.getGroup(gid), { id: gid, epoch: 1, lastSeq: n + 1 });
      // b's backlog is the log after its cursor: gap-free up to the last message, holding everything a sent
      const forB = await first.pendingMessages(b, undefined, 1000);
      const seqs = forB.map((m) => m.seq);
      const start = seqs[0] ?? n + 2;
      assert.ok(start >= 2);
      assert.deepEqual(seqs, Array.from({ length: n + 2 - start }, (_, i) => start + i));
      for (const r of results.filter((_, i) => i % 2 === 1)) assert.ok(seqs.includes(r.seq), `b misses seq ${r.seq}`);
      assert.deepEqual((await first.pendingWelcomes(b)).map((w) => w.seq), [1]);
      // acks from several processes at once: the cursor ends at the highest, never lower
      await Promise.all(
        [10, n + 1, 30, 20, 5, 40].map((seq, i) => {
          const s = p.all[i % p.all.length];
          assert.ok(s);
          return s.ack(b, gid, seq);
        }),
      );
      assert.deepEqual(await first.pendingMessages(b, undefined, 1000), []);
      assert.deepEqual(await first.pendingWelcomes(b), []);
      const [, second] = p.all;
      assert.ok(second);
      await second.ack(a, gid, n + 1);
      // the first commit went to nobody (a was alone) and was trimmed at once; the rest go now, each once
      assert.equal(await first.trim([gid, gid]), n);
      assert.equal(await first.trim([gid]), 0);
    } finally {
      await p.cleanup();
    }
  });

  it('settles a revocation racing a commit that re-adds the leaving device, without deadlock', async () => {
    const p = await processes(2);
    try {
      const [first, second] = p.all;
      assert.ok(first && second);
      for (let round = 0; round < 8; round++) {
        const a = await account(first);
        const x = await account(first);
        const gid = randomBytes(16).toString('base64url') as GroupId;
        await first.createGroup(gid, a);
        const base = { groupId: gid, senderDevice: a, commit: Uint8Array.of(1), expiresAt: NOW + 1000 };
        await first.appendCommit({ ...base, epoch: 0, devices: [a, x], welcome: { to: [x], data: Uint8Array.of(2) } });
        // x is removed and, before it has seen that, added back while it is being revoked
        await first.appendCommit({ ...base, epoch: 1, devices: [a] });
        const readding: Promise<CommitResult> = first.appendCommit({ ...base, epoch: 2, devices: [a, x], welcome: { to: [x, x], data: Uint8Array.of(3) } });
        const revoking: Promise<GroupId[]> = second.revokeDevice(x, NOW);
        const [readd, revoke] = await Promise.allSettled([readding, revoking]);
        assert.equal(revoke.status, 'fulfilled');
        if (readd.status === 'rejected') {
          const reason = readd.reason as unknown;
          assert.ok(reason instanceof StorageError, String(reason) + " " + String((reason as { detail?: unknown }).detail) + " " + String((reason as { where?: unknown }).where));
          assert.equal(reason.kind, 'invalid_membership');
        } else {
          assert.deepEqual(readd.value.welcomeRecipients, [x]);
          assert.deepEqual(revoke.value, [gid]);
        }
        assert.equal(await first.isMember(gid, x), false);
        assert.deepEqual(await first.pendingWelcomes(x), []);
        assert.deepEqual(await first.pendingMessages(x, undefined, 100), []);
        assert.deepEqual(await first.groupDevices(gid), [a]);
      }
    } finally {
      await p.cleanup();
    }
  });

  it('keeps byte counts and charges exact while appends, acks, trims, sweeps, leaves, commits and a revocation race across 3 processes', async () => {
    const p = await processes(3);
    try {
      const [first] = p.all;
      assert.ok(first);
      const user = async () => {
        const userId = randomBytes(16).toString('base64url') as UserId;
        const deviceId = randomBytes(16).toString('base64url') as DeviceId;
        const name = `u${randomBytes(4).toString('hex')}`;
        await first.createAccount({ id: userId, username: name, skeleton: name, passwordHash: 'h', createdDay: '2026-11-28' }, { id: deviceId, signatureKey: randomBytes(32) }, undefined);
        return { userId, deviceId };
      };
      const [a, b, c, d] = [await user(), await user(), await user(), await user()];
      const groups: GroupId[] = [];
      for (let i = 0; i < 4; i++) {
        const gid = randomBytes(16).toString('base64url') as GroupId;
        await first.createGroup(gid, a.deviceId);
        await first.appendCommit({ groupId: gid, senderDevice: a.deviceId, epoch: 0, commit: Uint8Array.of(1), devices: [a.deviceId, b.deviceId, c.deviceId], welcome: { to: [b.deviceId, c.deviceId], data: randomBytes(50) }, expiresAt: NOW + 1000 });
        groups.push(gid);
      }
      const [g0, g1, g2] = groups as [GroupId, GroupId, GroupId, GroupId];
      const at = (i: number): PostgresStorage => p.all[i % p.all.length] ?? first;
      const ops: Array<Promise<unknown>> = [];
      for (let i = 0; i < 60; i++) {
        const s = at(i);
        const g = groups[i % groups.length] ?? g0;
        const sender = i % 2 ? a : b;
        ops.push(
          s.appendMessage({ groupId: g, senderDevice: sender.deviceId, quota: { userId: sender.userId, maxBytes: 1e9 }, kind: 'application', epoch: 1, payload: randomBytes(100 + i), blobs: [], expiresAt: i % 7 === 0 ? NOW - 1 : NOW + 1000, blobKeepUntil: NOW }),
        );
        if (i % 3 === 0) ops.push(at(i + 1).ack(c.deviceId, g, i), at(i + 2).ack(b.deviceId, g, i));
        if (i % 5 === 0) ops.push(at(i + 1).trim([...groups].reverse()));
        if (i === 10) ops.push(at(i).sweep(NOW));
        if (i === 20) ops.push(at(i).leaveGroup(g1, c.deviceId));
        if (i === 30) {
          ops.push(at(i).appendCommit({ groupId: g2, senderDevice: a.deviceId, quota: { userId: a.userId, maxBytes: 1e9 }, epoch: 1, commit: randomBytes(30), devices: [a.deviceId, b.deviceId, c.deviceId, d.deviceId], welcome: { to: [d.deviceId], data: randomBytes(40) }, groupInfo: randomBytes(20), expiresAt: NOW + 1000 }));
        }
        if (i === 40) ops.push(at(i + 1).revokeDevice(c.deviceId, NOW));
      }
      const settled = await Promise.allSettled(ops);
      for (const r of settled) {
        if (r.status === 'rejected') {
          // Only refusals the interface names (a message racing the commit or the revocation, the commit
          // listing the device being revoked), never a deadlock.
          const reason = r.reason as unknown;
          assert.ok(reason instanceof StorageError, `${String(reason)}: ${String((reason as { detail?: unknown }).detail)}`);
          assert.ok(['epoch_conflict', 'not_member', 'invalid_membership'].includes(reason.kind), reason.kind);
        }
      }
      // Everyone left reads everything: every group empties, and so does every charge.
      for (const g of groups) {
        const last = (await first.getGroup(g))?.lastSeq ?? 0;
        for (const dev of [a, b, d]) await first.ack(dev.deviceId, g, last);
      }
      await first.trim(groups);
      const bytes = await withClient((client) => client.query<{ n: string }>(`SELECT COALESCE(SUM(queued_bytes), 0) AS n FROM "${p.schema}".mls_groups`));
      assert.equal(Number(bytes.rows[0]?.n), 0);
      assert.equal(await first.queuedBytes(a.userId), 0);
      assert.equal(await first.queuedBytes(b.userId), 0);
      const left = await withClient((client) => client.query<{ n: string }>(`SELECT (SELECT COUNT(*) FROM "${p.schema}".welcomes) + (SELECT COUNT(*) FROM "${p.schema}".group_messages) AS n`));
      assert.equal(Number(left.rows[0]?.n), 0);
    } finally {
      await p.cleanup();
    }
  });

  it('settles profile uploads racing the collection of their picture blobs and account deletions: a profile never refers to a collected blob', async () => {
    const p = await processes(3);
    try {
      const [first, second, third] = p.all;
      assert.ok(first && second && third);
      const rounds = 20;
      for (let i = 0; i < rounds; i++) {
        const device = await account(first);
        const userId = (await first.getDevice(device))?.userId;
        assert.ok(userId);
        const digest = randomBytes(32).toString('hex') as BlobDigest;
        await first.putBlob({ digest, size: 10, keepUntil: NOW });
        const version = randomBytes(32).toString('base64url') as ProfileVersion;
        const putting: Promise<void> = second.putProfile({ userId, version, ciphertext: randomBytes(64), pictureBlob: digest, updatedDay: '2027-01-15' }, NOW);
        const collecting: Promise<BlobDigest[]> = third.deleteBlobs([digest]);
        const deleting: Promise<unknown> = i % 2 === 0 ? first.deleteAccount(userId, NOW, { nameHash: randomBytes(32), until: NOW + 86_400 }) : Promise.resolve();
        const [put, deleted] = await Promise.all([putting.then(() => undefined, (err: unknown) => err), collecting, deleting]);
        const stored: ProfileRecord | undefined = await first.getProfile(version);
        const blob: BlobRecord | undefined = await first.getBlob(digest);
        if (put !== undefined) {
          assert.ok(put instanceof StorageError && put.kind === 'not_found', String(put));
          assert.equal(stored, undefined);
        }
        if (i % 2 === 0) assert.equal(stored, undefined, 'no profile outlives its account, whichever came first');
        if (stored) {
          assert.ok(blob, 'the picture of a stored profile is never collected');
          assert.deepEqual(deleted, []);
        }
      }
    } finally {
      await p.cleanup();
    }
  });
});
