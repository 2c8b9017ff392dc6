import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import type { DeviceId } from '@parley/protocol';
import { createLogger } from '../logger.js';
import { PushNotifier } from '../push/notifier.js';
import { isPublicAddress, NonPublicAddressError, publicOnlyLookup } from './public-address.js';

describe('isPublicAddress', () => {
  it('takes public unicast addresses and nothing else', () => {
    for (const a of ['8.8.8.8', '142.250.74.110', '1.1.1.1', '2a00:1450:4001:82b::200a', '2606:4700::1111', '[2606:4700::1111]']) assert.equal(isPublicAddress(a), true, a);
    const refused = [
      '127.0.0.1', '127.255.0.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1',
      '255.255.255.255', '198.18.0.1', '192.0.2.5', '::', '::1', '[::1]', 'fe80::1', 'fe80::1%eth0', 'fd00::1', 'fc00::1', 'ff02::1', '2001:db8::1',
      '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '64:ff9b::a9fe:a9fe', '64:ff9b::192.168.0.1', '2002:c0a8:101::1',
      'localhost', 'example.org', '', '1.2.3', '999.1.1.1',
    ];
    for (const a of refused) assert.equal(isPublicAddress(a), false, a);
    // an IPv4-mapped public address is public
    assert.equal(isPublicAddress('::ffff:8.8.8.8'), true);
  });
});

describe('publicOnlyLookup', () => {
  it('refuses a name that resolves to loopback (both shapes of the callback)', async () => {
    const one = await new Promise<unknown>((resolve) => publicOnlyLookup('localhost', {}, (err) => resolve(err)));
    assert.ok(one instanceof NonPublicAddressError);
    const all = await new Promise<unknown>((resolve) => publicOnlyLookup('localhost', { all: true }, (err) => resolve(err)));
    assert.ok(all instanceof NonPublicAddressError);
  });
});

describe('PushNotifier and the push endpoint’s address', () => {
  it('never connects to a subscription whose host resolves to this machine', async () => {
    let connections = 0;
    const listener = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const port = (listener.address() as AddressInfo).port;
    const endpoints = [`https://localhost:${port}/push/1`, `https://127.0.0.1:${port}/push/2`, `http://127.0.0.1:${port}/push/3`, `https://[::1]:${port}/push/4`];
    const device = (i: number) => `device-${i}` as DeviceId;
    const webpush = await import('web-push');
    const vapid = webpush.default.generateVAPIDKeys();
    const ecdh = createECDH('prime256v1');
    const browser = { p256dh: ecdh.generateKeys().toString('base64url'), auth: randomBytes(16).toString('base64url') };
    const logged: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logged.push(chunk.toString());
        done();
      },
    });
    const notifier = new PushNotifier({
      vapid: () => vapid,
      subject: 'mailto:ops@parley.example',
      coalesceMs: 5000,
      concurrency: 4,
      maxQueued: 16,
      timeoutMs: 2000,
      ttlSeconds: 60,
      subscriptions: async ([d]) => {
        const i = Number(d?.split('-')[1]);
        return [{ deviceId: d as DeviceId, endpoint: endpoints[i] as string, ...browser }];
      },
      forget: async () => false,
      logger: createLogger('warn', sink),
      allowLocalHttp: false,
    });
    try {
      notifier.notify(endpoints.map((_, i) => device(i)));
      await notifier.settled();
      assert.equal(notifier.counters.failed, endpoints.length);
      assert.equal(notifier.counters.sent, 0);
      assert.equal(connections, 0, 'no connection was made to the local listener');
      assert.equal(logged.filter((l) => l.includes('non_public_address')).length, endpoints.length, 'each refused for its address, not for another reason');
      assert.ok(!logged.some((l) => l.includes(String(port)) || l.includes('localhost')), 'the log names no endpoint');
    } finally {
      await notifier.close();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    }
  });
});
