import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import webpush from 'web-push';
import type { DeviceId } from '@parley/protocol';
import { NatsBus } from '../src/bus/nats/nats-bus.js';
import { createLogger } from '../src/logger.js';
import { PushNotifier } from '../src/push/notifier.js';

const NATS_URL = process.env['PARLEY_TEST_NATS_URL'] ?? process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';

/**
 * Web Push in a cluster: process A stores a message for a device that is
 * connected to process B. A asks NATS (a presence probe on the device's
 * subject) and sends no wake-up; once the device is gone from B, A sends one.
 */
describe('push in a cluster (real NATS)', () => {
  it('sends no wake-up to a device connected to another process, and one once it is gone', async () => {
    let received = 0;
    const service = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        received++;
        res.writeHead(201).end();
      });
    });
    await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(service.address() as AddressInfo).port}/push/x`;
    const a = await NatsBus.connect(NATS_URL, 'parley-test-push-a');
    const b = await NatsBus.connect(NATS_URL, 'parley-test-push-b');
    const device = randomBytes(16).toString('base64url') as DeviceId;
    const keys = { p256dh: createECDH('prime256v1').generateKeys().toString('base64url'), auth: randomBytes(16).toString('base64url') };
    const vapid = webpush.generateVAPIDKeys();
    const notifier = new PushNotifier({
      vapid: () => vapid,
      subject: 'mailto:ops@parley.example',
      coalesceMs: 0,
      concurrency: 4,
      maxQueued: 16,
      timeoutMs: 2000,
      ttlSeconds: 60,
      subscriptions: async () => [{ deviceId: device, endpoint, ...keys }],
      forget: async () => false,
      connectedAnywhere: (d) => a.connected(d),
      logger: createLogger('silent'),
      allowLocalHttp: true,
    });
    try {
      // connected to process B (its live listener), not to A
      const sub = await b.subscribe(device, () => undefined);
      await b.health();
      notifier.notify([device]);
      await notifier.settled();
      assert.equal(notifier.counters.live, 1);
      assert.equal(notifier.counters.sent, 0);
      assert.equal(received, 0, 'no wake-up while it is connected elsewhere');

      // disconnected everywhere: the next message wakes it
      await sub.unsubscribe();
      await b.health();
      notifier.notify([device]);
      await notifier.settled();
      assert.equal(notifier.counters.sent, 1);
      assert.equal(received, 1);
    } finally {
      await notifier.close();
      await a.close();
      await b.close();
      await new Promise<void>((resolve) => service.close(() => resolve()));
    }
  });
});
