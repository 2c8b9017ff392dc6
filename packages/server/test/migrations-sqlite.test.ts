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
      for (const t of ['users', 'devices', 'sessions', 'key_packages', 'mls_groups', 'group_devices', 'messages', 'mailbox', 'blobs', 'blob_refs']) assert.ok(tables.includes(t), t);
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

  it('are numbered in order without gaps', () => {
    SQLITE_MIGRATIONS.forEach((m, i) => assert.equal(m.version, i + 1));
  });
});
