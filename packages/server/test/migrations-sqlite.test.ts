import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { DeviceId, GroupId, UserId } from '@parley/protocol';
import { SqliteStorage } from '../src/storage/sqlite/sqlite-storage.js';
import { SQLITE_MIGRATIONS } from '../src/storage/sqlite/migrations.js';

describe('SQLite migrations', () => {
  it('migrate an empty database to the latest version', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-mig-'));
    try {
      const s = new SqliteStorage({ path: join(dir, 'p.db') });
      await s.migrate();
      await s.close();
      const db = new Database(join(dir, 'p.db'), { readonly: true });
      const versions = db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as Array<{ version: number }>;
      assert.deepEqual(versions.map((v) => v.version), SQLITE_MIGRATIONS.map((m) => m.version));
      const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>).map((t) => t.name);
      for (const t of [
        'users', 'devices', 'sessions', 'key_packages', 'mls_groups', 'group_devices', 'group_messages', 'welcomes', 'welcome_recipients',
        'blobs', 'blob_refs', 'device_links', 'session_challenges', 'group_departures', 'queue_charges', 'blob_usage',
      ]) assert.ok(tables.includes(t), t);
      const deviceColumns = (db.prepare('PRAGMA table_info(devices)').all() as Array<{ name: string }>).map((c) => c.name);
      assert.deepEqual(deviceColumns, ['id', 'user_id', 'name', 'signature_key', 'created_day', 'status', 'revoked_at', 'approved_by', 'approval']);
      assert.equal((db.pragma('journal_mode', { simple: true }) as string).toLowerCase(), 'wal');
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keep existing data when run again on a populated database', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-mig-'));
    try {
      const path = join(dir, 'p.db');
      const s1 = new SqliteStorage({ path });
      await s1.migrate();
      await s1.createAccount(
        { id: 'u'.repeat(22) as UserId, username: 'gina', skeleton: 'glna', passwordHash: 'h', createdDay: '2026-11-28' },
        { id: 'd'.repeat(22) as DeviceId, name: 'x', signatureKey: new Uint8Array(32) },
        undefined,
      );
      await s1.close();
      const s2 = new SqliteStorage({ path });
      await s2.migrate();
      await s2.migrate();
      assert.equal((await s2.getUserByUsername('gina'))?.id, 'u'.repeat(22));
      assert.equal((await s2.listDevices('u'.repeat(22) as UserId)).length, 1);
      await s2.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('move version-1 mailboxes to cursors and welcomes without losing a pending message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-mig-'));
    try {
      const path = join(dir, 'p.db');
      const v1 = SQLITE_MIGRATIONS[0];
      assert.ok(v1);
      const raw = new Database(path);
      raw.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)');
      raw.exec(v1.sql);
      raw.prepare('INSERT INTO schema_migrations VALUES (1, ?)').run(v1.name);
      const A = 'a'.repeat(22), B = 'b'.repeat(22), C = 'c'.repeat(22), G = 'group1';
      raw.prepare("INSERT INTO users VALUES ('u1', 'u1', 'u1', 'h', '2026-01-01')").run();
      for (const d of [A, B, C]) raw.prepare("INSERT INTO devices VALUES (?, 'u1', 'd', x'00', '2026-01-01', 0)").run(d);
      raw.prepare('INSERT INTO mls_groups VALUES (?, 2, 4, NULL)').run(G);
      // A and C are members; B was removed at seq 4 and has not seen that commit yet
      for (const d of [A, C]) raw.prepare('INSERT INTO group_devices VALUES (?, ?)').run(G, d);
      const msg = raw.prepare('INSERT INTO messages (group_id, seq, kind, epoch, payload, extra, expires_at) VALUES (?, ?, ?, ?, ?, ?, 9999999999)');
      const box = raw.prepare('INSERT INTO mailbox VALUES (?, ?, ?, ?)');
      const m2 = Number(msg.run(G, 2, 'welcome', 1, Buffer.from('W'), Buffer.from('I')).lastInsertRowid);
      const m3 = Number(msg.run(G, 3, 'application', 1, Buffer.from('M3'), null).lastInsertRowid);
      const m4 = Number(msg.run(G, 4, 'commit', 1, Buffer.from('C4'), null).lastInsertRowid);
      box.run(C, m2, G, 2);
      box.run(C, m3, G, 3);
      box.run(C, m4, G, 4);
      box.run(B, m3, G, 3);
      box.run(B, m4, G, 4);
      raw.close();

      const s = new SqliteStorage({ path });
      await s.migrate();
      const welcomes = await s.pendingWelcomes(C as DeviceId);
      assert.deepEqual(welcomes.map((w) => [w.seq, Buffer.from(w.parts[0] ?? []).toString(), Buffer.from(w.parts[1] ?? []).toString()]), [[2, 'W', 'I']]);
      const forC = await s.pendingMessages(C as DeviceId, undefined, 10);
      assert.deepEqual(forC.map((m) => [m.seq, m.kind]), [[3, 'application'], [4, 'commit']]);
      const forB = await s.pendingMessages(B as DeviceId, undefined, 10);
      assert.deepEqual(forB.map((m) => m.seq), [3, 4]);
      assert.equal(await s.isMember(G as never, B as DeviceId), false);
      assert.deepEqual(await s.pendingMessages(A as DeviceId, undefined, 10), []);
      await s.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('carry a version-2 database with data to device states, one Welcome per commit and byte counts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-mig-'));
    try {
      const path = join(dir, 'p.db');
      const raw = new Database(path);
      raw.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)');
      for (const m of SQLITE_MIGRATIONS.slice(0, 2)) {
        raw.exec(m.sql);
        raw.prepare('INSERT INTO schema_migrations VALUES (?, ?)').run(m.version, m.name);
      }
      const A = 'a'.repeat(22), B = 'b'.repeat(22), C = 'c'.repeat(22), R = 'r'.repeat(22), G = 'group1', H = 'group2';
      raw.prepare("INSERT INTO users VALUES ('u1', 'u1', 'u1', 'h', '2026-01-01')").run();
      for (const d of [A, B, C]) raw.prepare("INSERT INTO devices VALUES (?, 'u1', 'd', x'01', '2026-01-01', 0)").run(d);
      raw.prepare("INSERT INTO devices VALUES (?, 'u1', 'gone', x'02', '2026-01-01', 1)").run(R);
      raw.prepare("INSERT INTO sessions VALUES (x'aa', 'u1', ?, 9999999999)").run(A);
      raw.prepare("INSERT INTO mls_groups VALUES (?, 1, 3, x'0909')").run(G);
      raw.prepare('INSERT INTO mls_groups VALUES (?, 0, 0, NULL)').run(H);
      // A created G and added B and C at seq 1 (one Welcome, stored for each); A sent seq 2 and 3.
      for (const [d, acked] of [[A, 3], [B, 0], [C, 2]] as const) raw.prepare('INSERT INTO group_devices (group_id, device_id, acked_seq) VALUES (?, ?, ?)').run(G, d, acked);
      raw.prepare('INSERT INTO group_devices (group_id, device_id, acked_seq) VALUES (?, ?, 0)').run(H, A);
      const msg = raw.prepare('INSERT INTO group_messages VALUES (?, ?, ?, 1, ?, 9999999999)');
      msg.run(G, 1, 'commit', Buffer.alloc(10, 1));
      msg.run(G, 2, 'application', Buffer.alloc(100, 2));
      msg.run(G, 3, 'application', Buffer.alloc(1000, 3));
      const welcome = raw.prepare("INSERT INTO welcomes VALUES (?, ?, 1, 1, x'5757575757', x'494949', 9999999999)");
      welcome.run(B, G);
      welcome.run(C, G);
      raw.close();

      const before = Math.floor(Date.now() / 1000);
      const s = new SqliteStorage({ path });
      await s.migrate();
      const after = Math.floor(Date.now() / 1000);
      try {
        const devices = await s.listDevices('u1' as UserId);
        assert.deepEqual(devices.map((d) => [d.id, d.status, d.revoked]), [[A, 'active', false], [B, 'active', false], [C, 'active', false], [R, 'revoked', true]]);
        const revokedAt = devices[3]?.revokedAt ?? 0;
        assert.ok(revokedAt % 3600 === 0 && revokedAt >= before && revokedAt < after + 3600, 'the migration time rounded up to the hour');
        assert.deepEqual(devices[3]?.signatureKey, Uint8Array.of(2));
        assert.equal((await s.getSession(Uint8Array.of(0xaa), 0))?.deviceStatus, 'active');

        const db = new Database(path, { readonly: true });
        const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
        assert.equal(count('SELECT COUNT(*) AS n FROM welcomes'), 1, 'the two copies became one');
        assert.equal(count('SELECT COUNT(*) AS n FROM welcome_recipients'), 2);
        assert.equal(count(`SELECT queued_bytes AS n FROM mls_groups WHERE id = '${G}'`), 10 + 100 + 1000 + 5 + 3);
        assert.equal(count(`SELECT queued_bytes AS n FROM mls_groups WHERE id = '${H}'`), 0);
        db.close();
        for (const d of [B, C]) {
          const [w] = await s.pendingWelcomes(d as DeviceId);
          assert.deepEqual(w?.parts.map((p) => Buffer.from(p).toString()), ['WWWWW', 'III']);
        }
        // Everything keeps working on the migrated data.
        await s.ack(B as DeviceId, G as GroupId, 3);
        await s.ack(C as DeviceId, G as GroupId, 3);
        assert.equal(await s.trim([G as GroupId]), 3);
        assert.deepEqual(await s.pendingWelcomes(B as DeviceId), []);
        const check = new Database(path, { readonly: true });
        assert.deepEqual(check.prepare(`SELECT queued_bytes AS n FROM mls_groups WHERE id = '${G}'`).get(), { n: 0 });
        assert.deepEqual(check.prepare('SELECT COUNT(*) AS n FROM welcomes').get(), { n: 0 });
        check.close();
        await s.leaveGroup(G as GroupId, C as DeviceId);
        assert.deepEqual(await s.groupDevices(G as GroupId), [A, B]);
      } finally {
        await s.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('add approval signatures to a version-6 database with linked devices, keeping them without one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-mig-'));
    try {
      const path = join(dir, 'p.db');
      const raw = new Database(path);
      raw.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)');
      for (const m of SQLITE_MIGRATIONS.slice(0, 6)) {
        raw.exec(m.sql);
        raw.prepare('INSERT INTO schema_migrations VALUES (?, ?)').run(m.version, m.name);
      }
      const A = 'a'.repeat(22), B = 'b'.repeat(22), P = 'p'.repeat(22);
      raw.prepare("INSERT INTO users VALUES ('u1', 'u1', 'u1', 'h', '2026-01-01')").run();
      raw.prepare("INSERT INTO devices (id, user_id, name, signature_key, created_day) VALUES (?, 'u1', 'first', x'01', '2026-01-01')").run(A);
      raw.prepare("INSERT INTO devices (id, user_id, name, signature_key, created_day, approved_by) VALUES (?, 'u1', 'linked', x'02', '2026-01-02', ?)").run(B, A);
      raw.prepare("INSERT INTO devices (id, user_id, name, signature_key, created_day, status) VALUES (?, 'u1', 'waiting', x'03', '2026-01-03', 'pending')").run(P);
      raw.prepare("INSERT INTO device_links VALUES (?, 'u1', x'cc', 9999999999)").run(P);
      raw.close();

      const s = new SqliteStorage({ path });
      try {
        await s.migrate();
        const devices = await s.listDevices('u1' as UserId);
        assert.deepEqual(
          devices.map((d) => [d.id, d.status, d.approvedBy, d.approval]),
          [[A, 'active', null, null], [B, 'active', A, null], [P, 'pending', null, null]],
          'a device linked before the migration keeps its approver, without a signature',
        );
        await s.approveDevice(P as DeviceId, A as DeviceId, 1_800_000_000, Uint8Array.of(9, 9));
        const approved = await s.getDevice(P as DeviceId);
        assert.deepEqual([approved?.status, approved?.approvedBy, approved?.approval], ['active', A, Uint8Array.of(9, 9)]);
      } finally {
        await s.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('are numbered in order without gaps', () => {
    SQLITE_MIGRATIONS.forEach((m, i) => assert.equal(m.version, i + 1));
  });
});
