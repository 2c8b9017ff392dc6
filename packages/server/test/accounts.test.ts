import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { toBase64Url } from '@parley/protocol';
import { TestNetwork, type TestSocket } from './helpers/test-network.js';

const key = () => toBase64Url(randomBytes(32));

describe('accounts, sessions and devices', () => {
  it('registers, links an approved device, lists and revokes devices; the directory keeps revoked devices with their time', async () => {
    await using net = await TestNetwork.start();
    const alice = await net.register('Alice');
    assert.equal(alice.username, 'alice');
    const phone = await alice.newDevice('phone');
    assert.notEqual(phone.deviceId, alice.deviceId);
    const list = await phone.get('/v1/devices');
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.devices.map((d: { id: string }) => d.id).sort(), [alice.deviceId, phone.deviceId].sort());
    assert.equal(list.body.devices.find((d: { current: boolean }) => d.current).id, phone.deviceId);
    assert.deepEqual(
      list.body.devices.map((d: { status: string; revoked: boolean; revokedAt: number | null }) => [d.status, d.revoked, d.revokedAt]),
      [['active', false, null], ['active', false, null]],
    );

    // someone else's device cannot be revoked
    const bob = await net.register('bob');
    assert.equal((await net.http('DELETE', `/v1/devices/${alice.deviceId}`, { token: bob.token })).status, 404);

    const live = await phone.connect();
    const del = await net.http('DELETE', `/v1/devices/${phone.deviceId}`, { token: alice.token });
    assert.equal(del.status, 204);
    const closed = await live.waitClosed();
    assert.equal(closed.code, 4010);
    assert.equal((await phone.get('/v1/devices')).status, 401);
    const after = (await alice.get('/v1/devices')).body.devices.find((d: { id: string }) => d.id === phone.deviceId);
    assert.equal(after.status, 'revoked');
    assert.equal(after.revoked, true);
    assert.ok(Number.isInteger(after.revokedAt) && after.revokedAt % 3600 === 0 && after.revokedAt >= Date.now() / 1000, 'revokedAt rounded up to the hour');
    // signing in again on a revoked device is refused, even with its key
    await assert.rejects(phone.signIn(), /sign-in failed: 401 .*invalid_credentials/);
    // others see the active device, and the revoked one with its key and time (history still verifies)
    const pub = await bob.get('/v1/users/ALICE/devices');
    assert.deepEqual(
      pub.body.devices.map((d: { id: string; revokedAt: number | null }) => [d.id, d.revokedAt]),
      [[alice.deviceId, null], [phone.deviceId, after.revokedAt]],
    );
    assert.equal(pub.body.devices[1].signatureKey, toBase64Url(phone.key.publicKey));
    const byId = await bob.get(`/v1/users/by-id/${alice.userId}/devices`);
    assert.deepEqual(byId.body, pub.body);
    assert.equal((await bob.get(`/v1/users/by-id/${'A'.repeat(22)}/devices`)).body.code, 'not_found');
  });

  it('signs in again on an existing device with the password and a signed challenge, and signs out', async () => {
    await using net = await TestNetwork.start();
    const a = await net.register('carol');
    const token2 = await a.signIn();
    assert.equal((await net.http('GET', '/v1/devices', { token: token2 })).status, 200);
    assert.equal((await net.http('DELETE', '/v1/sessions/current', { token: token2 })).status, 204);
    assert.equal((await net.http('GET', '/v1/devices', { token: token2 })).status, 401);
    assert.equal((await a.get('/v1/devices')).status, 200, 'other sessions survive');
  });

  it('refuses bad usernames, look-alikes, taken names and wrong passwords with typed errors', async () => {
    await using net = await TestNetwork.start();
    await net.register('paypal');
    const reg = (username: string, password = 'long enough password') =>
      net.http('POST', '/v1/accounts', { body: { username, password, device: { name: 'x', signatureKey: key() } } });
    assert.equal((await reg('PayPal')).body.code, 'username_taken');
    assert.equal((await reg('ｐａｙｐａｌ')).body.code, 'username_taken', 'fullwidth folds by NFKC');
    assert.equal((await reg('pаypal')).body.code, 'invalid_username', 'mixed Latin/Cyrillic');
    assert.equal((await reg('раураl')).body.code, 'invalid_username');
    assert.equal((await reg('paypa1')).body.code, 'username_taken', 'digit look-alike');
    assert.equal((await reg('ab')).body.code, 'invalid_username');
    assert.equal((await reg('a b c')).body.code, 'invalid_username');
    assert.equal((await reg('zoe', 'short')).body.code, 'bad_request');
    assert.equal((await reg('zoe', 'my name is zoe!!')).body.code, 'weak_password');
    const ok = await reg('李小龍');
    assert.equal(ok.status, 201);
    assert.equal((await reg('مرحبا')).status, 201);
    const wrong = await net.http('POST', '/v1/device-links', { body: { username: 'paypal', password: 'not the password', device: { name: 'x', signatureKey: key() } } });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.code, 'invalid_credentials');
    const nobody = await net.http('POST', '/v1/device-links', { body: { username: 'nobody', password: 'whatever123', device: { name: 'x', signatureKey: key() } } });
    assert.equal(nobody.body.code, 'invalid_credentials', 'same answer for unknown users');
  });

  it('rate-limits sign-in attempts per username', async () => {
    await using net = await TestNetwork.start({ config: { rateLimits: { ...(await import('../src/config.js')).defaultConfig().rateLimits, authPerMinute: 3 } } });
    await net.register('dave');
    const codes: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await net.http('POST', '/v1/device-links', { body: { username: 'dave', password: 'wrong password', device: { name: 'x', signatureKey: key() } } });
      codes.push(r.body.code);
    }
    assert.deepEqual(codes, ['invalid_credentials', 'invalid_credentials', 'rate_limited', 'rate_limited', 'rate_limited']);
  });

  it('answers malformed, oversized and unauthenticated requests with typed errors', async () => {
    await using net = await TestNetwork.start({ config: { maxBodyBytes: 4096 } });
    const a = await net.register();
    const bad = await net.http('POST', '/v1/accounts', { raw: '{not json', headers: { 'content-type': 'application/json' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'bad_request');
    const big = await net.http('POST', '/v1/key-packages', { token: a.token, raw: JSON.stringify({ keyPackages: [], pad: 'x'.repeat(10000) }), headers: { 'content-type': 'application/json' } });
    assert.equal(big.status, 413);
    assert.equal(big.body.code, 'payload_too_large');
    assert.equal((await net.http('GET', '/v1/devices')).body.code, 'unauthenticated');
    assert.equal((await net.http('GET', '/v1/devices', { token: 'made-up' })).status, 401);
    assert.equal((await net.http('GET', '/v1/nope')).status, 404);
    assert.equal((await net.http('PATCH', '/v1/devices')).status, 400);
    assert.equal((await net.http('DELETE', '/v1/devices/not-an-id', { token: a.token })).body.code, 'bad_request');
    const health = await net.http('GET', '/health');
    assert.equal(health.status, 200);
    assert.equal(health.body.status, 'ok');
    assert.deepEqual(health.body.storage, { kind: 'sqlite', ok: true });
    assert.equal(typeof health.body.version, 'string');
  });
});

describe('devices_changed', () => {
  const changes = (s: TestSocket) => s.received.filter((r) => r.frame.t === 'devices_changed').length;
  /** A ping round trip: anything the server queued for this socket before it has arrived. */
  const settle = async (...sockets: TestSocket[]) => {
    for (const s of sockets) assert.equal((await s.request({ t: 'ping' })).t, 'pong');
  };

  it('tells the user’s other live devices when a new device is approved, when it is ready and when one is revoked, and nobody else', async () => {
    await using net = await TestNetwork.start();
    const alice = await net.register('alice');
    const bob = await net.register('bob');
    const a = await alice.connect();
    const other = await bob.connect();
    const afterReady = a.received.length;

    const { account: b, link } = await net.requestLink('alice', alice.password, 'tablet');
    await settle(a);
    assert.equal(changes(a), 0, 'a pending device is not announced');
    await alice.approve(link.code, b);
    await a.waitFor((r) => r.frame.t === 'devices_changed', 5000, afterReady);
    assert.deepEqual(
      a.received.filter((r) => r.frame.t === 'devices_changed').map((r) => [r.frame, r.payload.length]),
      [[{ t: 'devices_changed' }, 0]],
    );
    const bLive = await b.connect();

    // Its first stock means it can be added now.
    assert.equal((await b.post('/v1/key-packages', { keyPackages: [b.kp(), b.kp()], lastResort: b.kp({ lastResort: true }) })).status, 200);
    await a.waitFor(() => changes(a) === 2);
    // More stock from the same device is not news.
    assert.equal((await b.post('/v1/key-packages', { keyPackages: [b.kp()] })).status, 200);
    await settle(a, bLive);
    assert.equal(changes(a), 2, 'a second upload sends nothing');
    assert.equal(changes(bLive), 0, 'the uploading device is not told about itself');

    // Revoking B from A: B is cut off, A (the user's remaining device) hears of it.
    assert.equal((await net.http('DELETE', `/v1/devices/${b.deviceId}`, { token: alice.token })).status, 204);
    assert.equal((await bLive.waitClosed()).code, 4010);
    await a.waitFor(() => changes(a) === 3);

    // Bob shares no group with Alice: his devices are never told about hers.
    await settle(other);
    assert.equal(changes(other), 0);
  });

  it('announces a device whose first upload is only a last-resort package, once', async () => {
    await using net = await TestNetwork.start();
    const carol = await net.register('carol');
    const main = await carol.connect();
    const tablet = await carol.newDevice();
    await main.waitFor(() => changes(main) === 1);
    assert.equal((await tablet.post('/v1/key-packages', { keyPackages: [], lastResort: tablet.kp({ lastResort: true }) })).status, 200);
    await main.waitFor(() => changes(main) === 2);
    assert.equal((await tablet.post('/v1/key-packages', { keyPackages: [tablet.kp(), tablet.kp()] })).status, 200);
    await settle(main);
    assert.equal(changes(main), 2);
  });
});

describe('behind a reverse proxy', () => {
  it('limits sign-in attempts per forwarded client address: the right-most hop that is not a trusted proxy', async () => {
    const { defaultConfig } = await import('../src/config.js');
    await using net = await TestNetwork.start({ config: { trustProxy: true, rateLimits: { ...defaultConfig().rateLimits, authPerAddressPerMinute: 2 } } });
    const attempt = (xff: string) =>
      net.http('POST', '/v1/device-links', {
        body: { username: `nobody${randomBytes(3).toString('hex')}`, password: 'wrong password', device: { name: 'x', signatureKey: key() } },
        headers: { 'x-forwarded-for': xff },
      });
    const a = [await attempt('192.0.2.1'), await attempt('192.0.2.1'), await attempt('192.0.2.1')].map((r) => r.body.code);
    assert.deepEqual(a, ['invalid_credentials', 'invalid_credentials', 'rate_limited']);
    assert.equal((await attempt('198.51.100.7')).body.code, 'invalid_credentials', 'another client is not affected');
    // What a client writes to the left of the address the proxy appended changes nothing.
    assert.equal((await attempt('203.0.113.9, 192.0.2.1')).body.code, 'rate_limited');
    // A trusted hop (the proxy itself, on loopback) is skipped.
    assert.equal((await attempt('192.0.2.1, 127.0.0.1')).body.code, 'rate_limited');
  });
});
