import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ClientNetwork } from './helpers/network.js';
import { filesUnder, needles, seizureWorkload } from './helpers/seizure.js';

/** Group messages and Welcomes stored for a group, read by a second connection (it sees what the server committed). */
function storedMessages(path: string, groupId: string): number {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT (SELECT COUNT(*) FROM group_messages WHERE group_id = ?) + (SELECT COUNT(*) FROM welcomes WHERE group_id = ?)').pluck().get(groupId, groupId) as number;
  } finally {
    db.close();
  }
}

describe('client: seizure', () => {
  it('leaves no plaintext (device names, profile names, about lines, pictures, contact nicknames and Moments — post text, location, photos, comments, list names — included) in any server file (db, -wal, -shm, blobs) or log line, and no message of a delivered conversation', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-seizure-'));
    try {
      const markers: string[] = [];
      const net = await ClientNetwork.start({ dataDir });
      const dbPath = join(dataDir, 'parley.db');
      let delivered = '';
      let closed = false;
      try {
        const result = await seizureWorkload(net, { storedMessages: async (groupId) => storedMessages(dbPath, groupId) });
        markers.push(...result.markers);
        delivered = result.delivered;
      } finally {
        await net.close();
        closed = true;
      }
      assert.ok(closed);
      assert.equal(storedMessages(dbPath, delivered), 0, 'the fully delivered 1:1 left no stored message');
      // Both users' profiles are there (encrypted) and searched with the rest.
      const db = new Database(dbPath, { readonly: true, fileMustExist: true });
      try {
        assert.equal(db.prepare('SELECT COUNT(*) FROM profiles').pluck().get(), 2, 'two encrypted profiles stored');
      } finally {
        db.close();
      }

      const files = filesUnder(dataDir);
      assert.ok(files.some((f) => f.endsWith('.db') || f.includes('sqlite')), `the database is there: ${files.join(', ')}`);
      assert.ok(files.some((f) => f.includes('blob')), 'the encrypted blob is there');
      const logs = Buffer.from(net.server.logs.join('\n'), 'utf8');
      assert.ok(logs.includes('group.commit') && logs.includes('account.registered'), 'the server log was captured (debug level)');
      const haystacks = [...files.map((f) => ({ where: f, bytes: readFileSync(f) })), { where: 'server log', bytes: logs }];
      const found: string[] = [];
      for (const m of markers) {
        for (const n of needles(m)) {
          for (const h of haystacks) if (h.bytes.includes(n.bytes)) found.push(`${m} as ${n.how} in ${h.where}`);
        }
      }
      assert.deepEqual(found, []);
      // The test can fail: the same search finds a marker planted in plain text.
      const planted = Buffer.concat([randomBytes(100), Buffer.from(Buffer.from(markers[0] ?? '').toString('base64url')), randomBytes(100)]);
      assert.ok(needles(markers[0] ?? '').some((n) => planted.includes(n.bytes)), 'the search would find a base64url marker');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
