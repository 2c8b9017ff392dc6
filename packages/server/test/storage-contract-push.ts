import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import type { DeviceId } from '@parley/protocol';
import type { PushSubscriptionRecord, Storage } from '../src/storage/storage.js';
import { account, extraDevice, id, NOW, rejectsWith } from './storage-contract-helpers.js';

function sub(deviceId: DeviceId, host = 'push.example'): PushSubscriptionRecord {
  const key = Buffer.concat([Buffer.from([4]), randomBytes(64)]);
  return { deviceId, endpoint: `https://${host}/send/${randomBytes(24).toString('base64url')}`, p256dh: key.toString('base64url'), auth: randomBytes(16).toString('base64url') };
}

const byDevice = (a: PushSubscriptionRecord, b: PushSubscriptionRecord) => (a.deviceId < b.deviceId ? -1 : 1);

/**
 * Storage contract, part 8: Web Push subscriptions. One per device, replaced
 * by the next; deleted by the device, by a push service's "gone" only while
 * it is the same endpoint, and with the device's revocation or its account.
 */
export function pushContract(storage: () => Storage): void {
  it('keeps one subscription per device: a put replaces it; listing returns only devices that have one', async () => {
    const s = storage();
    const a = await account(s);
    const second = await extraDevice(s, a.userId);
    const b = await account(s);
    assert.deepEqual(await s.pushSubscriptions([a.deviceId, second, b.deviceId]), []);
    assert.deepEqual(await s.pushSubscriptions([]), []);

    const first = sub(a.deviceId);
    await s.putPushSubscription(first);
    assert.deepEqual(await s.pushSubscriptions([a.deviceId]), [first]);
    const replaced = sub(a.deviceId, 'other.example');
    await s.putPushSubscription(replaced);
    const ofB = sub(b.deviceId);
    await s.putPushSubscription(ofB);
    assert.deepEqual(await s.pushSubscriptions([a.deviceId]), [replaced], 'the new one replaced the old one');
    assert.deepEqual((await s.pushSubscriptions([b.deviceId, second, a.deviceId])).sort(byDevice), [replaced, ofB].sort(byDevice));
  });

  it('refuses an unknown or revoked device, storing nothing', async () => {
    const s = storage();
    const a = await account(s);
    const ghost = id() as DeviceId;
    await rejectsWith(s.putPushSubscription(sub(ghost)), 'not_found');
    const second = await extraDevice(s, a.userId);
    await s.revokeDevice(second, NOW);
    await rejectsWith(s.putPushSubscription(sub(second)), 'not_found');
    assert.deepEqual(await s.pushSubscriptions([ghost, second]), []);
  });

  it('deletes: by the device; on "gone" only while it is the same endpoint', async () => {
    const s = storage();
    const a = await account(s);
    const old = sub(a.deviceId);
    await s.putPushSubscription(old);
    const renewed = sub(a.deviceId);
    await s.putPushSubscription(renewed);
    assert.equal(await s.deletePushSubscription(a.deviceId, old.endpoint), false, 'a stale "gone" leaves the new subscription');
    assert.deepEqual(await s.pushSubscriptions([a.deviceId]), [renewed]);
    assert.equal(await s.deletePushSubscription(a.deviceId, renewed.endpoint), true);
    assert.deepEqual(await s.pushSubscriptions([a.deviceId]), []);
    await s.putPushSubscription(old);
    assert.equal(await s.deletePushSubscription(a.deviceId), true);
    assert.equal(await s.deletePushSubscription(a.deviceId), false, 'nothing left to delete');
  });

  it('goes with the device revoked and with the deleted account, through the purge', async () => {
    const s = storage();
    const a = await account(s);
    const second = await extraDevice(s, a.userId);
    const b = await account(s);
    for (const d of [a.deviceId, second, b.deviceId]) await s.putPushSubscription(sub(d));
    await s.revokeDevice(second, NOW);
    assert.deepEqual((await s.pushSubscriptions([a.deviceId, second, b.deviceId])).map((x) => x.deviceId).sort(), [a.deviceId, b.deviceId].sort());

    await s.deleteAccount(a.userId, NOW, { nameHash: randomBytes(32), until: NOW + 10 });
    assert.deepEqual((await s.pushSubscriptions([a.deviceId, b.deviceId])).map((x) => x.deviceId), [b.deviceId]);
    assert.equal((await s.sweep(NOW + 20)).accounts, 1);
    assert.equal((await s.pushSubscriptions([b.deviceId])).length, 1, "another account's subscription stays");
  });
}
