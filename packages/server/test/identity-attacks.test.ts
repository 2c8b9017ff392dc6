import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { formatLinkCode, fromBase64Url, linkApprovalMessage, sessionChallengeMessage, toBase64Url } from '@parley/protocol';
import { verifyEd25519 } from '../src/auth/signatures.js';
import { newGroupId, TestDeviceKey, TestNetwork, type TestAccount, type TestSocket } from './helpers/test-network.js';

/**
 * The attacks of a password holder and of a malicious group member against
 * identity: each test here would have passed as an attack on the server
 * before device keys were required (sessions by device id, KeyPackages
 * never compared with the registered key, new devices active at once).
 */

async function groupWith(owner: TestAccount, sock: TestSocket, members: TestAccount[]) {
  const g = newGroupId();
  assert.equal((await owner.post('/v1/groups', { groupId: g.id })).status, 201);
  const ids = members.map((m) => m.deviceId);
  const r = await sock.commit(g.id, 0, [owner.deviceId, ...ids], ids);
  assert.equal(r.t, 'ok', JSON.stringify(r));
  return g.id;
}

const key = () => toBase64Url(randomBytes(32));

describe('a session on an existing device needs its key', () => {
  it('refuses the password alone for an existing device id (the old form is gone)', async () => {
    await using net = await TestNetwork.start();
    const victim = await net.register('victim');
    const attempt = await net.http('POST', '/v1/sessions', { body: { username: 'victim', password: victim.password, device: { deviceId: victim.deviceId } } });
    assert.equal(attempt.status, 400);
    assert.equal(attempt.body.code, 'bad_request');
    const newKey = await net.http('POST', '/v1/sessions', { body: { username: 'victim', password: victim.password, device: { name: 'evil', signatureKey: key() } } });
    assert.equal(newKey.status, 400, 'no device is ever created by POST /v1/sessions');
    assert.deepEqual(
      (await victim.get('/v1/devices')).body.devices.map((d: { id: string }) => d.id),
      [victim.deviceId],
    );
  });

  it('refuses a challenge signed by another key, a replayed challenge, and one issued for another device, all alike', async () => {
    await using net = await TestNetwork.start();
    const victim = await net.register('victim');
    const other = await victim.newDevice();
    const mallory = TestDeviceKey.generate();
    const challenge = async (deviceId: string) => (await net.http('POST', '/v1/sessions/challenge', { body: { username: 'victim', deviceId } })).body.challenge as string;
    const login = (deviceId: string, ch: string, signature: Uint8Array, password = victim.password) =>
      net.http('POST', '/v1/sessions', { body: { username: 'victim', password, device: { deviceId, challenge: ch, signature: toBase64Url(signature) } } });

    const c1 = await challenge(victim.deviceId);
    const forged = await login(victim.deviceId, c1, mallory.sign(sessionChallengeMessage(victim.deviceId as never, c1)));
    assert.equal(forged.status, 401);
    assert.equal(forged.body.code, 'invalid_credentials');
    // The challenge was consumed by the failed attempt: not even the right signature works with it now.
    const replay = await login(victim.deviceId, c1, victim.key.sign(sessionChallengeMessage(victim.deviceId, c1)));
    assert.equal(replay.body.code, 'invalid_credentials');
    // A challenge issued for one device does not open another (even one of the same user, signed by it).
    const c2 = await challenge(victim.deviceId);
    const crossed = await login(other.deviceId, c2, other.key.sign(sessionChallengeMessage(other.deviceId, c2)));
    assert.equal(crossed.body.code, 'invalid_credentials');
    // The right key with the wrong password is refused too.
    const c3 = await challenge(victim.deviceId);
    assert.equal((await login(victim.deviceId, c3, victim.key.sign(sessionChallengeMessage(victim.deviceId, c3)), 'not the password')).body.code, 'invalid_credentials');
    // Challenges are issued for unknown users and devices alike (nothing to enumerate), and the real device still signs in.
    assert.equal((await net.http('POST', '/v1/sessions/challenge', { body: { username: 'nobody', deviceId: 'A'.repeat(22) } })).status, 201);
    const token = await victim.signIn();
    assert.equal((await net.http('GET', '/v1/devices', { token })).status, 200);
  });
});

describe('KeyPackages are bound to the uploading device', () => {
  it('refuses a KeyPackage naming another user’s device under the uploader’s key, and stores nothing of the upload', async () => {
    await using net = await TestNetwork.start();
    const victim = await net.register('victim');
    const mallory = await net.register('mallory');
    // A package that claims to be the victim's device, signed (validly) with Mallory's own key.
    const forged = { ciphersuite: 1, expiresAt: Math.floor(Date.now() / 1000) + 86400, data: toBase64Url(mallory.keyPackage({ identity: `parley1:${victim.userId}:${victim.deviceId}` })) };
    const up = await mallory.post('/v1/key-packages', { keyPackages: [mallory.kp(), forged] });
    assert.equal(up.status, 400);
    assert.equal(up.body.code, 'key_package_mismatch');
    assert.equal((await mallory.get('/v1/key-packages')).body.available, 0, 'the valid package in the same upload was not stored either');
  });

  it('refuses the uploader’s own credential with another key, a wrong ciphersuite, a bad signature and a credential naming another device', async () => {
    await using net = await TestNetwork.start();
    const alice = await net.register('alice');
    const stranger = TestDeviceKey.generate();
    const now = Math.floor(Date.now() / 1000);
    const up = (data: Uint8Array, ciphersuite = 1) => alice.post('/v1/key-packages', { keyPackages: [{ ciphersuite, expiresAt: now + 86400, data: toBase64Url(data) }] });
    // signed by a stranger's key, naming that key as the leaf's signature key
    const otherKey = await up(alice.keyPackage({ signatureKey: stranger.publicKey }));
    assert.equal(otherKey.body.code, 'key_package_mismatch');
    assert.match(otherKey.body.message, /signature key/);
    assert.equal((await up(alice.keyPackage(), 3)).body.code, 'key_package_mismatch', 'declared ciphersuite differs');
    assert.equal((await up(alice.keyPackage({ cipherSuite: 2 }), 2)).body.code, 'key_package_mismatch', 'not an Ed25519 suite');
    assert.equal((await up(alice.keyPackage({ badSignature: true }))).body.code, 'key_package_mismatch');
    assert.equal((await up(alice.keyPackage({ identity: `parley1:${alice.userId}:${alice.deviceId}x` }))).body.code, 'key_package_mismatch');
    assert.equal((await up(alice.keyPackage({ notAfter: now + 3600 }))).body.code, 'key_package_mismatch', 'expiresAt past the lifetime');
    assert.equal((await up(randomBytes(200))).body.code, 'bad_request');
    // A package signed by the same key under the right device does go in.
    assert.equal((await up(alice.keyPackage())).status, 200);
    assert.equal((await alice.get('/v1/key-packages')).body.available, 1);
  });
});

describe('the directory hands clients the approval of every linked device', () => {
  it('lists approvedBy and the approving device’s signature, which verifies under its listed key; registered and reset devices have none', async () => {
    await using net = await TestNetwork.start();
    const victim = await net.register('victim');
    const bob = await net.register('bob');
    const second = await victim.newDevice();
    const third = await second.newDevice('third');
    type Listed = { id: string; signatureKey: string; revokedAt: number | null; approvedBy: string | null; approval: string | null };
    const directory = async () => {
      const res = await bob.get(`/v1/users/by-id/${victim.userId}/devices`);
      assert.equal(res.status, 200);
      return res.body.devices as Listed[];
    };
    const verifies = (listed: Listed[], d: Listed) => {
      const approver = listed.find((x) => x.id === d.approvedBy);
      const key = fromBase64Url(d.signatureKey), approverKey = fromBase64Url(approver?.signatureKey ?? ''), sig = fromBase64Url(d.approval ?? '');
      assert.ok(key && approverKey && sig);
      return verifyEd25519(approverKey, linkApprovalMessage(victim.userId, d.id as never, key), sig);
    };
    let listed = await directory();
    assert.deepEqual(listed.map((d) => [d.id, d.approvedBy]), [[victim.deviceId, null], [second.deviceId, victim.deviceId], [third.deviceId, second.deviceId]]);
    assert.equal(listed[0]?.approval, null, 'the registered device has no approval');
    for (const d of listed.slice(1)) assert.ok(verifies(listed, d), `the approval of ${d.id} verifies`);
    assert.ok(!verifyEd25519(fromBase64Url(listed[0]?.signatureKey ?? '') ?? new Uint8Array(32), linkApprovalMessage(victim.userId, third.deviceId, third.key.publicKey), fromBase64Url(listed[2]?.approval ?? '') ?? new Uint8Array(64)), 'and only under its approver’s key');
    // The approver revoked later: still listed, so its approvals still verify.
    assert.equal((await victim.delete(`/v1/devices/${second.deviceId}`)).status, 204);
    listed = await directory();
    const t = listed.find((d) => d.id === third.deviceId);
    assert.ok(t && verifies(listed, t));
    // The same through the lookup by name.
    const byName = (await bob.get('/v1/users/victim/devices')).body.devices as Listed[];
    assert.deepEqual(byName, listed);
  });
});

describe('the password alone gives only a pending device', () => {
  it('cannot connect, upload, claim, read groups, or appear in the directory; the real device’s mail is untouched', async () => {
    await using net = await TestNetwork.start();
    const victim = await net.register('victim');
    const bob = await net.register('bob');
    const v = await victim.connect();
    const b = await bob.connect();
    const group = await groupWith(bob, b, [victim]);
    for (let i = 0; i < 3; i++) assert.equal((await b.send(group, 1)).t, 'ok');

    // The attacker knows the password only.
    const { account: evil, link } = await net.requestLink('victim', victim.password, 'attacker');
    assert.equal(link.userId, victim.userId);
    const hello = await net.hello(evil.token);
    assert.ok(hello.reply.t === 'error' && hello.reply.code === 'device_pending');
    assert.equal((await hello.socket.waitClosed()).code, 4001);
    for (const [method, path, body] of [
      ['POST', '/v1/key-packages', { keyPackages: [evil.kp()] }],
      ['POST', '/v1/key-packages/claim', { deviceIds: [bob.deviceId] }],
      ['GET', '/v1/groups', undefined],
      ['GET', `/v1/groups/${group}`, undefined],
      ['GET', '/v1/devices', undefined],
      ['GET', `/v1/users/bob/devices`, undefined],
      ['POST', '/v1/groups', { groupId: newGroupId().id }],
      ['POST', '/v1/account/password', { currentPassword: victim.password, newPassword: 'a new long password', signOutOthers: true }],
      ['GET', `/v1/device-links/${link.code}`, undefined],
    ] as const) {
      const r = await net.http(method, path, { token: evil.token, ...(body === undefined ? {} : { body }) });
      assert.equal(r.status, 403, `${method} ${path}`);
      assert.equal(r.body.code, 'device_pending', `${method} ${path}`);
    }
    // Its own link status is all it sees.
    const status = await net.http('GET', '/v1/device-links/current', { token: evil.token });
    assert.equal(status.body.state, 'pending');
    // Nobody lists it, not even the victim's contacts.
    for (const path of ['/v1/users/victim/devices', `/v1/users/by-id/${victim.userId}/devices`]) {
      assert.deepEqual((await bob.get(path)).body.devices.map((d: { id: string }) => d.id), [victim.deviceId]);
    }
    assert.equal((await bob.post('/v1/key-packages/claim', { deviceIds: [evil.deviceId] })).body.missing[0], evil.deviceId);
    // The victim's mail is all still there: nothing was acknowledged away.
    v.close();
    const again = await victim.connect();
    await again.waitFor((r) => r.frame.t === 'synced');
    assert.deepEqual(again.messages(group).map((m) => m.kind), ['welcome', 'application', 'application', 'application']);
    // The victim sees the pending device and rejects it: it is revoked and its session ends.
    const mine = (await victim.get('/v1/devices')).body.devices.find((d: { id: string }) => d.id === evil.deviceId);
    assert.equal(mine.status, 'pending');
    assert.equal((await victim.delete(`/v1/device-links/${formatLinkCode(link.code)}`)).status, 204);
    assert.equal((await net.http('GET', '/v1/device-links/current', { token: evil.token })).status, 401);
  });

  it('is activated only by an existing device’s signature over exactly its id and key', async () => {
    await using net = await TestNetwork.start();
    const alice = await net.register('alice');
    const bob = await net.register('bob');
    const { account: tablet, link } = await net.requestLink('alice', alice.password, 'tablet');
    // Only the same user's active devices see the link; anyone else gets not_found.
    const seen = await alice.get(`/v1/device-links/${formatLinkCode(link.code).toLowerCase()}`);
    assert.equal(seen.status, 200);
    assert.deepEqual(
      { ...seen.body, expiresAt: undefined },
      // The name the tablet sent (as an older client would) was dropped: the server never holds one in clear.
      { deviceId: tablet.deviceId, signatureKey: toBase64Url(tablet.key.publicKey), createdDay: seen.body.createdDay, expiresAt: undefined },
    );
    assert.equal((await bob.get(`/v1/device-links/${link.code}`)).body.code, 'not_found');
    const approve = (who: TestAccount, signature: Uint8Array, deviceId = tablet.deviceId) =>
      who.post(`/v1/device-links/${link.code}/approve`, { deviceId, signature: toBase64Url(signature) });
    // Signed over another key (a server substituting its own), by another key, or by another user: refused.
    const substitute = TestDeviceKey.generate();
    assert.equal((await approve(alice, alice.key.sign(linkApprovalMessage(alice.userId, tablet.deviceId, substitute.publicKey)))).body.code, 'forbidden');
    assert.equal((await approve(alice, substitute.sign(linkApprovalMessage(alice.userId, tablet.deviceId, tablet.key.publicKey)))).body.code, 'forbidden');
    assert.equal((await approve(bob, bob.key.sign(linkApprovalMessage(alice.userId, tablet.deviceId, tablet.key.publicKey)))).body.code, 'not_found');
    assert.equal((await approve(alice, alice.key.sign(linkApprovalMessage(alice.userId, alice.deviceId, tablet.key.publicKey)), alice.deviceId)).body.code, 'not_found');
    assert.equal((await net.http('GET', '/v1/device-links/current', { token: tablet.token })).body.state, 'pending');
    // A pending device cannot approve itself.
    const self = await net.http('POST', `/v1/device-links/${link.code}/approve`, {
      token: tablet.token,
      body: { deviceId: tablet.deviceId, signature: toBase64Url(tablet.key.sign(linkApprovalMessage(alice.userId, tablet.deviceId, tablet.key.publicKey))) },
    });
    assert.equal(self.body.code, 'device_pending');

    await alice.approve(link.code, tablet);
    assert.equal((await net.http('GET', '/v1/device-links/current', { token: tablet.token })).body.state, 'approved');
    const s = await tablet.connect();
    assert.equal(s.ready?.deviceId, tablet.deviceId);
    assert.equal((await tablet.post('/v1/key-packages', { keyPackages: [tablet.kp()] })).status, 200);
    // The code is spent.
    assert.equal((await alice.get(`/v1/device-links/${link.code}`)).body.code, 'not_found');
  });

  it('limits link-code guessing per account', async () => {
    await using net = await TestNetwork.start();
    const alice = await net.register('alice');
    const codes: string[] = [];
    for (let i = 0; i < 12; i++) codes.push((await alice.get(`/v1/device-links/ABCDE${String(100000 + i).slice(1)}`)).body.code);
    assert.deepEqual(codes.slice(0, 10), Array(10).fill('not_found'));
    assert.deepEqual(codes.slice(10), ['rate_limited', 'rate_limited']);
  });
});

describe('revocation, starting over and password changes', () => {
  it('tells the contacts who shared a group with a revoked device, with the user’s id', async () => {
    await using net = await TestNetwork.start();
    const alice = await net.register('alice');
    const phone = await alice.newDevice('phone');
    const bob = await net.register('bob');
    const carol = await net.register('carol');
    const b = await bob.connect();
    const c = await carol.connect();
    await groupWith(bob, b, [alice, phone]);
    assert.equal((await alice.delete(`/v1/devices/${phone.deviceId}`)).status, 204);
    const notice = await b.waitFor((r) => r.frame.t === 'devices_changed');
    assert.deepEqual(notice.frame, { t: 'devices_changed', userId: alice.userId });
    assert.equal((await c.request({ t: 'ping' })).t, 'pong');
    assert.equal(c.received.filter((r) => r.frame.t === 'devices_changed').length, 0, 'carol shares no group with alice');
  });

  it('starting over revokes every old device, closes their sockets and tells contacts; the new device is the only one', async () => {
    await using net = await TestNetwork.start();
    const alice = await net.register('alice');
    const bob = await net.register('bob');
    const a = await alice.connect();
    const b = await bob.connect();
    await groupWith(bob, b, [alice]);
    const fresh = TestDeviceKey.generate();
    const reset = await net.http('POST', '/v1/identity-resets', { body: { username: 'alice', password: alice.password, device: { name: 'new phone', signatureKey: toBase64Url(fresh.publicKey) } } });
    assert.equal(reset.status, 201);
    assert.notEqual(reset.body.deviceId, alice.deviceId);
    assert.equal((await a.waitClosed()).code, 4010);
    assert.deepEqual((await b.waitFor((r) => r.frame.t === 'devices_changed')).frame, { t: 'devices_changed', userId: alice.userId });
    const dir = (await bob.get(`/v1/users/by-id/${alice.userId}/devices`)).body.devices as Array<{ id: string; revokedAt: number | null }>;
    assert.deepEqual(dir.map((d) => [d.id, d.revokedAt === null]), [[alice.deviceId, false], [reset.body.deviceId, true]]);
    assert.equal((await net.http('POST', '/v1/identity-resets', { body: { username: 'alice', password: 'wrong password', device: { name: 'x', signatureKey: key() } } })).body.code, 'invalid_credentials');
  });

  it('changes the password after re-authentication and signs out the other sessions when asked', async () => {
    // The periodic session re-check is out of the picture: sockets must close because they are told.
    await using net = await TestNetwork.start({ config: { sessionRecheckMs: 3_600_000 } });
    const alice = await net.register('alice');
    const phone = await alice.newDevice('phone');
    const live = await phone.connect();
    const change = (body: unknown) => alice.post('/v1/account/password', body);
    assert.equal((await change({ currentPassword: 'wrong password', newPassword: 'a new long password' })).body.code, 'invalid_credentials');
    assert.equal((await change({ currentPassword: alice.password, newPassword: 'short' })).body.code, 'bad_request');
    assert.equal((await change({ currentPassword: alice.password, newPassword: 'alice is my name' })).body.code, 'weak_password');
    assert.equal((await change({ currentPassword: alice.password, newPassword: 'a new long password', signOutOthers: true })).status, 204);
    assert.equal((await phone.get('/v1/devices')).status, 401, 'the other device was signed out');
    assert.equal((await live.waitClosed()).code, 4001, "and its live connection closed at once, not at the next re-check");
    assert.equal((await alice.get('/v1/devices')).status, 200, 'the caller stays signed in');
    await assert.rejects(phone.signIn(), /invalid_credentials/, 'the old password is gone');
    const token = await phone.signIn('a new long password');
    assert.equal((await net.http('GET', '/v1/devices', { token })).status, 200, 'the device signs in again with its key and the new password');
  });

  it('a pending device that signs out withdraws its request: it is gone, its code finds nothing', async () => {
    await using net = await TestNetwork.start();
    const alice = await net.register('alice');
    const { account, link } = await net.requestLink('alice', alice.password, 'thief');
    assert.equal((await net.http('DELETE', '/v1/sessions/current', { token: account.token })).status, 204);
    assert.equal((await alice.get(`/v1/device-links/${link.code}`)).body.code, 'not_found');
    const own = (await alice.get('/v1/devices')).body.devices as Array<{ id: string }>;
    assert.deepEqual(own.map((d) => d.id), [alice.deviceId], 'never listed, not even as revoked');
  });
});
