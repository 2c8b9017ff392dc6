import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { BlobDigest, DeviceId, GroupId, ProfileVersion, UserId } from '@parley/protocol';
import { SqliteStorage } from '../src/storage/sqlite/sqlite-storage.js';
import { SQLITE_MIGRATIONS } from '../src/storage/sqlite/migrations.js';
import { LEFTOVERS_SQL, NO_LEFTOVERS, type GroupLeftovers } from './storage-contract-helpers.js';

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
        'blobs', 'blob_refs', 'device_links', 'session_challenges', 'group_departures', 'queue_charges', 'blob_usage', 'username_holds', 'profiles', 'push_subscriptions',
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
        { id: 'd'.repeat(22) as DeviceId, signatureKey: new Uint8Array(32) },
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

  it('drop every device name (the column becomes nullable), coarsen stored times and delete groups and GroupInfos nobody needs, on a version-7 database', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-mig-'));
    try {
      const path = join(dir, 'p.db');
      const raw = new Database(path);
      raw.pragma('foreign_keys = ON');
      raw.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)');
      for (const m of SQLITE_MIGRATIONS.slice(0, 7)) {
        raw.exec(m.sql);
        raw.prepare('INSERT INTO schema_migrations VALUES (?, ?)').run(m.version, m.name);
      }
      const A = 'a'.repeat(22), B = 'b'.repeat(22), R = 'r'.repeat(22), P = 'p'.repeat(22);
      const G = 'live', H = 'abandoned', K = 'nowelcome';
      raw.prepare("INSERT INTO users VALUES ('u1', 'u1', 'u1', 'h', '2026-01-01')").run();
      // Inserted out of id order: a user's devices are listed in the order they were added (rowid).
      raw.prepare("INSERT INTO devices (id, user_id, name, signature_key, created_day) VALUES (?, 'u1', 'Alice''s work laptop', x'01', '2026-01-01')").run(B);
      raw.prepare("INSERT INTO devices (id, user_id, name, signature_key, created_day, approved_by, approval) VALUES (?, 'u1', 'phone', x'02', '2026-01-02', ?, x'0909')").run(A, B);
      raw.prepare("INSERT INTO devices (id, user_id, name, signature_key, created_day, status, revoked_at) VALUES (?, 'u1', 'old tablet', x'03', '2026-01-03', 'revoked', 1800003600)").run(R);
      raw.prepare("INSERT INTO devices (id, user_id, name, signature_key, created_day, status) VALUES (?, 'u1', 'waiting', x'04', '2026-01-04', 'pending')").run(P);
      raw.prepare("INSERT INTO device_links VALUES (?, 'u1', x'cc', 9999999999)").run(P);
      raw.prepare("INSERT INTO sessions VALUES (x'aa', 'u1', ?, 1800000123)").run(A);
      raw.prepare("INSERT INTO key_packages (device_id, ciphersuite, expires_at, last_resort, data) VALUES (?, 1, 9999999999, 0, x'00')").run(A);
      raw.prepare("INSERT INTO blobs VALUES (?, 5, 1800000123)").run('d'.repeat(64));
      raw.prepare("INSERT INTO blobs VALUES (?, 5, 1800003600)").run('e'.repeat(64));
      // G: A and B, a Welcome still waiting for B. H: everyone left (only a departure). K: nobody waits for a Welcome.
      raw.prepare("INSERT INTO mls_groups VALUES (?, 1, 2, x'4747', 10)").run(G);
      raw.prepare("INSERT INTO mls_groups VALUES (?, 3, 7, x'4848', 8)").run(H);
      raw.prepare("INSERT INTO mls_groups VALUES (?, 1, 1, x'4b4b', 0)").run(K);
      for (const [g, d, acked] of [[G, A, 2], [G, B, 1], [K, A, 1]] as const) raw.prepare('INSERT INTO group_devices (group_id, device_id, acked_seq) VALUES (?, ?, ?)').run(g, d, acked);
      raw.prepare('INSERT INTO group_departures VALUES (?, ?)').run(H, A);
      raw.prepare("INSERT INTO group_messages VALUES (?, 2, 'application', 1, x'6d6d', 9999999999)").run(G);
      raw.prepare("INSERT INTO group_messages VALUES (?, 7, 'application', 3, x'68686868', 9999999999)").run(H);
      raw.prepare('INSERT INTO blob_refs VALUES (?, 7, ?)').run(H, 'e'.repeat(64));
      raw.prepare("INSERT INTO welcomes VALUES (?, 1, 1, x'5757', x'4949', 9999999999)").run(G);
      raw.prepare("INSERT INTO welcomes VALUES (?, 5, 3, x'5757', NULL, 9999999999)").run(H);
      raw.prepare('INSERT INTO welcome_recipients VALUES (?, ?, 1)').run(B, G);
      raw.prepare("INSERT INTO queue_charges VALUES ('u1', ?, 8)").run(H);
      raw.close();

      const s = new SqliteStorage({ path });
      try {
        await s.migrate();
        const db = new Database(path, { readonly: true });
        try {
          const columns = db.prepare('PRAGMA table_info(devices)').all() as Array<{ name: string; notnull: number }>;
          assert.deepEqual(columns.map((c) => c.name), ['id', 'user_id', 'name', 'signature_key', 'created_day', 'status', 'revoked_at', 'approved_by', 'approval']);
          assert.equal(columns.find((c) => c.name === 'name')?.notnull, 0, 'name is nullable');
          assert.deepEqual(db.prepare('SELECT name FROM devices').pluck().all(), [null, null, null, null], 'no name in clear survives');
          assert.deepEqual(db.pragma('foreign_key_check'), []);
          for (const t of ['sessions', 'key_packages', 'group_devices', 'welcome_recipients', 'group_departures', 'device_links']) {
            const fks = db.prepare(`PRAGMA foreign_key_list(${t})`).all() as Array<{ table: string; from: string }>;
            assert.ok(fks.some((f) => f.table === 'devices' && f.from === 'device_id'), `${t} still refers to devices`);
          }
          assert.ok(db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'devices_user'").get());
          assert.equal(db.prepare('SELECT expires_at FROM sessions').pluck().get(), 1_800_057_600, 'to the next UTC midnight');
          assert.deepEqual(db.prepare('SELECT keep_until FROM blobs ORDER BY digest').pluck().all(), [1_800_003_600, 1_800_003_600], 'to the hour, up');
          const left = (g: string) => db.prepare(LEFTOVERS_SQL.replaceAll('$1', '@g')).get({ g }) as GroupLeftovers;
          assert.deepEqual(left(H), NO_LEFTOVERS, 'a group everyone left is gone with everything it held');
          assert.deepEqual(left(G), { group: 1, groupInfo: 1, messages: 1, welcomes: 1, recipients: 1, cursors: 2, departures: 0, charges: 0, blobRefs: 0 });
          assert.equal(left(K).groupInfo, 0, 'no Welcome waits: the GroupInfo goes');
          assert.equal(left(K).group, 1);
        } finally {
          db.close();
        }
        // Every device is still there, in order, with everything but its name.
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
        assert.equal((await s.getSession(Uint8Array.of(0xaa), 1_800_000_200))?.deviceId, A, 'sessions still work (and never end early)');
        const writer = new Database(path);
        try {
          writer.pragma('foreign_keys = ON');
          assert.throws(() => writer.prepare("INSERT INTO sessions VALUES (x'bb', 'u1', 'nobody', 1)").run(), /FOREIGN KEY/, 'sessions still refer to devices');
        } finally {
          writer.close();
        }
        assert.equal(await s.pendingWelcomes(B as DeviceId).then((w) => w.length), 1);
        await s.ack(B as DeviceId, G as GroupId, 2);
        await s.trim([G as GroupId]);
        assert.equal(await s.getGroupInfo(G as GroupId), undefined, 'B joined: the GroupInfo goes');
      } finally {
        await s.close();
      }
      // secure_delete zeroed the old table's pages: the names are in no file.
      for (const f of [path, `${path}-wal`]) {
        if (existsSync(f)) assert.equal(readFileSync(f).includes(Buffer.from("Alice's work laptop")), false, f);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('add a per-group retention (none) to a version-8 database with a group and a pending message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-mig-'));
    try {
      const path = join(dir, 'p.db');
      const raw = new Database(path);
      raw.pragma('foreign_keys = ON');
      raw.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)');
      for (const m of SQLITE_MIGRATIONS.slice(0, 8)) {
        raw.exec(m.sql);
        raw.prepare('INSERT INTO schema_migrations VALUES (?, ?)').run(m.version, m.name);
      }
      const A = 'a'.repeat(22), B = 'b'.repeat(22), G = 'g'.repeat(22);
      raw.prepare("INSERT INTO users VALUES ('u1', 'u1', 'u1', 'h', '2026-01-01')").run();
      for (const d of [A, B]) raw.prepare("INSERT INTO devices (id, user_id, signature_key, created_day) VALUES (?, 'u1', x'01', '2026-01-01')").run(d);
      raw.prepare('INSERT INTO mls_groups (id, epoch, last_seq, queued_bytes) VALUES (?, 1, 2, 2)').run(G);
      for (const [d, acked] of [[A, 2], [B, 1]] as const) raw.prepare('INSERT INTO group_devices (group_id, device_id, acked_seq) VALUES (?, ?, ?)').run(G, d, acked);
      raw.prepare("INSERT INTO group_messages VALUES (?, 2, 'application', 1, x'6d6d', 1800086400)").run(G);
      raw.close();
      const s = new SqliteStorage({ path });
      try {
        await s.migrate();
        assert.equal(await s.groupRetention(G as GroupId), null);
        assert.equal(await s.setGroupRetention(G as GroupId, B as DeviceId, 300, 2), 300);
        assert.equal(await s.enforceRetention(1_800_000_000, 120), 1);
        assert.equal((await s.sweep(1_800_000_180)).messages, 1, 'the message older than the retention is gone');
        assert.deepEqual(await s.pendingMessages(B as DeviceId, undefined, 10), []);
      } finally {
        await s.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('add encrypted profiles to a version-10 database with an account and an uploaded blob', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-mig-'));
    try {
      const path = join(dir, 'p.db');
      const raw = new Database(path);
      raw.pragma('foreign_keys = ON');
      raw.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)');
      for (const m of SQLITE_MIGRATIONS.slice(0, 10)) {
        raw.exec(m.sql);
        raw.prepare('INSERT INTO schema_migrations VALUES (?, ?)').run(m.version, m.name);
      }
      const U = 'u'.repeat(22), D = 'p'.repeat(64);
      raw.prepare("INSERT INTO users (id, username, skeleton, password_hash, created_day) VALUES (?, 'ulla', 'ulla', 'h', '2026-01-01')").run(U);
      raw.prepare('INSERT INTO blobs (digest, size, keep_until) VALUES (?, 10, 1800000000)').run(D);
      raw.close();
      const s = new SqliteStorage({ path });
      try {
        await s.migrate();
        const version = 'v'.repeat(42) + 'A';
        const p = { userId: U as UserId, version: version as ProfileVersion, ciphertext: new Uint8Array(32).fill(7), pictureBlob: D as BlobDigest, updatedDay: '2027-01-01' };
        await s.putProfile(p, 1_800_000_000);
        assert.deepEqual(await s.getProfile(version as ProfileVersion), p);
        assert.deepEqual(await s.collectableBlobs(1_900_000_000, 10), [], 'the picture is kept while the profile refers to it');
      } finally {
        await s.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('add push subscriptions to a version-11 database with an active and a revoked device', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-mig-'));
    try {
      const path = join(dir, 'p.db');
      const raw = new Database(path);
      raw.pragma('foreign_keys = ON');
      raw.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)');
      for (const m of SQLITE_MIGRATIONS.slice(0, 11)) {
        raw.exec(m.sql);
        raw.prepare('INSERT INTO schema_migrations VALUES (?, ?)').run(m.version, m.name);
      }
      const U = 'u'.repeat(22), A = 'a'.repeat(22), R = 'r'.repeat(22);
      raw.prepare("INSERT INTO users (id, username, skeleton, password_hash, created_day) VALUES (?, 'ulla', 'ulla', 'h', '2026-01-01')").run(U);
      raw.prepare("INSERT INTO devices (id, user_id, signature_key, created_day, status) VALUES (?, ?, x'00', '2026-01-01', 'active')").run(A, U);
      raw.prepare("INSERT INTO devices (id, user_id, signature_key, created_day, status, revoked_at) VALUES (?, ?, x'01', '2026-01-01', 'revoked', 1800000000)").run(R, U);
      raw.close();
      const s = new SqliteStorage({ path });
      try {
        await s.migrate();
        const sub = { deviceId: A as DeviceId, endpoint: 'https://push.example/send/1', p256dh: 'B'.repeat(87), auth: 'C'.repeat(22) };
        await s.putPushSubscription(sub);
        assert.deepEqual(await s.pushSubscriptions([A as DeviceId, R as DeviceId]), [sub]);
        await assert.rejects(s.putPushSubscription({ ...sub, deviceId: R as DeviceId }), /device not found/);
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
