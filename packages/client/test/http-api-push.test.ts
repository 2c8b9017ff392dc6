import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { fromBase64Url, toBase64Url } from '@parley/protocol';
import { ClientError } from '../src/errors.js';
import { HttpApi } from '../src/transport/http-api.js';
import { TestNetwork } from '../../server/test/helpers/test-network.js';

/** The Web Push calls of HttpApi against a real server (the web app's subscription flow will build on them). */
describe('HttpApi: Web Push subscription', () => {
  it('reads the VAPID key, registers, replaces and deletes the subscription; a bad one is refused, typed', async () => {
    await using net = await TestNetwork.start();
    const alice = await net.register();
    const api = new HttpApi(net.url);
    api.token = alice.token;

    const key = await api.pushVapidKey();
    assert.equal(fromBase64Url(key)?.length, 65);
    assert.equal(await api.pushVapidKey(), key, 'one key per server');

    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const keys = { p256dh: toBase64Url(ecdh.getPublicKey()), auth: toBase64Url(randomBytes(16)) };
    await api.putPushSubscription({ endpoint: 'https://push.example/send/one', keys });
    await api.putPushSubscription({ endpoint: 'https://push.example/send/two', keys });
    assert.deepEqual((await net.ctx.storage.pushSubscriptions([alice.deviceId])).map((s) => s.endpoint), ['https://push.example/send/two']);
    await assert.rejects(api.putPushSubscription({ endpoint: 'http://push.example/x', keys }), (err) => err instanceof ClientError && err.code === 'bad_request');
    await assert.rejects(api.putPushSubscription({ endpoint: 'https://push.example/x', keys: { ...keys, auth: 'short' } }), (err) => err instanceof ClientError && err.code === 'bad_request');

    await api.deletePushSubscription();
    assert.deepEqual(await net.ctx.storage.pushSubscriptions([alice.deviceId]), []);
    await api.deletePushSubscription();
  });
});
