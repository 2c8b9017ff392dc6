import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { encodeOpaqueMlsMessage, type GroupId } from '@parley/protocol';
import { fakeGroupInfo, mlsMessage, newGroupId, TestNetwork, type TestAccount, type TestSocket } from './helpers/test-network.js';

/**
 * What one account can make the server store or hold: a commit's Welcome is
 * stored once whatever its number of recipients, undelivered bytes and blob
 * bytes are capped per account, a device enters a group only with a Welcome
 * and can always leave it, and an account's sockets are capped.
 */

/** Bytes the database holds in use (pages minus free pages), WAL included: what a write really costs. */
function storedBytes(net: TestNetwork): number {
  const db = new Database(join(net.dataDir, 'parley.db'), { readonly: true, fileMustExist: true });
  try {
    const pages = db.pragma('page_count', { simple: true }) as number;
    const free = db.pragma('freelist_count', { simple: true }) as number;
    const size = db.pragma('page_size', { simple: true }) as number;
    return (pages - free) * size;
  } finally {
    db.close();
  }
}

async function newGroup(owner: TestAccount, sock: TestSocket, members: TestAccount[]): Promise<GroupId> {
  const g = newGroupId();
  assert.equal((await owner.post('/v1/groups', { groupId: g.id })).status, 201);
  const ids = members.map((m) => m.deviceId);
  const r = await sock.commit(g.id, 0, [owner.deviceId, ...ids], ids);
  assert.equal(r.t, 'ok', JSON.stringify(r));
  return g.id;
}

describe('quotas and caps', () => {
  it('stores a 40-recipient commit’s Welcome once: the database grows by about the frame, not 40 times it', async () => {
    await using net = await TestNetwork.start();
    const alice = await net.register();
    const members: TestAccount[] = [];
    for (let i = 0; i < 40; i++) members.push(await net.register());
    const a = await alice.connect();
    const g = newGroupId();
    assert.equal((await alice.post('/v1/groups', { groupId: g.id })).status, 201);
    const commit = mlsMessage(g.id, 0, 'commit', randomBytes(2000));
    const welcome = encodeOpaqueMlsMessage('welcome', randomBytes(880 * 1024));
    const info = fakeGroupInfo();
    const frameBytes = commit.length + welcome.length + info.length;
    const before = storedBytes(net);
    const ids = members.map((m) => m.deviceId);
    const r = await a.request({ t: 'commit', group: g.id, devices: [alice.deviceId, ...ids], welcomeTo: ids, parts: [commit.length, welcome.length, info.length] }, [commit, welcome, info]);
    assert.equal(r.t, 'ok', JSON.stringify(r));
    const grown = storedBytes(net) - before;
    assert.ok(grown < 3 * frameBytes, `grew ${grown} bytes for a ${frameBytes}-byte frame`);
    // ...and every recipient still gets the whole Welcome.
    for (const m of [members[0], members[39]]) {
      if (!m) continue;
      const s = await m.connect();
      const w = await s.waitFor((x) => x.frame.t === 'msg' && x.frame.kind === 'welcome');
      assert.equal(w.payload.length, welcome.length + info.length);
      assert.deepEqual(w.payload.subarray(0, welcome.length), welcome);
    }
  });

  it('refuses sends past the account’s queued-bytes quota (quota_exceeded), long before 300 MiB, and frees it once delivered', async () => {
    const mib = 1024 * 1024;
    await using net = await TestNetwork.start({ config: { maxFrameBytes: 2 * mib, quotas: { queuedBytes: 32 * mib, blobBytes: 64 * mib } } });
    const alice = await net.register();
    const bob = await net.register();
    const a = await alice.connect();
    const group = await newGroup(alice, a, [bob]);
    const before = storedBytes(net);
    let accepted = 0;
    let firstRefusal: Awaited<ReturnType<TestSocket['send']>> | undefined;
    for (let i = 0; i < 300 && firstRefusal === undefined; i++) {
      const r = await a.send(group, 1, randomBytes(mib));
      if (r.t === 'ok') accepted++;
      else firstRefusal = r;
    }
    assert.ok(firstRefusal?.t === 'error', 'the quota was hit');
    assert.equal(firstRefusal.code, 'quota_exceeded');
    assert.equal(firstRefusal.retryable, false);
    assert.deepEqual(firstRefusal.detail?.['quota'], 'queued_bytes');
    assert.ok(accepted >= 28 && accepted <= 32, `${accepted} MiB accepted under a 32 MiB quota`);
    // It stays refused (a commit is charged too), and nothing more was stored.
    assert.equal((await a.send(group, 1, randomBytes(mib))).t, 'error');
    const c = await a.commit(group, 1, [alice.deviceId, bob.deviceId], [], randomBytes(mib));
    assert.ok(c.t === 'error' && c.code === 'quota_exceeded');
    const grown = storedBytes(net) - before;
    assert.ok(grown < 40 * mib, `stored ${grown} bytes`);
    // Bob reads and acknowledges everything: the log is trimmed and Alice may send again.
    const b = await bob.connect();
    await b.waitFor((x) => x.frame.t === 'synced');
    const last = b.messages(group).at(-1)?.seq ?? 0;
    b.ack(group, last);
    await b.request({ t: 'ping' });
    await net.ctx.trimmer.flush();
    assert.equal((await net.ctx.storage.queuedBytes(alice.userId)) < mib, true);
    assert.equal((await a.send(group, 1, randomBytes(mib))).t, 'ok');
  });

  it('refuses a commit that adds a device without a Welcome addressed to it, and one whose Welcome goes to a non-member', async () => {
    await using net = await TestNetwork.start();
    const alice = await net.register();
    const bob = await net.register();
    const victim = await net.register();
    const a = await alice.connect();
    const group = await newGroup(alice, a, [bob]);
    const noWelcome = await a.commit(group, 1, [alice.deviceId, bob.deviceId, victim.deviceId], []);
    assert.ok(noWelcome.t === 'error' && noWelcome.code === 'bad_request', JSON.stringify(noWelcome));
    const partial = await a.commit(group, 1, [alice.deviceId, bob.deviceId, victim.deviceId], [bob.deviceId]);
    assert.ok(partial.t === 'error' && partial.code === 'bad_request', JSON.stringify(partial));
    const outside = await a.commit(group, 1, [alice.deviceId, bob.deviceId], [victim.deviceId]);
    assert.ok(outside.t === 'error' && outside.code === 'bad_request', JSON.stringify(outside));
    assert.deepEqual((await victim.get('/v1/groups')).body.groups, [], 'the victim was put in no group');
    assert.equal((await alice.get(`/v1/groups/${group}`)).body.epoch, 1, 'nothing changed');
  });

  it('lets a device leave a group on its own: delivery stops at once, and it is no longer a member', async () => {
    await using net = await TestNetwork.start();
    const alice = await net.register();
    const bob = await net.register();
    const a = await alice.connect();
    const b = await bob.connect();
    const group = await newGroup(alice, a, [bob]);
    assert.equal((await a.send(group, 1)).t, 'ok');
    await b.waitFor((x) => x.frame.t === 'msg' && x.frame.kind === 'application');
    const left = await b.leave(group);
    assert.equal(left.t, 'ok');
    assert.equal((await b.leave(group)).t, 'ok', 'leaving again is harmless');
    const seen = b.messages(group).length;
    for (let i = 0; i < 3; i++) assert.equal((await a.send(group, 1)).t, 'ok');
    await b.request({ t: 'ping' });
    assert.equal(b.messages(group).length, seen, 'nothing more was delivered live');
    b.close();
    const b2 = await bob.connect();
    await b2.waitFor((x) => x.frame.t === 'synced');
    assert.equal(b2.messages(group).length, 0, 'nor from the backlog');
    assert.deepEqual((await bob.get('/v1/groups')).body.groups, []);
    const send = await b2.send(group, 1);
    assert.ok(send.t === 'error' && send.code === 'not_member');
    const stranger = await (await net.register()).connect();
    const notMine = await stranger.leave(group);
    assert.ok(notMine.t === 'error' && notMine.code === 'not_member');
  });

  it('caps an account’s live sockets: the one over the cap gets too_many_connections and close 4009', async () => {
    await using net = await TestNetwork.start({ config: { maxSocketsPerAccount: 3 } });
    const alice = await net.register();
    const phone = await alice.newDevice();
    const open = [await alice.connect(), await alice.connect(), await phone.connect()];
    const over = await net.hello(alice.token);
    assert.ok(over.reply.t === 'error' && over.reply.code === 'too_many_connections', JSON.stringify(over.reply));
    assert.equal((await over.socket.waitClosed()).code, 4009);
    // Another account is not affected; closing one socket makes room again.
    await (await net.register()).connect();
    open[0]?.close();
    await open[0]?.waitClosed();
    for (let i = 0; ; i++) {
      const retry = await net.hello(phone.token);
      if (retry.reply.t === 'ready') break;
      // The server may not have processed the close yet: its count drops when it does.
      assert.ok(i < 50 && retry.reply.t === 'error' && retry.reply.code === 'too_many_connections');
      await retry.socket.waitClosed();
    }
  });

  it('refuses blob uploads past the account’s blob quota, before reading a declared body, and keeps nothing of them', async () => {
    const kib = 1024;
    await using net = await TestNetwork.start({ config: { quotas: { queuedBytes: 1 << 30, blobBytes: 600 * kib } } });
    const alice = await net.register();
    const put = (data: Uint8Array, headers: Record<string, string> = {}) =>
      net.http('PUT', `/v1/blobs/${createHash('sha256').update(data).digest('hex')}`, { token: alice.token, raw: data, headers: { 'content-type': 'application/octet-stream', ...headers } });
    const first = randomBytes(400 * kib);
    assert.equal((await put(first)).status, 201);
    const second = randomBytes(400 * kib);
    const refused = await put(second);
    assert.equal(refused.status, 507);
    assert.equal(refused.body.code, 'quota_exceeded');
    assert.equal(refused.body.detail.quota, 'blob_bytes');
    // A body without a declared length is streamed, then refused, and its bytes are not kept.
    const streamed = randomBytes(300 * kib);
    const digest = createHash('sha256').update(streamed).digest('hex');
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(streamed);
        controller.close();
      },
    });
    const chunked = await net.http('PUT', `/v1/blobs/${digest}`, { token: alice.token, raw: body, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(chunked.body.code, 'quota_exceeded');
    assert.equal((await net.ctx.blobs.get(digest as never)) === undefined, true, 'no orphaned bytes');
    // Other accounts have their own quota.
    const bob = await net.register();
    assert.equal((await net.http('PUT', `/v1/blobs/${createHash('sha256').update(second).digest('hex')}`, { token: bob.token, raw: second })).status, 201);
  });
});
