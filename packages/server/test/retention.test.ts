import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { BlobDigest, GroupId } from '@parley/protocol';
import { runMaintenance } from '../src/maintenance.js';
import { newGroupId, TestNetwork, type TestAccount, type TestSocket } from './helpers/test-network.js';

async function groupOf(creator: TestAccount, sock: TestSocket, members: TestAccount[]): Promise<GroupId> {
  const g = newGroupId();
  assert.equal((await creator.post('/v1/groups', { groupId: g.id })).status, 201);
  const r = await sock.commit(g.id, 0, [creator.deviceId, ...members.map((m) => m.deviceId)], members.map((m) => m.deviceId));
  assert.equal(r.t, 'ok', JSON.stringify(r));
  return g.id;
}

describe('per-group retention (disappearing messages)', () => {
  it('is set by a member device with a session, only to an allowed timer; strangers learn nothing', async () => {
    await using net = await TestNetwork.start();
    const [alice, bob, mallory] = [await net.register(), await net.register(), await net.register()];
    const a = await alice.connect();
    const group = await groupOf(alice, a, [bob]);
    const put = (who: TestAccount | undefined, body: unknown, g: string = group) => net.http('PUT', `/v1/groups/${g}/retention`, { ...(who ? { token: who.token } : {}), body });

    for (let i = 0; i < 2; i++) assert.equal((await a.send(group, 1)).t, 'ok'); // seqs 2, 3
    assert.deepEqual(await put(bob, { seconds: 300, seq: 2 }).then((r) => [r.status, r.body]), [200, { seconds: 300 }]);
    assert.equal(await net.ctx.storage.groupRetention(group), 300);
    assert.deepEqual(await put(alice, { seconds: 300, seq: 2 }).then((r) => [r.status, r.body]), [200, { seconds: 300 }], 'the same again: idempotent');
    for (const seconds of [0, 299, 301, 60, -300, 2_419_201, 1.5, '300']) {
      const r = await put(alice, { seconds, seq: 3 });
      assert.equal(r.status, 400, `refused: ${String(seconds)}`);
      assert.equal(r.body.code, 'bad_request');
    }
    assert.equal((await put(alice, { seq: 3 })).status, 400, 'seconds is required (null turns it off)');
    assert.equal((await put(alice, { seconds: 3600 })).status, 400, 'seq is required');
    assert.equal((await put(alice, { seconds: 3600, seq: 0 })).status, 400);
    assert.equal((await put(undefined, { seconds: 3600, seq: 3 })).status, 401);
    const stranger = await put(mallory, { seconds: 3600, seq: 3 });
    assert.equal(stranger.body.code, 'not_member');
    const unknown = await put(mallory, { seconds: 3600, seq: 3 }, newGroupId().id);
    assert.deepEqual([unknown.status, unknown.body.code], [stranger.status, 'not_member'], 'a group that does not exist looks the same');
    assert.equal(await net.ctx.storage.groupRetention(group), 300, 'refused changes changed nothing');
    assert.deepEqual((await put(alice, { seconds: null, seq: 1 })).body, { seconds: 300 }, 'an older setting changes nothing');
    assert.deepEqual((await put(alice, { seconds: null, seq: 3 })).body, { seconds: null });
    assert.equal(await net.ctx.storage.groupRetention(group), null);
  });

  it("deletes the group's stored messages and attachments for an offline device once the retention passed; other groups keep theirs", async () => {
    let now = Math.floor(Date.now() / 60_000) * 60;
    await using net = await TestNetwork.start({ config: { maintenanceIntervalMs: 60_000 } });
    (net.ctx as { clock: { now(): number } }).clock = { now: () => now };
    const [alice, bob] = [await net.register(), await net.register()];
    const a = await alice.connect();
    const group = await groupOf(alice, a, [bob]);
    const plain = await groupOf(alice, a, [bob]);
    assert.equal((await net.http('PUT', `/v1/groups/${group}/retention`, { token: alice.token, body: { seconds: 300, seq: 1 } })).status, 200);

    const data = randomBytes(100);
    const digest = createHash('sha256').update(data).digest('hex') as BlobDigest;
    assert.equal((await net.http('PUT', `/v1/blobs/${digest}`, { token: alice.token, raw: data })).status, 201);
    assert.equal((await a.send(group, 1, undefined, [digest])).t, 'ok');
    assert.equal((await a.send(group, 1)).t, 'ok');
    assert.equal((await a.send(plain, 1)).t, 'ok');
    // The attachment's blob is kept no longer than the group's messages (lead: two maintenance intervals).
    assert.equal((await net.ctx.storage.getBlob(digest))?.keepUntil, now + 300 - 120);

    await runMaintenance(net.ctx);
    now += 179;
    await runMaintenance(net.ctx);
    assert.equal((await net.ctx.storage.pendingMessages(bob.deviceId, undefined, 10)).filter((m) => m.groupId === group).length, 2, 'bob has not read them; not yet expired');
    now += 1;
    const swept = await runMaintenance(net.ctx);
    assert.equal(swept.messages, 2);
    assert.equal(swept.blobs, 1, 'the attachment went with its message');
    const b = await bob.connect();
    await b.waitFor((r) => r.frame.t === 'synced');
    const backlog = b.received.filter((r) => r.frame.t === 'msg' && r.frame.kind !== 'welcome');
    assert.deepEqual(backlog.map((r) => (r.frame as { group: string }).group), [plain], 'bob comes back to the other group only');
    assert.equal((await net.http('GET', `/v1/blobs/${digest}`, { token: bob.token })).status, 404);
  });
});
