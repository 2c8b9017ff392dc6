import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { fromBase64Url, toBase64Url } from '@parley/protocol';
import { ClientError } from '../src/index.js';
import { ClientNetwork } from './helpers/network.js';

const isCode = (code: string) => (err: unknown) => err instanceof ClientError && err.code === code;

function keys() {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { p256dh: toBase64Url(ecdh.getPublicKey()), auth: toBase64Url(randomBytes(16)) };
}

/** client.push: the web app's subscription flow, against a real server. */
describe('client.push', () => {
  it('reads the VAPID key, subscribes and unsubscribes this device; a bad subscription is refused before anything is sent', async () => {
    const net = await ClientNetwork.start();
    try {
      const { client } = await net.user();
      const key = await client.push.vapidKey();
      assert.equal(fromBase64Url(key)?.length, 65);

      const k = keys();
      await client.push.subscribe({ endpoint: 'https://push.example/send/abc', keys: k });
      await client.push.subscribe({ endpoint: 'https://push.example/send/def', keys: k });
      const stored = () => net.server.ctx.storage.pushSubscriptions([client.deviceId ?? assert.fail('signed in')]);
      assert.deepEqual((await stored()).map((s) => [s.endpoint, s.p256dh, s.auth]), [['https://push.example/send/def', k.p256dh, k.auth]], 'one per device, replaced');
      await client.push.unsubscribe();
      assert.deepEqual(await stored(), []);
      await client.push.unsubscribe();

      for (const bad of [
        { endpoint: 'not a url', keys: k },
        { endpoint: 'https://push.example/x', keys: { ...k, auth: 'short' } },
        // 65 bytes that are no uncompressed point (those start with 0x04; random bytes would, one time in 256).
        { endpoint: 'https://push.example/x', keys: { ...k, p256dh: toBase64Url(Uint8Array.of(0x05, ...randomBytes(64))) } },
        { endpoint: 'https://push.example/x' } as never,
        null as never,
      ]) {
        await assert.rejects(client.push.subscribe(bad), (err: unknown) => isCode('bad_request')(err) && !String((err as Error).message).includes('push.example'));
      }
      // The server's own rule (https of a named host) comes back typed too.
      await assert.rejects(client.push.subscribe({ endpoint: 'http://push.example/x', keys: k }), isCode('bad_request'));

      await client.close();
      await assert.rejects(client.push.vapidKey(), isCode('closed'));
      const fresh = await net.client();
      await assert.rejects(fresh.push.subscribe({ endpoint: 'https://push.example/x', keys: k }), isCode('not_logged_in'));
      await fresh.close();
    } finally {
      await net.close();
    }
  });
});
