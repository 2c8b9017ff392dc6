import assert from 'node:assert/strict';
import { createDecipheriv, createECDH, createPublicKey, hkdfSync, randomBytes, verify } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fromBase64Url, PUSH_WAKE_PAYLOAD, toBase64Url } from '@parley/protocol';
import { defaultConfig, type PushConfig } from '../src/config.js';
import { createAppContext } from '../src/context.js';
import { mlsMessage, newGroupId, TestNetwork, type TestAccount, type TestSocket } from './helpers/test-network.js';

/**
 * A stand-in for a browser's push service (a third party that cannot run
 * here): an HTTP server on 127.0.0.1 that records each push and answers
 * with `status`. The subscription's private key stays in the test, which
 * decrypts what the server sent (RFC 8291, aes128gcm) as the browser would.
 */
class LocalPushService {
  readonly received: Array<{ headers: IncomingHttpHeaders; body: Buffer; path: string }> = [];
  status = 201;
  private readonly ecdh = createECDH('prime256v1');
  readonly auth = randomBytes(16);
  private constructor(private readonly server: ReturnType<typeof createServer>) {
    this.ecdh.generateKeys();
  }

  static async start(): Promise<LocalPushService> {
    const server = createServer();
    const svc = new LocalPushService(server);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        svc.received.push({ headers: req.headers, body: Buffer.concat(chunks), path: req.url ?? '' });
        res.writeHead(svc.status).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return svc;
  }

  get origin(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The body of PUT /v1/push/subscription, as PushSubscription.toJSON() gives it. */
  subscription(path = `/push/${toBase64Url(randomBytes(16))}`) {
    return { endpoint: this.origin + path, keys: { p256dh: toBase64Url(this.ecdh.getPublicKey()), auth: toBase64Url(this.auth) } };
  }

  /** RFC 8291 §3.4 and RFC 8188: one aes128gcm record, decrypted with the subscription's private key and auth secret. */
  decrypt(body: Buffer): string {
    const salt = body.subarray(0, 16);
    const idlen = body[20] ?? 0;
    const asPublic = body.subarray(21, 21 + idlen);
    const ciphertext = body.subarray(21 + idlen);
    const shared = this.ecdh.computeSecret(asPublic);
    const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), this.ecdh.getPublicKey(), asPublic]);
    const ikm = Buffer.from(hkdfSync('sha256', shared, this.auth, keyInfo, 32));
    const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
    const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
    const d = createDecipheriv('aes-128-gcm', cek, nonce);
    d.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
    const padded = Buffer.concat([d.update(ciphertext.subarray(0, ciphertext.length - 16)), d.final()]);
    let end = padded.length - 1;
    while (end > 0 && padded[end] === 0) end--;
    assert.equal(padded[end], 2, 'the last record delimiter (RFC 8188)');
    return padded.subarray(0, end).toString('utf8');
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** RFC 8292: `vapid t=<JWT>, k=<key>`; checks the ES256 signature with k and returns the claims. */
function verifyVapid(header: string | undefined, expectedKey: string): Record<string, unknown> {
  const m = /^vapid t=([^,]+), k=(.+)$/.exec(header ?? '');
  assert.ok(m, `a VAPID authorization header: ${header}`);
  const [, jwt = '', k = ''] = m;
  assert.equal(k, expectedKey, 'signed with the key the server publishes');
  const [h = '', p = '', sig = ''] = jwt.split('.');
  const raw = fromBase64Url(k) ?? new Uint8Array();
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: toBase64Url(raw.subarray(1, 33)), y: toBase64Url(raw.subarray(33, 65)) }, format: 'jwk' });
  assert.ok(verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, fromBase64Url(sig) ?? new Uint8Array()), 'a valid ES256 signature');
  return JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
}

function pushConfig(over: Partial<PushConfig> = {}): { push: PushConfig } {
  return { push: { ...defaultConfig().push, allowLocalHttp: true, subject: 'mailto:ops@parley.example', ...over } };
}

async function directChat(alice: TestAccount, a: TestSocket, bob: TestAccount) {
  const g = newGroupId();
  assert.equal((await alice.post('/v1/groups', { groupId: g.id })).status, 201);
  assert.equal((await a.commit(g.id, 0, [alice.deviceId, bob.deviceId], [bob.deviceId])).t, 'ok');
  return g.id;
}

const put = (a: TestAccount, body: unknown, token: string | null = a.token) => a.net.http('PUT', '/v1/push/subscription', { ...(token === null ? {} : { token }), body });

async function waitUntil(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Web Push', () => {
  it('publishes one VAPID key kept in the data directory, and validates subscriptions', async () => {
    const svc = await LocalPushService.start();
    let key: string;
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-push-'));
    {
      await using net = await TestNetwork.start({ config: pushConfig(), dataDir });
      const alice = await net.register();
      const res = await alice.get('/v1/push/vapid-key');
      assert.equal(res.status, 200);
      key = res.body.publicKey as string;
      assert.equal(fromBase64Url(key)?.length, 65);
      assert.equal((await net.http('GET', '/v1/push/vapid-key')).status, 401, 'signed-in devices only');
      assert.equal(statSync(join(net.dataDir, 'vapid.json')).mode & 0o777, 0o600, 'the private key is readable by the server only');

      const good = svc.subscription();
      assert.equal((await put(alice, good, null)).status, 401);
      for (const endpoint of ['http://push.example/x', 'https://10.0.0.1/x', 'https://[::1]/x', 'https://localhost/x', 'https://user:pw@push.example/x', 'ftp://push.example/x', `https://push.example/${'a'.repeat(1024)}`, 'not a url']) {
        const r = await put(alice, { ...good, endpoint });
        assert.equal(r.status, 400, endpoint);
      }
      for (const keys of [{ ...good.keys, p256dh: toBase64Url(randomBytes(65)) }, { ...good.keys, p256dh: toBase64Url(randomBytes(33)) }, { ...good.keys, auth: toBase64Url(randomBytes(15)) }, {}]) {
        assert.equal((await put(alice, { ...good, keys })).status, 400, JSON.stringify(keys));
      }
      assert.deepEqual(await net.ctx.storage.pushSubscriptions([alice.deviceId]), [], 'nothing refused was stored');
      assert.equal((await put(alice, good)).status, 204);
      assert.equal((await put(alice, { ...good, endpoint: 'https://fcm.googleapis.com/fcm/send/abc' })).status, 204, 'a real push service URL');
      assert.equal((await net.ctx.storage.pushSubscriptions([alice.deviceId]))[0]?.endpoint, 'https://fcm.googleapis.com/fcm/send/abc', 'one per device: replaced');
      assert.equal((await alice.delete('/v1/push/subscription')).status, 204);
      assert.equal((await alice.delete('/v1/push/subscription')).status, 204, 'deleting again is fine');
      assert.deepEqual(await net.ctx.storage.pushSubscriptions([alice.deviceId]), []);
    }
    try {
      await using again = await TestNetwork.start({ config: pushConfig(), dataDir });
      const bob = await again.register();
      assert.equal((await bob.get('/v1/push/vapid-key')).body.publicKey, key, 'the same key after a restart: subscriptions stay valid');
    } finally {
      await svc.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('wakes a device that is not connected with an encrypted, VAPID-signed push that carries no content; a connected one gets none', async () => {
    const svc = await LocalPushService.start();
    try {
      await using net = await TestNetwork.start({ config: pushConfig({ coalesceMs: 100 }) });
      const [alice, bob] = [await net.register(), await net.register()];
      const vapid = (await bob.get('/v1/push/vapid-key')).body.publicKey as string;
      const sub = svc.subscription();
      assert.equal((await put(bob, sub)).status, 204);
      const a = await alice.connect();
      const group = await directChat(alice, a, bob);
      await net.ctx.push.settled();
      assert.equal(svc.received.length, 1, 'the Welcome (a new conversation) woke bob');

      const secret = randomBytes(64);
      assert.equal((await a.send(group, 1, secret)).t, 'ok');
      await net.ctx.push.settled();
      assert.equal(svc.received.length, 2);
      for (const p of svc.received) {
        assert.equal(p.path, new URL(sub.endpoint).pathname);
        assert.equal(p.headers['content-encoding'], 'aes128gcm');
        assert.equal(p.headers['ttl'], '86400');
        assert.equal(p.headers['urgency'], 'high');
        assert.equal(p.headers['topic'], 'wake');
        const claims = verifyVapid(p.headers['authorization'], vapid);
        assert.equal(claims['aud'], svc.origin);
        assert.equal(claims['sub'], 'mailto:ops@parley.example');
        const text = svc.decrypt(p.body);
        assert.equal(text, PUSH_WAKE_PAYLOAD, 'a wake-up and nothing else');
        for (const leak of [group, alice.userId, alice.deviceId, bob.deviceId, alice.username, toBase64Url(secret), secret.toString('hex')]) assert.ok(!text.includes(leak));
        assert.ok(!p.body.includes(secret) && !p.body.toString('latin1').includes(group));
      }
      assert.notDeepEqual(svc.received[0]?.body, svc.received[1]?.body, 'each push is encrypted afresh');

      const b = await bob.connect();
      assert.equal((await a.send(group, 1)).t, 'ok');
      await b.waitFor((r) => r.frame.t === 'msg' && r.frame.kind === 'application' && r.frame.seq === 3);
      await net.ctx.push.settled();
      assert.equal(svc.received.length, 2, 'no push while bob is connected');
      assert.equal(svc.received.filter((p) => p.headers['authorization'] === undefined).length, 0);

      // Bob's socket goes away with that message handed to it but never acknowledged (a tab closed
      // while the server still thought it open): the wake-up it was spared is sent when it goes.
      b.close();
      await waitUntil(() => svc.received.length === 3, 'a wake-up once the socket with an unacknowledged message closed');
      // Handed and acknowledged: nothing owed when the socket goes.
      const b2 = await bob.connect();
      await b2.waitFor((r) => r.frame.t === 'msg' && r.frame.kind === 'application' && r.frame.seq === 3);
      b2.ack(group, 3);
      await b2.waitFor((r) => r.frame.t === 'synced');
      assert.equal((await a.send(group, 1)).t, 'ok');
      await b2.waitFor((r) => r.frame.t === 'msg' && r.frame.seq === 4);
      b2.ack(group, 4);
      await new Promise((r) => setTimeout(r, 200));
      b2.close();
      await new Promise((r) => setTimeout(r, 300));
      await net.ctx.push.settled();
      assert.equal(svc.received.length, 3, 'no wake-up for a socket that acknowledged everything');
      assert.ok(!net.logs.join('').includes(sub.endpoint) && !net.logs.join('').includes(sub.keys.auth), 'no endpoint or key in the logs');
    } finally {
      await svc.close();
    }
  });

  it('a message sent silent (nothing to show: most Moments traffic) wakes no device; the next ordinary one does', async () => {
    const svc = await LocalPushService.start();
    try {
      await using net = await TestNetwork.start({ config: pushConfig() });
      const [alice, bob] = [await net.register(), await net.register()];
      const a = await alice.connect();
      const group = await directChat(alice, a, bob);
      await net.ctx.push.settled();
      assert.equal((await put(bob, svc.subscription())).status, 204);
      const before = svc.received.length;
      for (let i = 0; i < 5; i++) assert.equal((await a.request({ t: 'send', group, silent: true }, [mlsMessage(group, 1, 'application')])).t, 'ok');
      await net.ctx.push.settled();
      assert.equal(svc.received.length, before, 'no push for silent messages');
      assert.equal((await a.send(group, 1)).t, 'ok');
      await waitUntil(() => svc.received.length > before, 'the ordinary message wakes bob');
    } finally {
      await svc.close();
    }
  });

  it('coalesces: a burst of 1,000 messages to a device not connected sends at most 5 pushes', async () => {
    const svc = await LocalPushService.start();
    try {
      await using net = await TestNetwork.start({ config: { ...pushConfig(), rateLimits: { ...defaultConfig().rateLimits, enabled: false } } });
      const [alice, bob] = [await net.register(), await net.register()];
      assert.equal((await put(bob, svc.subscription())).status, 204);
      const a = await alice.connect();
      const group = await directChat(alice, a, bob);
      for (let i = 0; i < 1000; i += 50) {
        const r = await Promise.all(Array.from({ length: 50 }, () => a.send(group, 1)));
        assert.ok(r.every((x) => x.t === 'ok'));
      }
      await net.ctx.push.settled();
      const n = svc.received.length;
      assert.ok(n >= 1 && n <= 5, `${n} pushes for 1,001 stored messages (the Welcome included)`);
      assert.equal(net.ctx.push.counters.sent, n);
    } finally {
      await svc.close();
    }
  });

  it('makes the key at the first server start only (not for an admin context), and refuses to start on a damaged key file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-push-'));
    try {
      const ctx = await createAppContext({ ...defaultConfig(), dataDir: dir, logLevel: 'silent' });
      await ctx.storage.close();
      assert.equal(existsSync(join(dir, 'vapid.json')), false, 'an admin command builds a context but makes no key');
      writeFileSync(join(dir, 'vapid.json'), '{"publicKey":"short","privateKey":"x"}');
      await assert.rejects(TestNetwork.start({ dataDir: dir }), /not a VAPID key file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('deletes a subscription its push service calls gone (410, 404) and sends it nothing more; revocation deletes it too', async () => {
    const svc = await LocalPushService.start();
    try {
      await using net = await TestNetwork.start({ config: { ...pushConfig({ coalesceMs: 50 }), metricsAddr: { host: '127.0.0.1', port: 0 } } });
      const [alice, bob] = [await net.register(), await net.register()];
      const bob2 = await bob.newDevice();
      assert.equal((await put(bob, svc.subscription())).status, 204);
      assert.equal((await put(bob2, svc.subscription())).status, 204);
      svc.status = 410;
      const a = await alice.connect();
      const g = newGroupId();
      assert.equal((await alice.post('/v1/groups', { groupId: g.id })).status, 201);
      assert.equal((await a.commit(g.id, 0, [alice.deviceId, bob.deviceId], [bob.deviceId])).t, 'ok');
      await net.ctx.push.settled();
      assert.equal(svc.received.length, 1);
      assert.deepEqual(await net.ctx.storage.pushSubscriptions([bob.deviceId]), [], '410: deleted');
      assert.equal(net.ctx.push.counters.gone, 1);
      assert.equal((await a.send(g.id, 1)).t, 'ok');
      await net.ctx.push.settled();
      assert.equal(svc.received.length, 1, 'nothing more to a deleted subscription');

      svc.status = 404;
      const g2 = newGroupId();
      assert.equal((await alice.post('/v1/groups', { groupId: g2.id })).status, 201);
      assert.equal((await a.commit(g2.id, 0, [alice.deviceId, bob2.deviceId], [bob2.deviceId])).t, 'ok');
      await net.ctx.push.settled();
      assert.deepEqual(await net.ctx.storage.pushSubscriptions([bob2.deviceId]), [], '404: deleted');

      svc.status = 500;
      assert.equal((await put(bob2, svc.subscription())).status, 204);
      assert.equal((await a.send(g2.id, 1)).t, 'ok', 'a failing push service never fails delivery');
      await net.ctx.push.settled();
      assert.equal((await net.ctx.storage.pushSubscriptions([bob2.deviceId])).length, 1, 'other failures keep the subscription');
      assert.equal(net.ctx.push.counters.failed, 1);

      const exposition = await (await fetch(net.server.metricsUrl ?? '')).text();
      for (const [result, n] of [['sent', 0], ['gone', 2], ['failed', 1], ['dropped', 0]] as const) {
        assert.match(exposition, new RegExp(`^parley_push_total\\{result="${result}"\\} ${n}$`, 'm'), result);
      }
      assert.equal((await bob.delete(`/v1/devices/${bob2.deviceId}`)).status, 204);
      assert.deepEqual(await net.ctx.storage.pushSubscriptions([bob2.deviceId]), [], 'a revoked device has no subscription');
    } finally {
      await svc.close();
    }
  });
});
