import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Client } from 'pg';
import type { DeviceId, GroupId, UserId } from '@parley/protocol';
import { PostgresStorage } from '../src/storage/postgres/postgres-storage.js';
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
      assert.equal(r.rows[0]?.n, '1');
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
      await first.addKeyPackages(device, stock, { ciphersuite: 1, expiresAt: NOW + 86400, data: Uint8Array.of(2, 0) }, 100);
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
      // within a group, message ids follow seq: the group lock is held from seq to commit
      const forB = await first.pendingMessages(b, 0, 1000);
      assert.equal(forB.length, 1 + n / 2);
      const seqs = forB.map((m) => m.seq);
      assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y));
      assert.equal(new Set(seqs).size, seqs.length);
    } finally {
      await p.cleanup();
    }
  });
});
