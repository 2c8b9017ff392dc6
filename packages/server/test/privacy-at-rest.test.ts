import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { GroupId } from '@parley/protocol';
import { BLOB_FILE_TIME } from '../src/blobs/fs/fs-blob-store.js';
import { mlsMessage, newGroupId, TestNetwork, type TestAccount, type TestSocket } from './helpers/test-network.js';

async function groupOf(creator: TestAccount, sock: TestSocket, members: TestAccount[]): Promise<GroupId> {
  const g = newGroupId();
  assert.equal((await creator.post('/v1/groups', { groupId: g.id })).status, 201);
  const r = await sock.commit(g.id, 0, [creator.deviceId, ...members.map((m) => m.deviceId)], members.map((m) => m.deviceId));
  assert.equal(r.t, 'ok', JSON.stringify(r));
  return g.id;
}

/** Every frame sent before it on this socket has been handled once the pong is back (frames are handled in order). */
async function settled(sock: TestSocket): Promise<void> {
  assert.equal((await sock.request({ t: 'ping' })).t, 'pong');
}

function query<T>(net: TestNetwork, sql: string): T[] {
  const db = new Database(join(net.dataDir, 'parley.db'), { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

describe('privacy at rest (SQLite, over the wire)', () => {
  it('stores no message of a conversation every device has read, without any further traffic (a reply carries the ack)', async () => {
    await using net = await TestNetwork.start();
    const alice = await net.register();
    const bob = await net.register();
    const a = await alice.connect();
    const b = await bob.connect();
    const gid = await groupOf(alice, a, [bob]);
    await b.waitFor((r) => r.frame.t === 'msg' && r.frame.kind === 'welcome');
    const first = await a.send(gid, 1);
    assert.equal(first.t, 'ok');
    const got = await b.waitFor((r) => r.frame.t === 'msg' && r.frame.kind === 'application');
    assert.ok(got.frame.t === 'msg');
    // Bob replies, acknowledging what he read on the reply itself (as the client SDK does).
    const reply = await b.request({ t: 'send', group: gid, ack: got.frame.seq }, [mlsMessage(gid, 1, 'application')]);
    assert.ok(reply.t === 'ok' && reply.seq !== undefined);
    await a.waitFor((r) => r.frame.t === 'msg' && r.frame.seq === reply.seq);
    a.ack(gid, reply.seq);
    await settled(a);
    await net.ctx.trimmer.flush();
    assert.deepEqual(query(net, `SELECT seq FROM group_messages WHERE group_id = '${gid}'`), [], 'nothing waits for anyone');
  });

  it('stores no message of a conversation every device has read when the last sender replied before reading (its ack reaches over its own message)', async () => {
    await using net = await TestNetwork.start();
    const alice = await net.register();
    const bob = await net.register();
    const a = await alice.connect();
    const b = await bob.connect();
    const gid = await groupOf(alice, a, [bob]);
    await b.waitFor((r) => r.frame.t === 'msg' && r.frame.kind === 'welcome');
    const first = await a.send(gid, 1);
    assert.ok(first.t === 'ok' && first.seq !== undefined);
    // Bob sends without having read Alice's message (no ack on it): his cursor stays before it.
    const reply = await b.send(gid, 1);
    assert.ok(reply.t === 'ok' && reply.seq === first.seq + 1);
    // Then he reads it and acknowledges it, as any device does; Alice reads his reply.
    b.ack(gid, first.seq);
    a.ack(gid, reply.seq);
    await settled(b);
    await settled(a);
    await net.ctx.trimmer.flush();
    assert.deepEqual(query(net, `SELECT seq FROM group_messages WHERE group_id = '${gid}'`), [], "bob's ack covered his own reply");
  });

  it('keeps stored times coarse: session expiry to the day, message, Welcome and blob grace to the hour, blob file times fixed', async () => {
    await using net = await TestNetwork.start();
    const alice = await net.register();
    const bob = await net.register();
    await alice.signIn();
    const a = await alice.connect();
    const gid = await groupOf(alice, a, [bob]);
    const data = randomBytes(2000);
    const digest = createHash('sha256').update(data).digest('hex');
    const put = await net.http('PUT', `/v1/blobs/${digest}`, { token: alice.token, raw: data, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(put.status, 201);
    assert.equal((await a.send(gid, 1, undefined, [digest])).t, 'ok');
    await a.commit(gid, 1, [alice.deviceId]); // bob removed: his cursor now ends at the commit

    const now = Math.floor(Date.now() / 1000);
    const sessions = query<{ expires_at: number }>(net, 'SELECT expires_at FROM sessions');
    assert.equal(sessions.length, 3, 'two registrations and a sign-in');
    for (const s of sessions) {
      assert.equal(s.expires_at % 86400, 0, 'a session expires at a UTC midnight');
      assert.ok(s.expires_at >= now + net.ctx.config.sessionSeconds, 'and never early');
    }
    const hourly: Array<[string, string]> = [
      ['group_messages', 'expires_at'],
      ['welcomes', 'expires_at'],
      ['blobs', 'keep_until'],
      ['group_devices', 'leave_expires_at'],
    ];
    for (const [table, column] of hourly) {
      const rows = query<{ t: number | null }>(net, `SELECT ${column} AS t FROM ${table}`).filter((r) => r.t !== null);
      assert.ok(rows.length > 0, `${table} holds rows`);
      for (const r of rows) assert.equal((r.t ?? 1) % 3600, 0, `${table}.${column} is on the hour`);
    }
    for (const r of query<{ keep_until: number; day: number }>(net, 'SELECT keep_until, day FROM blob_usage')) assert.equal(r.keep_until % 86400, 0, 'upload buckets by day');
    const file = join(net.dataDir, 'blobs', digest.slice(0, 2), digest);
    assert.equal(statSync(file).mtimeMs, BLOB_FILE_TIME * 1000);
    assert.equal(statSync(file).atimeMs, BLOB_FILE_TIME * 1000);
  });
});
