import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { DeviceId, UserId } from '@parley/protocol';
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
      for (const t of ['users', 'devices', 'sessions', 'key_packages', 'mls_groups', 'group_devices', 'group_messages', 'welcomes', 'blobs', 'blob_refs']) assert.ok(tables.includes(t), t);
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

  it('are numbered in order without gaps', () => {
    SQLITE_MIGRATIONS.forEach((m, i) => assert.equal(m.version, i + 1));
  });
});
