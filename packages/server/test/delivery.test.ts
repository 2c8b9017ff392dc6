import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { toBase64Url, toHex, type DeviceId } from '@parley/protocol';
import { runMaintenance } from '../src/maintenance.js';
import { mlsMessage, newGroupId, TestNetwork, type TestAccount, type TestSocket } from './helpers/test-network.js';

async function groupOf(creator: TestAccount, sock: TestSocket, members: TestAccount[]) {
  const g = newGroupId();
  const created = await creator.post('/v1/groups', { groupId: g.id });
  assert.equal(created.status, 201);
  const devices = [creator.deviceId, ...members.map((m) => m.deviceId)];
  const r = await sock.commit(g.id, 0, devices, members.map((m) => m.deviceId));
  assert.equal(r.t, 'ok', JSON.stringify(r));
  return g.id;
}

describe('key-package directory', () => {
  it('stores a stock, hands each package out once under concurrent claims, then the last resort (at most 3 a minute), and warns when low', async () => {
    await using net = await TestNetwork.start({ config: { keyPackageLowWatermark: 3 } });
    const alice = await net.register();
    const bob = await net.register();
    const up = await alice.post('/v1/key-packages', { keyPackages: Array.from({ length: 10 }, () => alice.kp()), lastResort: alice.kp({ lastResort: true }) });
    assert.equal(up.status, 200);
    assert.deepEqual(up.body, { available: 10, lastResort: true, low: false, lowWatermark: 3 });
    // garbage is refused and nothing is stored
    const junk = await alice.post('/v1/key-packages', { keyPackages: [alice.kp(), { ciphersuite: 1, expiresAt: 99999999999, data: toBase64Url(randomBytes(40)) }] });
    assert.equal(junk.body.code, 'bad_request');
    assert.equal((await alice.get('/v1/key-packages')).body.available, 10);

    const live = await alice.connect();
    assert.deepEqual(live.ready?.keyPackages, { available: 10, low: false });
    const claims = await Promise.all(Array.from({ length: 14 }, () => bob.post('/v1/key-packages/claim', { deviceIds: [alice.deviceId] })));
    const handed = claims.flatMap((c) => c.body.keyPackages as Array<{ lastResort: boolean; data: string }>);
    const singles = handed.filter((h) => !h.lastResort).map((h) => h.data);
    assert.equal(singles.length, 10);
    assert.equal(new Set(singles).size, 10, 'no package handed out twice');
    assert.equal(handed.filter((h) => h.lastResort).length, 3, 'the last resort at most 3 times a minute');
    assert.equal(claims.filter((c) => c.body.missing.includes(alice.deviceId)).length, 1);
    const low = await live.waitFor((r) => r.frame.t === 'key_packages_low');
    assert.ok(low.frame.t === 'key_packages_low' && low.frame.available < 3);
    const unknown = await bob.post('/v1/key-packages/claim', { deviceIds: ['AAAAAAAAAAAAAAAAAAAAAA'] });
    assert.deepEqual(unknown.body, { keyPackages: [], missing: ['AAAAAAAAAAAAAAAAAAAAAA'] });
  });
});

describe('delivery service', () => {
  it('delivers in order to three devices, lets an offline device catch up from its cursor, and deletes after all acks', async () => {
    await using net = await TestNetwork.start();
    const alice = await net.register();
    const bob = await net.register();
    const carol = await net.register();
    const a = await alice.connect();
    const b = await bob.connect();
    const group = await groupOf(alice, a, [bob, carol]);
    const info = await bob.get(`/v1/groups/${group}`);
    assert.deepEqual(info.body.devices.sort(), [alice.deviceId, bob.deviceId, carol.deviceId].sort());
    assert.equal(info.body.epoch, 1);
    assert.equal(info.body.lastSeq, 1, 'the highest seq assigned: the commit that added bob and carol');
    assert.ok(info.body.groupInfo);
    assert.deepEqual((await carol.get('/v1/groups')).body.groups, [{ groupId: group, epoch: 1 }]);

    const welcome = await b.waitFor((r) => r.frame.t === 'msg' && r.frame.kind === 'welcome');
    assert.ok(welcome.frame.t === 'msg' && welcome.frame.seq === 1 && welcome.frame.parts?.length === 2);

    // carol is offline; alice and bob send 30 messages, interleaved
    const bodies: string[] = [];
    for (let i = 0; i < 15; i++) {
      for (const [s, who] of [[a, 'a'], [b, 'b']] as const) {
        const body = randomBytes(320);
        bodies.push(toHex(body));
        const r = await s.send(group, 1, body);
        assert.equal(r.t, 'ok');
        void who;
      }
    }
    await a.waitFor(() => a.messages(group).filter((m) => m.kind === 'application').length === 15);
    const seqsA = a.messages(group).map((m) => m.seq);
    assert.deepEqual(seqsA, [...seqsA].sort((x, y) => x - y), 'live delivery in order');

    // carol connects, gets the welcome and all 30 in order, exactly as sent
    const c = await carol.connect();
    await c.waitFor((r) => r.frame.t === 'synced');
    const got = c.messages(group);
    assert.deepEqual(got.map((m) => m.seq), Array.from({ length: 31 }, (_, i) => i + 1));
    assert.equal(got[0]?.kind, 'welcome');
    assert.deepEqual(got.slice(1).map((m) => toHex(m.payload.subarray(m.payload.length - 320))), bodies);

    // carol acks half, reconnects: resumes from seq 17
    c.ack(group, 16);
    await c.request({ t: 'ping' });
    c.close();
    const c2 = await carol.connect();
    await c2.waitFor((r) => r.frame.t === 'synced');
    assert.equal(c2.messages(group)[0]?.seq, 17);
    assert.equal(c2.messages(group).length, 15);

    // once every recipient acknowledged, the server keeps nothing
    c2.ack(group, 31);
    a.ack(group, 31);
    b.ack(group, 31);
    await Promise.all([c2.request({ t: 'ping' }), a.request({ t: 'ping' }), b.request({ t: 'ping' })]);
    const b2 = await bob.connect();
    await b2.waitFor((r) => r.frame.t === 'synced');
    assert.equal(b2.messages().length, 0);
    const swept = await runMaintenance(net.ctx);
    assert.equal(swept.messages, 0, 'nothing was left for retention to delete');
  });

  it('applies an acknowledgement riding on a send like an ack frame, even when the send is refused', async () => {
    await using net = await TestNetwork.start();
    const alice = await net.register();
    const bob = await net.register();
    const a = await alice.connect();
    const b = await bob.connect();
    const group = await groupOf(alice, a, [bob]);
    for (let i = 0; i < 3; i++) assert.equal((await a.send(group, 1)).t, 'ok'); // seqs 2, 3, 4

    // bob acknowledges up to 3 on his reply (seq 5): 4 and his own 5 stay in his mailbox
    const reply = await b.request({ t: 'send', group, ack: 3 }, [mlsMessage(group, 1, 'application')]);
    assert.ok(reply.t === 'ok' && reply.seq === 5);
    b.close();
    let b2 = await bob.connect();
    await b2.waitFor((r) => r.frame.t === 'synced');
    assert.deepEqual(b2.messages(group).map((m) => m.seq), [4, 5]);

    // a refused send (epoch from the future) still carries its acknowledgement
    const refused = await b2.request({ t: 'send', group, ack: 5 }, [mlsMessage(group, 9, 'application')]);
    assert.ok(refused.t === 'error' && refused.code === 'epoch_conflict');
    b2.close();
    b2 = await bob.connect();
    await b2.waitFor((r) => r.frame.t === 'synced');
    assert.deepEqual(b2.messages(group), []);

    // acknowledging everything on a send moves the sender past its own new message too
    assert.equal((await a.send(group, 1)).t, 'ok'); // seq 6
    await b2.waitFor((r) => r.frame.t === 'msg' && r.frame.seq === 6);
    const caughtUp = await b2.request({ t: 'send', group, ack: 6 }, [mlsMessage(group, 1, 'application')]);
    assert.ok(caughtUp.t === 'ok' && caughtUp.seq === 7);
    b2.close();
    const b3 = await bob.connect();
    await b3.waitFor((r) => r.frame.t === 'synced');
    assert.deepEqual(b3.messages(group), []);

    // a malformed riding ack is refused with the frame (an undecodable frame's error has no rid), and nothing is stored
    b3.sendFrame({ t: 'send', rid: 99, group, ack: 0 }, [mlsMessage(group, 1, 'application')]);
    const bad = await b3.waitFor((r) => r.frame.t === 'error');
    assert.ok(bad.frame.t === 'error' && bad.frame.code === 'bad_request' && bad.frame.rid === undefined);
    const next = await a.send(group, 1);
    assert.ok(next.t === 'ok' && next.seq === 8, 'the refused frame took no seq');
  });

  it('accepts one of two concurrent commits for an epoch and refuses the other with epoch_conflict', async () => {
    await using net = await TestNetwork.start();
    const alice = await net.register();
    const bob = await net.register();
    const carol = await net.register();
    const a = await alice.connect();
    const b = await bob.connect();
    const group = await groupOf(alice, a, [bob]);
    const [ra, rb] = await Promise.all([a.commit(group, 1, [alice.deviceId, bob.deviceId, carol.deviceId], [carol.deviceId]), b.commit(group, 1, [alice.deviceId, bob.deviceId])]);
    const results = [ra, rb];
    assert.equal(results.filter((r) => r.t === 'ok').length, 1);
    const loser = results.find((r) => r.t === 'error');
    assert.ok(loser && loser.t === 'error');
    assert.equal(loser.code, 'epoch_conflict');
    assert.equal(loser.retryable, true);
    assert.deepEqual(loser.detail, { epoch: 2 });
    // the loser fetches, applies and retries at the new epoch
    const retry = await (ra.t === 'error' ? a : b).commit(group, 2, ra.t === 'error' ? [alice.deviceId, bob.deviceId] : [alice.deviceId, bob.deviceId, carol.deviceId]);
    assert.equal(retry.t, 'ok');
    assert.ok(retry.t === 'ok' && retry.epoch === 3);
  });

  it('refuses non-members, mismatched framing and malformed commits without changing anything', async () => {
    await using net = await TestNetwork.start();
    const alice = await net.register();
    const mallory = await net.register();
    const a = await alice.connect();
    const m = await mallory.connect();
    const group = await groupOf(alice, a, []);
    const send = await m.send(group, 1);
    assert.ok(send.t === 'error' && send.code === 'not_member');
    assert.equal((await mallory.get(`/v1/groups/${group}`)).body.code, 'not_member');
    const commit = await m.commit(group, 1, [mallory.deviceId]);
    assert.ok(commit.t === 'error' && commit.code === 'not_member');
    // framing says another group
    const other = newGroupId();
    const mismatch = await a.request({ t: 'send', group }, [(await import('./helpers/test-network.js')).mlsMessage(other.id, 1, 'application')]);
    assert.ok(mismatch.t === 'error' && mismatch.code === 'invalid_mls_message');
    const notMls = await a.request({ t: 'send', group }, [randomBytes(100)]);
    assert.ok(notMls.t === 'error' && notMls.code === 'invalid_mls_message');
    const partsWrong = await a.request({ t: 'commit', group, devices: [alice.deviceId], welcomeTo: [], parts: [5, 0, 0] }, [randomBytes(50)]);
    assert.ok(partsWrong.t === 'error' && partsWrong.code === 'bad_request');
    const removeSelf = await a.commit(group, 1, [mallory.deviceId as DeviceId]);
    assert.ok(removeSelf.t === 'error' && removeSelf.code === 'bad_request');
    assert.equal((await alice.get(`/v1/groups/${group}`)).body.epoch, 1);
    // the connection is still healthy
    assert.equal((await a.send(group, 1)).t, 'ok');
    assert.equal(mallory.deviceId.length, 22);
    assert.equal(m.messages().length, 0, 'a non-member received nothing');
  });

  it('stores, serves and garbage-collects blobs', async () => {
    await using net = await TestNetwork.start({ config: { maxBlobBytes: 64 * 1024, blobGraceSeconds: 0 } });
    const alice = await net.register();
    const bob = await net.register();
    const a = await alice.connect();
    const group = await groupOf(alice, a, [bob]);
    const data = randomBytes(50_000);
    const digest = createHash('sha256').update(data).digest('hex');
    const put = await net.http('PUT', `/v1/blobs/${digest}`, { token: alice.token, raw: data, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(put.status, 201);
    assert.deepEqual(put.body, { digest, size: 50_000 });
    const wrong = await net.http('PUT', `/v1/blobs/${'0'.repeat(64)}`, { token: alice.token, raw: data });
    assert.equal(wrong.body.code, 'digest_mismatch');
    const big = randomBytes(70_000);
    const tooBig = await net.http('PUT', `/v1/blobs/${createHash('sha256').update(big).digest('hex')}`, { token: alice.token, raw: big });
    assert.equal(tooBig.status, 413);
    assert.equal((await net.http('PUT', `/v1/blobs/${digest}`, { raw: data })).status, 401);

    assert.equal((await a.send(group, 1, undefined, [digest])).t, 'ok');
    const res = await fetch(`${net.url}/v1/blobs/${digest}`, { headers: { authorization: `Bearer ${bob.token}` } });
    assert.equal(res.status, 200);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), data);

    // referenced by an undelivered message: kept
    await runMaintenance(net.ctx);
    assert.equal((await fetch(`${net.url}/v1/blobs/${digest}`, { headers: { authorization: `Bearer ${bob.token}` } })).status, 200);
    // bob acknowledges; the message goes, and with the grace over, so does the blob
    const b = await bob.connect();
    await b.waitFor((r) => r.frame.t === 'synced');
    b.ack(group, 2);
    await b.request({ t: 'ping' });
    // keep-until times are rounded up to the hour; step past that
    net.ctx.clock = { now: () => Math.floor(Date.now() / 1000) + 7200 };
    const gc = await runMaintenance(net.ctx);
    assert.equal(gc.blobs, 1);
    assert.equal((await fetch(`${net.url}/v1/blobs/${digest}`, { headers: { authorization: `Bearer ${bob.token}` } })).status, 404);
  });
});
