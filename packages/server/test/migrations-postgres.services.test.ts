import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Client } from 'pg';
import type { BlobDigest, DeviceId, GroupId, ProfileVersion, UserId } from '@parley/protocol';
import { POSTGRES_MIGRATIONS } from '../src/storage/postgres/migrations.js';
import { AUTOVACUUM_THRESHOLD } from '../src/storage/postgres/migration-privacy.js';
import { PostgresStorage } from '../src/storage/postgres/postgres-storage.js';
import { LEFTOVERS_SQL, NO_LEFTOVERS, type GroupLeftovers } from './storage-contract-helpers.js';
import { dropSchema, freshSchema, pgAccount as account, PG_URL as URL } from './storage-postgres-helpers.js';

const NOW = 1_800_000_000;

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

  it('carries a version-4 schema with data to device states, one Welcome per commit and byte counts', async () => {
    const schema = freshSchema();
    schemas.push(schema);
    const A = 'a'.repeat(22), B = 'b'.repeat(22), C = 'c'.repeat(22), R = 'r'.repeat(22), G = 'group1', H = 'group2';
    const raw = new Client({ connectionString: URL });
    await raw.connect();
    try {
      await raw.query(`CREATE SCHEMA "${schema}"`);
      await raw.query(`SET search_path TO "${schema}"`);
      await raw.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)');
      for (const m of POSTGRES_MIGRATIONS.slice(0, 4)) {
        await raw.query(m.sql);
        await raw.query('INSERT INTO schema_migrations VALUES ($1, $2)', [m.version, m.name]);
      }
      await raw.query("INSERT INTO users VALUES ('u1', 'u1', 'u1', 'h', '2026-01-01')");
      for (const d of [A, B, C]) await raw.query("INSERT INTO devices (id, user_id, name, signature_key, created_day) VALUES ($1, 'u1', 'd', '\\x01', '2026-01-01')", [d]);
      await raw.query("INSERT INTO devices (id, user_id, name, signature_key, created_day, revoked) VALUES ($1, 'u1', 'gone', '\\x02', '2026-01-01', TRUE)", [R]);
      await raw.query("INSERT INTO sessions VALUES ('\\xaa', 'u1', $1, 9999999999)", [A]);
      await raw.query("INSERT INTO mls_groups VALUES ($1, 1, 3, '\\x0909')", [G]);
      await raw.query('INSERT INTO mls_groups VALUES ($1, 0, 0, NULL)', [H]);
      // A created G and added B and C at seq 1 (one Welcome, stored for each); A sent seq 2 and 3.
      for (const [d, acked] of [[A, 3], [B, 0], [C, 2]] as const) await raw.query('INSERT INTO group_devices (group_id, device_id, acked_seq) VALUES ($1, $2, $3)', [G, d, acked]);
      await raw.query('INSERT INTO group_devices (group_id, device_id, acked_seq) VALUES ($1, $2, 0)', [H, A]);
      for (const [seq, k, size] of [[1, 'commit', 10], [2, 'application', 100], [3, 'application', 1000]] as const) {
        await raw.query('INSERT INTO group_messages VALUES ($1, $2, $3, 1, $4, 9999999999)', [G, seq, k, Buffer.alloc(size, seq)]);
      }
      for (const d of [C, B]) await raw.query("INSERT INTO welcomes VALUES ($1, $2, 1, 1, '\\x5757575757', '\\x494949', 9999999999)", [d, G]);
    } finally {
      await raw.end();
    }

    const before = Math.floor(Date.now() / 1000);
    const s = new PostgresStorage({ connectionString: URL, schema });
    try {
      await s.migrate();
      const after = Math.floor(Date.now() / 1000);
      const devices = await s.listDevices('u1' as UserId);
      assert.deepEqual(devices.map((d) => [d.id, d.status, d.revoked]), [[A, 'active', false], [B, 'active', false], [C, 'active', false], [R, 'revoked', true]]);
      const revokedAt = devices[3]?.revokedAt ?? 0;
      assert.ok(revokedAt % 3600 === 0 && revokedAt >= before && revokedAt < after + 3600, 'the migration time rounded up to the hour');
      assert.deepEqual(devices[3]?.signatureKey, Uint8Array.of(2));
      assert.equal((await s.getSession(Uint8Array.of(0xaa), 0))?.deviceStatus, 'active');
      const check = new Client({ connectionString: URL });
      await check.connect();
      const one = async (sql: string) => Number((await check.query<{ n: string }>(sql)).rows[0]?.n);
      try {
        assert.equal(await one(`SELECT COUNT(*) AS n FROM "${schema}".welcomes`), 1, 'the two copies became one');
        assert.equal(await one(`SELECT COUNT(*) AS n FROM "${schema}".welcome_recipients`), 2);
        assert.equal(await one(`SELECT queued_bytes AS n FROM "${schema}".mls_groups WHERE id = '${G}'`), 10 + 100 + 1000 + 5 + 3);
        assert.equal(await one(`SELECT queued_bytes AS n FROM "${schema}".mls_groups WHERE id = '${H}'`), 0);
        for (const d of [B, C]) {
          const [w] = await s.pendingWelcomes(d as DeviceId);
          assert.deepEqual(w?.parts.map((p) => Buffer.from(p).toString()), ['WWWWW', 'III']);
        }
        // Everything keeps working on the migrated data.
        await s.ack(B as DeviceId, G as GroupId, 3);
        await s.ack(C as DeviceId, G as GroupId, 3);
        assert.equal(await s.trim([G as GroupId]), 3);
        assert.deepEqual(await s.pendingWelcomes(B as DeviceId), []);
        assert.equal(await one(`SELECT queued_bytes AS n FROM "${schema}".mls_groups WHERE id = '${G}'`), 0);
        assert.equal(await one(`SELECT COUNT(*) AS n FROM "${schema}".welcomes`), 0);
        await s.leaveGroup(G as GroupId, C as DeviceId);
        assert.deepEqual(await s.groupDevices(G as GroupId), [A, B]);
        await s.appendMessage({ groupId: G as GroupId, senderDevice: A as DeviceId, quota: { userId: 'u1' as UserId, maxBytes: 100 }, kind: 'application', epoch: 1, payload: new Uint8Array(60), blobs: [], expiresAt: NOW, blobKeepUntil: NOW });
        assert.equal(await s.queuedBytes('u1' as UserId), 60);
      } finally {
        await check.end();
      }
    } finally {
      await s.close();
    }
  });

  it('adds approval signatures to a version-9 schema with linked devices, keeping them without one', async () => {
    const schema = freshSchema();
    schemas.push(schema);
    const A = 'a'.repeat(22), B = 'b'.repeat(22), P = 'p'.repeat(22);
    const raw = new Client({ connectionString: URL });
    await raw.connect();
    try {
      await raw.query(`CREATE SCHEMA "${schema}"`);
      await raw.query(`SET search_path TO "${schema}"`);
      await raw.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)');
      for (const m of POSTGRES_MIGRATIONS.slice(0, 9)) {
        await raw.query(m.sql);
        await raw.query('INSERT INTO schema_migrations VALUES ($1, $2)', [m.version, m.name]);
      }
      await raw.query("INSERT INTO users VALUES ('u1', 'u1', 'u1', 'h', '2026-01-01')");
      await raw.query("INSERT INTO devices (id, user_id, name, signature_key, created_day) VALUES ($1, 'u1', 'first', '\\x01', '2026-01-01')", [A]);
      await raw.query("INSERT INTO devices (id, user_id, name, signature_key, created_day, approved_by) VALUES ($1, 'u1', 'linked', '\\x02', '2026-01-02', $2)", [B, A]);
      await raw.query("INSERT INTO devices (id, user_id, name, signature_key, created_day, status) VALUES ($1, 'u1', 'waiting', '\\x03', '2026-01-03', 'pending')", [P]);
      await raw.query("INSERT INTO device_links VALUES ($1, 'u1', '\\xcc', 9999999999)", [P]);
    } finally {
      await raw.end();
    }

    const s = new PostgresStorage({ connectionString: URL, schema });
    try {
      await s.migrate();
      const devices = await s.listDevices('u1' as UserId);
      assert.deepEqual(
        devices.map((d) => [d.id, d.status, d.approvedBy, d.approval]),
        [[A, 'active', null, null], [B, 'active', A, null], [P, 'pending', null, null]],
        'a device linked before the migration keeps its approver, without a signature',
      );
      await s.approveDevice(P as DeviceId, A as DeviceId, NOW, Uint8Array.of(9, 9));
      const approved = await s.getDevice(P as DeviceId);
      assert.deepEqual([approved?.status, approved?.approvedBy, approved?.approval], ['active', A, Uint8Array.of(9, 9)]);
    } finally {
      await s.close();
    }
  });

  it('drops every device name (the column becomes nullable), coarsens stored times, deletes groups and GroupInfos nobody needs and sets autovacuum, on a version-10 schema', async () => {
    const schema = freshSchema();
    schemas.push(schema);
    const A = 'a'.repeat(22), B = 'b'.repeat(22), R = 'r'.repeat(22), P = 'p'.repeat(22);
    const G = 'live', H = 'abandoned', K = 'nowelcome';
    const raw = new Client({ connectionString: URL });
    await raw.connect();
    try {
      await raw.query(`CREATE SCHEMA "${schema}"`);
      await raw.query(`SET search_path TO "${schema}"`);
      await raw.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)');
      for (const m of POSTGRES_MIGRATIONS.slice(0, 10)) {
        await raw.query(m.sql);
        await raw.query('INSERT INTO schema_migrations VALUES ($1, $2)', [m.version, m.name]);
      }
      await raw.query("INSERT INTO users VALUES ('u1', 'u1', 'u1', 'h', '2026-01-01')");
      await raw.query("INSERT INTO devices (id, user_id, name, signature_key, created_day) VALUES ($1, 'u1', 'Alice''s work laptop', '\\x01', '2026-01-01')", [B]);
      await raw.query("INSERT INTO devices (id, user_id, name, signature_key, created_day, approved_by, approval) VALUES ($1, 'u1', 'phone', '\\x02', '2026-01-02', $2, '\\x0909')", [A, B]);
      await raw.query("INSERT INTO devices (id, user_id, name, signature_key, created_day, status, revoked_at) VALUES ($1, 'u1', 'old tablet', '\\x03', '2026-01-03', 'revoked', 1800003600)", [R]);
      await raw.query("INSERT INTO devices (id, user_id, name, signature_key, created_day, status) VALUES ($1, 'u1', 'waiting', '\\x04', '2026-01-04', 'pending')", [P]);
      await raw.query("INSERT INTO sessions VALUES ('\\xaa', 'u1', $1, 1800000123)", [A]);
      await raw.query('INSERT INTO blobs VALUES ($1, 5, 1800000123), ($2, 5, 1800003600)', ['d'.repeat(64), 'e'.repeat(64)]);
      await raw.query("INSERT INTO mls_groups VALUES ($1, 1, 2, '\\x4747', 10), ($2, 3, 7, '\\x4848', 8), ($3, 1, 1, '\\x4b4b', 0)", [G, H, K]);
      await raw.query('INSERT INTO group_devices (group_id, device_id, acked_seq) VALUES ($1, $2, 2), ($1, $3, 1), ($4, $2, 1)', [G, A, B, K]);
      await raw.query('INSERT INTO group_departures VALUES ($1, $2)', [H, A]);
      await raw.query("INSERT INTO group_messages VALUES ($1, 2, 'application', 1, '\\x6d6d', 9999999999), ($2, 7, 'application', 3, '\\x68686868', 9999999999)", [G, H]);
      await raw.query('INSERT INTO blob_refs VALUES ($1, 7, $2)', [H, 'e'.repeat(64)]);
      await raw.query("INSERT INTO welcomes VALUES ($1, 1, 1, '\\x5757', '\\x4949', 9999999999), ($2, 5, 3, '\\x5757', NULL, 9999999999)", [G, H]);
      await raw.query('INSERT INTO welcome_recipients VALUES ($1, $2, 1)', [B, G]);
      await raw.query("INSERT INTO queue_charges VALUES ('u1', $1, 8)", [H]);
    } finally {
      await raw.end();
    }

    const s = new PostgresStorage({ connectionString: URL, schema });
    try {
      await s.migrate();
      const check = new Client({ connectionString: URL });
      await check.connect();
      try {
        await check.query(`SET search_path TO "${schema}"`);
        const nullable = await check.query<{ is_nullable: string }>("SELECT is_nullable FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'devices' AND column_name = 'name'", [schema]);
        assert.equal(nullable.rows[0]?.is_nullable, 'YES');
        assert.deepEqual((await check.query('SELECT name FROM devices')).rows, [{ name: null }, { name: null }, { name: null }, { name: null }], 'no name in clear survives');
        assert.equal(Number((await check.query<{ expires_at: string }>('SELECT expires_at FROM sessions')).rows[0]?.expires_at), 1_800_057_600, 'to the next UTC midnight');
        assert.deepEqual((await check.query<{ k: string }>('SELECT keep_until AS k FROM blobs ORDER BY digest')).rows.map((r) => Number(r.k)), [1_800_003_600, 1_800_003_600], 'to the hour, up');
        const left = async (g: string): Promise<GroupLeftovers> => {
          const row = (await check.query<Record<string, string>>(LEFTOVERS_SQL, [g])).rows[0] ?? {};
          return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)])) as unknown as GroupLeftovers;
        };
        assert.deepEqual(await left(H), NO_LEFTOVERS, 'a group everyone left is gone with everything it held');
        assert.deepEqual(await left(G), { group: 1, groupInfo: 1, messages: 1, welcomes: 1, recipients: 1, cursors: 2, departures: 0, charges: 0, blobRefs: 0 });
        assert.deepEqual([(await left(K)).group, (await left(K)).groupInfo], [1, 0], 'no Welcome waits: the GroupInfo goes');
        // Every table is vacuumed after a fixed number of dead rows, whatever its size.
        const options = await check.query<{ relname: string; reloptions: string[] | null }>(
          `SELECT c.relname, c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relname <> 'schema_migrations'`,
          [schema],
        );
        assert.ok(options.rows.length >= 16);
        for (const r of options.rows) {
          assert.ok(r.reloptions?.includes('autovacuum_vacuum_scale_factor=0'), `${r.relname}: ${String(r.reloptions)}`);
          assert.ok(r.reloptions?.includes(`autovacuum_vacuum_threshold=${AUTOVACUUM_THRESHOLD}`), r.relname);
        }
        const toast = await check.query<{ reloptions: string[] | null }>(
          `SELECT t.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_class t ON t.oid = c.reltoastrelid WHERE n.nspname = $1 AND c.relname = 'group_messages'`,
          [schema],
        );
        assert.ok(toast.rows[0]?.reloptions?.includes('autovacuum_vacuum_scale_factor=0'), 'payloads stored out of line too');
      } finally {
        await check.end();
      }
      const devices = await s.listDevices('u1' as UserId);
      assert.deepEqual(
        devices.map((d) => [d.id, d.name, d.status, d.revokedAt, d.approvedBy, d.approval, Buffer.from(d.signatureKey).toString('hex')]),
        [
          [B, null, 'active', null, null, null, '01'],
          [A, null, 'active', null, B, Uint8Array.of(9, 9), '02'],
          [R, null, 'revoked', 1_800_003_600, null, null, '03'],
          [P, null, 'pending', null, null, null, '04'],
        ],
      );
      assert.equal((await s.getSession(Uint8Array.of(0xaa), 1_800_000_200))?.deviceId, A);
      // The new append path (riding acks) and trim (GroupInfo dropped once B has its Welcome) work on migrated data.
      await s.appendMessage({ groupId: G as GroupId, senderDevice: B as DeviceId, ack: 2, kind: 'application', epoch: 1, payload: Uint8Array.of(1), blobs: [], expiresAt: NOW, blobKeepUntil: NOW });
      assert.deepEqual(await s.pendingWelcomes(B as DeviceId), [], 'the riding ack covered the Welcome');
      await s.ack(A as DeviceId, G as GroupId, 3);
      await s.trim([G as GroupId]);
      assert.equal(await s.getGroupInfo(G as GroupId), undefined);
      assert.deepEqual(await s.pendingMessages(A as DeviceId, undefined, 10), []);
    } finally {
      await s.close();
    }
  });

  it('adds a per-group retention (none) to a version-11 schema with a group and a pending message', async () => {
    const schema = freshSchema();
    schemas.push(schema);
    const A = 'a'.repeat(22), B = 'b'.repeat(22), G = 'g'.repeat(22);
    const raw = new Client({ connectionString: URL });
    await raw.connect();
    try {
      await raw.query(`CREATE SCHEMA "${schema}"`);
      await raw.query(`SET search_path TO "${schema}"`);
      await raw.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)');
      for (const m of POSTGRES_MIGRATIONS.slice(0, 11)) {
        await raw.query(m.sql);
        await raw.query('INSERT INTO schema_migrations VALUES ($1, $2)', [m.version, m.name]);
      }
      await raw.query("INSERT INTO users VALUES ('u1', 'u1', 'u1', 'h', '2026-01-01')");
      await raw.query("INSERT INTO devices (id, user_id, signature_key, created_day) VALUES ($1, 'u1', '\\x01', '2026-01-01'), ($2, 'u1', '\\x02', '2026-01-01')", [A, B]);
      await raw.query('INSERT INTO mls_groups (id, epoch, last_seq, queued_bytes) VALUES ($1, 1, 2, 2)', [G]);
      await raw.query('INSERT INTO group_devices (group_id, device_id, acked_seq) VALUES ($1, $2, 2), ($1, $3, 1)', [G, A, B]);
      await raw.query("INSERT INTO group_messages (group_id, seq, kind, epoch, payload, expires_at) VALUES ($1, 2, 'application', 1, '\\x6d6d', 1800086400)", [G]);
    } finally {
      await raw.end();
    }
    const s = new PostgresStorage({ connectionString: URL, schema });
    try {
      await s.migrate();
      assert.equal(await s.groupRetention(G as GroupId), null);
      assert.equal(await s.setGroupRetention(G as GroupId, B as DeviceId, 300, 2), 300);
      assert.equal(await s.enforceRetention(NOW, 120), 1);
      assert.equal((await s.sweep(NOW + 180)).messages, 1, 'the message older than the retention is gone');
      assert.deepEqual(await s.pendingMessages(B as DeviceId, undefined, 10), []);
    } finally {
      await s.close();
    }
  });

  it('adds encrypted profiles (vacuumed promptly) to a version-13 schema with an account and an uploaded blob', async () => {
    const schema = freshSchema();
    schemas.push(schema);
    const U = 'u'.repeat(22), D = 'p'.repeat(64);
    const raw = new Client({ connectionString: URL });
    await raw.connect();
    try {
      await raw.query(`CREATE SCHEMA "${schema}"`);
      await raw.query(`SET search_path TO "${schema}"`);
      await raw.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)');
      for (const m of POSTGRES_MIGRATIONS.slice(0, 13)) {
        await raw.query(m.sql);
        await raw.query('INSERT INTO schema_migrations VALUES ($1, $2)', [m.version, m.name]);
      }
      await raw.query("INSERT INTO users (id, username, skeleton, password_hash, created_day) VALUES ($1, 'ulla', 'ulla', 'h', '2026-01-01')", [U]);
      await raw.query('INSERT INTO blobs (digest, size, keep_until) VALUES ($1, 10, $2)', [D, NOW]);
    } finally {
      await raw.end();
    }
    const s = new PostgresStorage({ connectionString: URL, schema });
    try {
      await s.migrate();
      const version = 'v'.repeat(42) + 'A';
      const p = { userId: U as UserId, version: version as ProfileVersion, ciphertext: new Uint8Array(32).fill(7), pictureBlob: D as BlobDigest, updatedDay: '2027-01-01' };
      await s.putProfile(p, NOW);
      assert.deepEqual(await s.getProfile(version as ProfileVersion), p);
      assert.deepEqual(await s.collectableBlobs(NOW + 100_000_000, 10), [], 'the picture is kept while the profile refers to it');
    } finally {
      await s.close();
    }
    const check = new Client({ connectionString: URL });
    await check.connect();
    try {
      const r = await check.query<{ reloptions: string[] | null; toast: string[] | null }>(
        `SELECT c.reloptions, t.reloptions AS toast FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_class t ON t.oid = c.reltoastrelid WHERE n.nspname = $1 AND c.relname = 'profiles'`,
        [schema],
      );
      assert.ok(r.rows[0]?.reloptions?.includes('autovacuum_vacuum_scale_factor=0'), String(r.rows[0]?.reloptions));
      assert.ok(r.rows[0]?.toast?.includes(`autovacuum_vacuum_threshold=${AUTOVACUUM_THRESHOLD}`), 'ciphertexts stored out of line too');
    } finally {
      await check.end();
    }
  });

  it('adds push subscriptions (vacuumed promptly) to a version-14 schema with an active and a revoked device', async () => {
    const schema = freshSchema();
    schemas.push(schema);
    const U = 'u'.repeat(22), A = 'a'.repeat(22), R = 'r'.repeat(22);
    const raw = new Client({ connectionString: URL });
    await raw.connect();
    try {
      await raw.query(`CREATE SCHEMA "${schema}"`);
      await raw.query(`SET search_path TO "${schema}"`);
      await raw.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)');
      for (const m of POSTGRES_MIGRATIONS.slice(0, 14)) {
        await raw.query(m.sql);
        await raw.query('INSERT INTO schema_migrations VALUES ($1, $2)', [m.version, m.name]);
      }
      await raw.query("INSERT INTO users (id, username, skeleton, password_hash, created_day) VALUES ($1, 'ulla', 'ulla', 'h', '2026-01-01')", [U]);
      await raw.query("INSERT INTO devices (id, user_id, signature_key, created_day, status) VALUES ($1, $2, '\\x00', '2026-01-01', 'active')", [A, U]);
      await raw.query("INSERT INTO devices (id, user_id, signature_key, created_day, status, revoked_at) VALUES ($1, $2, '\\x01', '2026-01-01', 'revoked', $3)", [R, U, NOW]);
    } finally {
      await raw.end();
    }
    const s = new PostgresStorage({ connectionString: URL, schema });
    try {
      await s.migrate();
      const sub = { deviceId: A as DeviceId, endpoint: 'https://push.example/send/1', p256dh: 'B'.repeat(87), auth: 'C'.repeat(22) };
      await s.putPushSubscription(sub);
      assert.deepEqual(await s.pushSubscriptions([A as DeviceId, R as DeviceId]), [sub]);
      await assert.rejects(s.putPushSubscription({ ...sub, deviceId: R as DeviceId }), /device not found/);
    } finally {
      await s.close();
    }
    const check = new Client({ connectionString: URL });
    await check.connect();
    try {
      const r = await check.query<{ reloptions: string[] | null }>(
        `SELECT c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'push_subscriptions'`,
        [schema],
      );
      assert.ok(r.rows[0]?.reloptions?.includes('autovacuum_vacuum_scale_factor=0'), String(r.rows[0]?.reloptions));
    } finally {
      await check.end();
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

