import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { toBase64Url } from '@parley/protocol';
import { defaultConfig, type RateLimitConfig } from '../src/config.js';
import { RateLimiter } from '../src/rate-limit.js';
import { TestNetwork } from './helpers/test-network.js';

/**
 * The edges an attacker reaches without an account or with a forged header:
 * client addresses behind a proxy, rate limits on unauthenticated requests
 * and bad tokens, look-alike usernames, content sniffing, KeyPackage claims.
 */

const limits = (over: Partial<RateLimitConfig>): RateLimitConfig => ({ ...defaultConfig().rateLimits, ...over });

/** A network whose rate-limit buckets never refill while the test runs: counts, not timing, decide. */
async function start(config: Parameters<typeof TestNetwork.start>[0] = {}): Promise<TestNetwork> {
  const net = await TestNetwork.start(config);
  net.ctx.limiter = new RateLimiter(() => 0);
  return net;
}
const key = () => toBase64Url(randomBytes(32));

describe('client addresses behind a proxy', () => {
  it('does not let a forged left-most X-Forwarded-For bypass the per-address sign-up limit', async () => {
    await using net = await start({ config: { trustProxy: true, rateLimits: limits({ authPerAddressPerMinute: 60 }) } });
    const codes: number[] = [];
    for (let i = 0; i < 70; i++) {
      const r = await net.http('POST', '/v1/accounts', {
        body: { username: `spoof${i}x`, password: 'correct horse battery', device: { name: 'x', signatureKey: key() } },
        // Each request pretends to come from a new client; the proxy (loopback) appended the real one.
        headers: { 'x-forwarded-for': `198.51.100.${i}, 192.0.2.10` },
      });
      codes.push(r.status);
    }
    assert.equal(codes.filter((c) => c === 201).length, 60);
    assert.deepEqual(codes.slice(60), Array(10).fill(429));
  });

  it('keeps memory flat under many huge, unique X-Forwarded-For values', async () => {
    await using net = await start({ config: { trustProxy: true } });
    const before = net.ctx.limiter.size;
    for (let i = 0; i < 300; i++) {
      const huge = `${randomBytes(7500).toString('hex')}, 10.${i >> 8}.${i & 255}.1`;
      const r = await net.http('GET', '/health', { headers: { 'x-forwarded-for': huge } });
      assert.equal(r.status, 200);
    }
    // Over 1 KB the header is ignored and the proxy's own address is the key: one bucket, not 300.
    assert.ok(net.ctx.limiter.size - before <= 1, `${net.ctx.limiter.size - before} new rate-limit buckets`);
  });

  it('ignores X-Forwarded-For from peers that are not trusted proxies', async () => {
    await using net = await start({ config: { trustedProxies: ['10.0.0.0/8'], rateLimits: limits({ authPerAddressPerMinute: 2 }) } });
    const codes: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await net.http('POST', '/v1/device-links', { body: { username: 'nobody', password: 'wrong password', device: { name: 'x', signatureKey: key() } }, headers: { 'x-forwarded-for': `203.0.113.${i}` } });
      codes.push(r.body.code);
    }
    assert.deepEqual(codes, ['invalid_credentials', 'invalid_credentials', 'rate_limited']);
  });
});

describe('rate limits before any work', () => {
  it('limits unauthenticated requests per client address', async () => {
    await using net = await start({ config: { rateLimits: limits({ httpPerMinute: 5 }) } });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await net.http('GET', '/health')).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429]);
    assert.equal((await net.http('GET', '/v1/no-such-route')).body.code, 'rate_limited', 'probing unknown routes counts too');
  });

  it('limits bad tokens per client address, then refuses before looking the token up', async () => {
    await using net = await start({ config: { rateLimits: limits({ badTokenPerAddressPerMinute: 3 }) } });
    const codes: string[] = [];
    for (let i = 0; i < 5; i++) codes.push((await net.http('GET', '/v1/devices', { token: `guess-${i}` })).body.code);
    assert.deepEqual(codes, ['unauthenticated', 'unauthenticated', 'unauthenticated', 'rate_limited', 'rate_limited']);
    assert.equal((await net.http('GET', '/v1/devices')).body.code, 'rate_limited', 'no token at all is no better');
    // WebSocket hellos with bad tokens count against the same address.
    const ws = await net.hello('another-guess');
    assert.ok(ws.reply.t === 'error' && ws.reply.code === 'rate_limited');
    assert.equal((await ws.socket.waitClosed()).code, 4029);
  });

  it('rate-limits sign-in attempts before reading the body', async () => {
    await using net = await start({ config: { rateLimits: limits({ authPerAddressPerMinute: 2 }) } });
    const bad = () => net.http('POST', '/v1/device-links', { raw: '{not json', headers: { 'content-type': 'application/json' } });
    assert.deepEqual([(await bad()).body.code, (await bad()).body.code, (await bad()).body.code], ['bad_request', 'bad_request', 'rate_limited']);
    // A huge body is not read either: the refusal comes first.
    const huge = await new Promise<number>((resolve, reject) => {
      const req = request(`${net.url}/v1/accounts`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(50 * 1024 * 1024) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write('{"username":');
    });
    assert.equal(huge, 429);
  });
});

describe('usernames', () => {
  it('refuses names padded with Hangul fillers or default-ignorable characters instead of registering look-alikes', async () => {
    await using net = await start();
    await net.register('김철수');
    await net.register('alice');
    for (const name of ['김철수\u3164', '김\u3164철수', '김철수\uFFA0', '\u115F김철수', '김철수\u1160', 'ali\u200Bce', 'alice\u2060', 'al\u00ADice']) {
      const r = await net.http('POST', '/v1/accounts', { body: { username: name, password: 'correct horse battery', device: { name: 'x', signatureKey: key() } } });
      assert.equal(r.status, 400, JSON.stringify(name));
      assert.equal(r.body.code, 'invalid_username');
    }
  });
});

describe('content sniffing', () => {
  it('sends X-Content-Type-Options: nosniff on every kind of response', async () => {
    const web = mkdtempSync(join(tmpdir(), 'parley-web-'));
    writeFileSync(join(web, 'index.html'), '<!doctype html><title>t</title>');
    try {
      await using net = await start({ config: { webDir: web, rateLimits: limits({ badTokenPerAddressPerMinute: 2 }) } });
      const alice = await net.register();
      const data = randomBytes(100);
      const digest = createHash('sha256').update(data).digest('hex');
      assert.equal((await net.http('PUT', `/v1/blobs/${digest}`, { token: alice.token, raw: data })).status, 201);
      const responses = [
        await fetch(`${net.url}/health`),
        await fetch(`${net.url}/v1/devices`, { headers: { authorization: `Bearer ${alice.token}` } }),
        await fetch(`${net.url}/v1/blobs/${digest}`, { headers: { authorization: `Bearer ${alice.token}` } }),
        await fetch(`${net.url}/v1/sessions/current`, { method: 'DELETE', headers: { authorization: `Bearer ${alice.token}` } }),
        await fetch(`${net.url}/v1/nope`),
        await fetch(`${net.url}/v1/devices`, { method: 'PATCH' }),
        await fetch(`${net.url}/`),
        await fetch(`${net.url}/some/app/route`),
        await fetch(`${net.url}/v1/devices`),
        await fetch(`${net.url}/v1/devices`, { headers: { authorization: 'Bearer nope' } }),
        await fetch(`${net.url}/v1/devices`, { headers: { authorization: 'Bearer nope' } }),
      ];
      const statuses = responses.map((r) => r.status);
      assert.deepEqual(statuses, [200, 200, 200, 204, 404, 400, 200, 200, 401, 401, 429]);
      for (const r of responses) assert.equal(r.headers.get('x-content-type-options'), 'nosniff', `${r.url} ${r.status}`);
    } finally {
      rmSync(web, { recursive: true, force: true });
    }
  });
});

describe('KeyPackage claims', () => {
  it('hands a device’s packages out at most N a minute, whoever asks, and lists the rest as missing', async () => {
    await using net = await start({ config: { rateLimits: limits({ claimsPerDevicePerMinute: 30 }) } });
    const victim = await net.register();
    const attacker = await net.register();
    const accomplice = await net.register();
    assert.equal((await victim.post('/v1/key-packages', { keyPackages: Array.from({ length: 100 }, () => victim.kp()), lastResort: victim.kp({ lastResort: true }) })).status, 200);
    let handed = 0;
    for (let i = 0; i < 40; i++) handed += (await (i % 2 ? attacker : accomplice).post('/v1/key-packages/claim', { deviceIds: [victim.deviceId] })).body.keyPackages.length;
    assert.equal(handed, 30);
    assert.equal((await victim.get('/v1/key-packages')).body.available, 70, 'the rest of the stock is left for real conversations');
    // The victim's own devices (adding a new device everywhere) are not held to it.
    const phone = await victim.newDevice();
    assert.equal((await phone.post('/v1/key-packages/claim', { deviceIds: [victim.deviceId] })).body.keyPackages.length, 1);
  });

  it('hands the last-resort package out at most 3 times a minute', async () => {
    await using net = await start();
    const victim = await net.register();
    const attacker = await net.register();
    assert.equal((await victim.post('/v1/key-packages', { keyPackages: [], lastResort: victim.kp({ lastResort: true }) })).status, 200);
    const results = [];
    for (let i = 0; i < 10; i++) results.push((await attacker.post('/v1/key-packages/claim', { deviceIds: [victim.deviceId] })).body);
    assert.equal(results.filter((r) => r.keyPackages[0]?.lastResort === true).length, 3);
    assert.equal(results.filter((r) => r.missing.includes(victim.deviceId)).length, 7);
  });

  it('limits the devices one account may claim for', async () => {
    await using net = await start({ config: { rateLimits: limits({ claimDevicesPer10Minutes: 25 }) } });
    const claimer = await net.register();
    const ids = Array.from({ length: 20 }, () => toBase64Url(randomBytes(16)));
    assert.equal((await claimer.post('/v1/key-packages/claim', { deviceIds: ids })).status, 200);
    const over = await claimer.post('/v1/key-packages/claim', { deviceIds: ids.slice(0, 10) });
    assert.equal(over.status, 429);
    assert.equal(over.body.code, 'rate_limited');
    assert.equal((await claimer.post('/v1/key-packages/claim', { deviceIds: ids.slice(0, 5) })).status, 200, 'what is left of the allowance still works');
  });
});
