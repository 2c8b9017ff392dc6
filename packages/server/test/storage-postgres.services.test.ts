import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Client } from 'pg';
import type { DeviceId, GroupId, UserId } from '@parley/protocol';
import { POSTGRES_MIGRATIONS } from '../src/storage/postgres/migrations.js';
import { PostgresStorage } from '../src/storage/postgres/postgres-storage.js';
import { StorageError, type CommitResult } from '../src/storage/storage.js';
import { storageContract } from './storage-contract.js';

const URL = process.env['PARLEY_TEST_PG_URL'] ?? process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const NOW = 1_800_000_000;

const freshSchema = (): string => `parley_test_${randomBytes(6).toString('hex')}`;

async function dropSchema(schema: string): Promise<void> {
  const client = new Client({ connectionString: URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

storageContract('postgres', async () => {
  const schema = freshSchema();
  const storage = new PostgresStorage({ connectionString: URL, schema });
  await storage.migrate();
  return {
    storage,
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

async function account(s: PostgresStorage): Promise<DeviceId> {
  const name = `user${randomBytes(4).toString('hex')}`;
  const deviceId = randomBytes(16).toString('base64url') as DeviceId;
  await s.createAccount(
    { id: randomBytes(16).toString('base64url') as UserId, username: name, skeleton: `sk-${name}`, passwordHash: 'h', createdDay: '2026-11-28' },
    { id: deviceId, name: 'laptop', signatureKey: randomBytes(32) },
    undefined,
  );
  return deviceId;
}

describe('PostgreSQL migrations', () => {
  const schemas: string[] = [];
  after(async () => {
    for (const s of schemas) await dropSchema(s);
  });

  it('migrates an empty schema, and again without change', async () => {
    const schema = freshSchema();
    schemas.push(schema);
    const s = new PostgresStorage({ connectionString: URL, schema });
    try {
      await s.migrate();
      await s.migrate();
      assert.deepEqual(await s.health(), { kind: 'postgres', ok: true });
    } finally {
      await s.close();
    }
    const client = new Client({ connectionString: URL });
    await client.connect();
    try {
      const r = await client.query<{ n: string }>(`SELECT COUNT(*) AS n FROM "${schema}".schema_migrations`);
      assert.equal(r.rows[0]?.n, String(POSTGRES_MIGRATIONS.length));
    } finally {
      await client.end();
    }
  });

  it('lets several processes migrate a fresh schema at once', async () => {
    const schema = freshSchema();
    schemas.push(schema);
    const a = new PostgresStorage({ connectionString: URL, schema });
    const b = new PostgresStorage({ connectionString: URL, schema });
    try {
      const settled = await Promise.allSettled([a.migrate(), b.migrate()]);
      assert.deepEqual(settled.map((r) => r.status), ['fulfilled', 'fulfilled']);
      const d = await account(a);
      assert.equal((await b.getDevice(d))?.id, d);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('moves version-1 mailboxes to cursors and welcomes without losing a pending message', async () => {
    const schema = freshSchema();
    schemas.push(schema);
    const v1 = POSTGRES_MIGRATIONS[0];
    assert.ok(v1);
    const A = 'a'.repeat(22), B = 'b'.repeat(22), C = 'c'.repeat(22), G = 'group1';
    const raw = new Client({ connectionString: URL });
    await raw.connect();
    try {
      await raw.query(`CREATE SCHEMA "${schema}"`);
      await raw.query(`SET search_path TO "${schema}"`);
      await raw.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)');
      await raw.query(v1.sql);
      await raw.query('INSERT INTO schema_migrations VALUES (1, $1)', [v1.name]);
      await raw.query("INSERT INTO users VALUES ('u1', 'u1', 'u1', 'h', '2026-01-01')");
      for (const d of [A, B, C]) {
        await raw.query("INSERT INTO devices (id, user_id, name, signature_key, created_day) VALUES ($1, 'u1', 'd', '\\x00', '2026-01-01')", [d]);
      }
      await raw.query('INSERT INTO mls_groups VALUES ($1, 2, 4, NULL)', [G]);
      // A and C are members; B was removed at seq 4 and has not seen that commit yet
      for (const d of [A, C]) await raw.query('INSERT INTO group_devices VALUES ($1, $2)', [G, d]);
      const msg = async (seq: number, k: string, payload: string, extra: string | null): Promise<string> => {
        const r = await raw.query<{ id: string }>(
          'INSERT INTO messages (group_id, seq, kind, epoch, payload, extra, expires_at) VALUES ($1, $2, $3, 1, $4, $5, 9999999999) RETURNING id',
          [G, seq, k, Buffer.from(payload), extra === null ? null : Buffer.from(extra)],
        );
        const id = r.rows[0]?.id;
        assert.ok(id);
        return id;
      };
      const m2 = await msg(2, 'welcome', 'W', 'I');
      const m3 = await msg(3, 'application', 'M3', null);
      const m4 = await msg(4, 'commit', 'C4', null);
      const box = (d: string, m: string, seq: number) => raw.query('INSERT INTO mailbox VALUES ($1, $2, $3, $4)', [d, m, G, seq]);
      await box(C, m2, 2);
      await box(C, m3, 3);
      await box(C, m4, 4);
      await box(B, m3, 3);
      await box(B, m4, 4);
      await raw.query("INSERT INTO blobs VALUES ($1, 5, 0)", ['d'.repeat(64)]);
      await raw.query('INSERT INTO blob_refs VALUES ($1, $2)', [m3, 'd'.repeat(64)]);
    } finally {
      await raw.end();
    }

    const s = new PostgresStorage({ connectionString: URL, schema });
    try {
      await s.migrate();
      const welcomes = await s.pendingWelcomes(C as DeviceId);
      assert.deepEqual(welcomes.map((w) => [w.seq, Buffer.from(w.parts[0] ?? []).toString(), Buffer.from(w.parts[1] ?? []).toString()]), [[2, 'W', 'I']]);
      const forC = await s.pendingMessages(C as DeviceId, undefined, 10);
      assert.deepEqual(forC.map((m) => [m.seq, m.kind]), [[3, 'application'], [4, 'commit']]);
      const forB = await s.pendingMessages(B as DeviceId, undefined, 10);
      assert.deepEqual(forB.map((m) => m.seq), [3, 4]);
      assert.equal(await s.isMember(G as GroupId, B as DeviceId), false);
      assert.deepEqual((await s.groupDevices(G as GroupId)).sort(), [A, C]);
      assert.deepEqual(await s.pendingMessages(A as DeviceId, undefined, 10), []);
      // the blob stays referenced by seq 3 until every cursor has passed it
      assert.deepEqual(await s.collectableBlobs(NOW, 10), []);
      await s.ack(B as DeviceId, G as GroupId, 4);
      await s.ack(C as DeviceId, G as GroupId, 4);
      assert.deepEqual(await s.pendingWelcomes(C as DeviceId), []);
      assert.equal(await s.trim([G as GroupId]), 2);
      assert.deepEqual(await s.collectableBlobs(NOW, 10), ['d'.repeat(64)]);
    } finally {
      await s.close();
    }
  });

  it('are numbered in order without gaps', () => {
    POSTGRES_MIGRATIONS.forEach((m, i) => assert.equal(m.version, i + 1));
  });

  it('refuses an unsafe schema name, and reports an unreachable server as unhealthy', async () => {
    assert.throws(() => new PostgresStorage({ connectionString: URL, schema: 'x"; DROP TABLE users; --' }));
    const s = new PostgresStorage({ connectionString: 'postgres://postgres@127.0.0.1:1/none', schema: freshSchema() });
    try {
      assert.deepEqual(await s.health(), { kind: 'postgres', ok: false });
    } finally {
      await s.close();
    }
  });
});

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
        const revoking: Promise<GroupId[]> = second.revokeDevice(x);
        const [readd, revoke] = await Promise.allSettled([readding, revoking]);
        assert.equal(revoke.status, 'fulfilled');
        if (readd.status === 'rejected') {
          const reason = readd.reason as unknown;
          assert.ok(reason instanceof StorageError, String(reason));
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
});
