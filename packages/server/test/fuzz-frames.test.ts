import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeFrame, isErrorCode, toBase64Url } from '@parley/protocol';
import { defaultConfig } from '../src/config.js';
import { fakeWelcome, mlsMessage, newGroupId, TestNetwork, TestSocket } from './helpers/test-network.js';

/**
 * Throws random and mutated frames at a live server. Properties: the server
 * never crashes, every reply is a valid server frame (TestSocket throws
 * otherwise), and an authenticated connection stays usable afterwards.
 */
describe('frame fuzzing', () => {
  it('survives random and mutated frames on an authenticated connection', async () => {
    await using net = await TestNetwork.start({ config: { rateLimits: { ...defaultConfig().rateLimits, enabled: false } } });
    const alice = await net.register();
    const bob = await net.register();
    const sock = await alice.connect();
    const g = newGroupId();
    await alice.post('/v1/groups', { groupId: g.id });
    assert.equal((await sock.commit(g.id, 0, [alice.deviceId, bob.deviceId], [bob.deviceId])).t, 'ok');

    const validHeaders: Array<[Record<string, unknown>, Uint8Array[]]> = [
      [{ t: 'send', rid: 1, group: g.id }, [mlsMessage(g.id, 1, 'application')]],
      [{ t: 'ack', group: g.id, seq: 1 }, []],
      [{ t: 'ping', rid: 2 }, []],
      [{ t: 'commit', rid: 3, group: g.id, devices: [alice.deviceId, bob.deviceId], welcomeTo: [], parts: [0, 0, 0] }, []],
      [{ t: 'hello', versions: [1], token: 'x' }, []],
      [{ t: 'leave', rid: 4, group: newGroupId().id }, []],
    ];

    const jsonValue = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.constant(g.id), fc.constant(alice.deviceId));
    const mutatedHeader = fc.tuple(fc.constantFrom(...validHeaders), fc.string({ maxLength: 8 }), jsonValue, fc.uint8Array({ maxLength: 600 })).map(([[h], key, value, payload]) => {
      const k = Object.keys(h)[Math.abs(key.length) % Object.keys(h).length] ?? key;
      return encodeFrame({ ...h, [k]: value }, [payload]);
    });
    const flipped = fc.tuple(fc.constantFrom(...validHeaders), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 })).map(([[h, parts], flips]) => {
      const bytes = Uint8Array.from(encodeFrame(h, parts));
      for (const [pos, val] of flips) bytes[pos % bytes.length] = val;
      return bytes;
    });
    const truncated = fc.tuple(fc.constantFrom(...validHeaders), fc.nat()).map(([[h, parts], n]) => {
      const bytes = encodeFrame(h, parts);
      return bytes.subarray(0, n % bytes.length);
    });
    const frame = fc.oneof(fc.uint8Array({ maxLength: 2000 }), mutatedHeader, flipped, truncated);

    let sent = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(frame, { minLength: 1, maxLength: 10 }), async (frames) => {
        for (const f of frames) {
          sock.sendRaw(f);
          sent++;
        }
        const pong = await sock.request({ t: 'ping' });
        assert.equal(pong.t, 'pong');
      }),
      { numRuns: 120, seed: 4242 },
    );
    assert.ok(sent > 120);
    assert.equal(sock.closed, undefined, 'the authenticated connection stayed open');
    // also text frames and junk before hello: refused with a valid frame, never a crash
    const raw = await TestSocket.open(net.url.replace('http', 'ws') + '/v1/ws');
    raw.sendRaw('hello as text');
    await raw.waitFor((r) => r.frame.t === 'error');
    raw.sendRaw(randomBytes(64));
    const closed = await raw.waitClosed();
    assert.ok(closed.code >= 4000);
    // a commit with welcome recipients but a bogus device list is refused cleanly
    const bogus = await sock.request({ t: 'commit', group: g.id, devices: [alice.deviceId, toBase64Url(randomBytes(16))], welcomeTo: [], parts: [0] }, []);
    assert.equal(bogus.t, 'error');
    assert.equal((await net.http('GET', '/health')).status, 200);
    // (A mutated leave frame may have named this group: a fresh one shows the connection still works.)
    const fresh = newGroupId();
    assert.equal((await alice.post('/v1/groups', { groupId: fresh.id })).status, 201);
    assert.equal((await sock.send(fresh.id, 0)).t, 'ok');
    void fakeWelcome;
  });

  it('survives random and mutated bodies on the identity and KeyPackage routes: typed errors only, nothing stored', async () => {
    await using net = await TestNetwork.start({ config: { rateLimits: { ...defaultConfig().rateLimits, enabled: false } } });
    const alice = await net.register('alice');
    const { link } = await net.requestLink('alice', alice.password);
    const wrong = 'not the password at all';
    const device = { name: 'fuzz', signatureKey: toBase64Url(randomBytes(32)) };
    const sig = toBase64Url(randomBytes(64));
    const routes: Array<[string, string, Record<string, unknown> | undefined]> = [
      ['POST', '/v1/sessions/challenge', { username: 'alice', deviceId: alice.deviceId }],
      ['POST', '/v1/sessions', { username: 'alice', password: wrong, device: { deviceId: alice.deviceId, challenge: 'c'.repeat(43), signature: sig } }],
      ['POST', '/v1/device-links', { username: 'alice', password: wrong, device }],
      ['POST', '/v1/identity-resets', { username: 'alice', password: wrong, device }],
      ['POST', '/v1/account/password', { currentPassword: wrong, newPassword: 'another long password', signOutOthers: true }],
      ['POST', `/v1/device-links/${link.code}/approve`, { deviceId: link.deviceId, signature: sig }],
      ['GET', `/v1/device-links/${link.code}`, undefined],
      ['GET', `/v1/users/by-id/${alice.userId}/devices`, undefined],
      ['POST', '/v1/key-packages', { keyPackages: [alice.kp()], lastResort: alice.kp({ lastResort: true }) }],
      ['POST', '/v1/key-packages/claim', { deviceIds: [alice.deviceId] }],
    ];
    const jsonValue = fc.oneof(fc.string({ maxLength: 80 }), fc.integer(), fc.boolean(), fc.constant(null), fc.constant(alice.deviceId), fc.constant(link.code), fc.jsonValue({ maxDepth: 2 }));
    /** A valid body with one field replaced, or a string inside it with characters flipped. */
    const mutated = fc.tuple(fc.constantFrom(...routes), fc.nat(), jsonValue, fc.array(fc.tuple(fc.nat(), fc.string({ minLength: 1, maxLength: 1, unit: 'binary' })), { maxLength: 4 })).map(([[method, path, body], pick, value, flips]) => {
      if (body === undefined) return { method, path: path + (flips.length > 0 ? String(value).slice(0, 20) : ''), body: undefined };
      let text = JSON.stringify({ ...body, [Object.keys(body)[pick % Object.keys(body).length] ?? 'x']: value });
      for (const [at, ch] of flips) {
        const i = at % text.length;
        text = text.slice(0, i) + ch + text.slice(i + 1);
      }
      return { method, path, body: text };
    });
    await fc.assert(
      fc.asyncProperty(mutated, async ({ method, path, body }) => {
        const r = await net.http(method, encodeURI(path), { token: alice.token, ...(body === undefined ? {} : { raw: body, headers: { 'content-type': 'application/json' } }) });
        assert.ok(r.status < 500, `${method} ${path} → ${r.status} ${JSON.stringify(r.body)}`);
        if (r.status >= 400) assert.ok(isErrorCode(r.body?.code), JSON.stringify(r.body));
      }),
      { numRuns: 300, seed: 1111 },
    );
    // Nothing a mutation produced got in: the device list and the KeyPackage stock are what they were.
    const devices = (await alice.get('/v1/devices')).body.devices as Array<{ id: string; status: string }>;
    assert.deepEqual(devices.filter((d) => d.status !== 'pending').map((d) => d.id), [alice.deviceId]);
    assert.equal((await alice.get('/v1/key-packages')).body.available, 0);
    assert.equal((await net.http('GET', '/health')).status, 200);
  });

  it('refuses oversized frames, wrong versions and bad tokens with typed errors', async () => {
    await using net = await TestNetwork.start({ config: { maxFrameBytes: 4096 } });
    const alice = await net.register();
    const big = await alice.connect();
    big.sendRaw(new Uint8Array(10_000));
    const closed = await big.waitClosed();
    assert.equal(closed.code, 1009, 'message too big');

    const wrongVersion = await TestSocket.open(net.url.replace('http', 'ws') + '/v1/ws');
    wrongVersion.sendFrame({ t: 'hello', versions: [99], token: alice.token });
    const err = await wrongVersion.waitFor((r) => r.frame.t === 'error');
    assert.ok(err.frame.t === 'error' && err.frame.code === 'unsupported_version');
    assert.equal((await wrongVersion.waitClosed()).code, 4002);

    const badToken = await TestSocket.open(net.url.replace('http', 'ws') + '/v1/ws');
    badToken.sendFrame({ t: 'hello', versions: [1], token: 'nope' });
    const e2 = await badToken.waitFor((r) => r.frame.t === 'error');
    assert.ok(e2.frame.t === 'error' && e2.frame.code === 'unauthenticated');
    assert.equal((await badToken.waitClosed()).code, 4001);

    const noHello = await TestSocket.open(net.url.replace('http', 'ws') + '/v1/ws');
    noHello.sendFrame({ t: 'ping', rid: 1 });
    assert.equal((await noHello.waitClosed()).code, 4001);
  });

  it('rate-limits frames per connection without dropping the connection', async () => {
    await using net = await TestNetwork.start({ config: { rateLimits: { ...defaultConfig().rateLimits, authPerMinute: 100, authPerAddressPerMinute: 100, httpPerMinute: 1000, framesPerSecond: 1, frameBurst: 5 } } });
    const alice = await net.register();
    const s = await alice.connect();
    for (let i = 0; i < 10; i++) s.sendFrame({ t: 'ping', rid: 100 + i });
    await s.waitFor((r) => r.frame.t === 'error' && r.frame.code === 'rate_limited');
    const pongs = s.received.filter((r) => r.frame.t === 'pong').length;
    assert.ok(pongs <= 5, `at most the burst answered (${pongs})`);
    assert.equal(s.closed, undefined);
    // Every request gets exactly one answer: a pong, or a rate_limited error naming its rid.
    await s.waitFor(() => s.received.filter((r) => r.frame.t === 'pong' || r.frame.t === 'error').length >= 10);
    const answered = s.received.map((r) => r.frame).filter((f) => f.t === 'pong' || (f.t === 'error' && f.code === 'rate_limited'));
    assert.deepEqual(answered.map((f) => ('rid' in f ? f.rid : undefined)).sort(), Array.from({ length: 10 }, (_, i) => 100 + i));
  });
});
