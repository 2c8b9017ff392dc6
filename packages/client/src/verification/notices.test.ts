import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MemberDevice } from '@parley/crypto';
import { toBase64Url } from '@parley/protocol';
import type { DeviceId, UserId } from '@parley/protocol';
import { safetyNumberNotices } from './notices.js';

const id = () => toBase64Url(crypto.getRandomValues(new Uint8Array(16)));
let leaf = 0;
const device = (userId: UserId): MemberDevice => ({ userId, deviceId: id() as DeviceId, signaturePublicKey: crypto.getRandomValues(new Uint8Array(32)), leafIndex: leaf++ });
const me = id() as UserId;
const bob = id() as UserId;
const carol = id() as UserId;
const name = (u: UserId) => (u === bob ? 'bob' : u === carol ? 'carol' : null);

describe('safety-number notices', () => {
  it('one notice per other user whose devices changed while staying a member; reset when all were replaced', () => {
    const mine = device(me);
    const [bob1, bob2, bobNew] = [device(bob), device(bob), device(bob)];
    const carol1 = device(carol);
    // bob adds a device
    assert.deepEqual(safetyNumberNotices(me, { devices: [mine, bob1, bob2], added: [bob2], removed: [] }, name), [
      { kind: 'safety_number_changed', userId: bob, username: 'bob', added: 1, removed: 0, reset: false },
    ]);
    // bob loses one of two devices
    assert.deepEqual(safetyNumberNotices(me, { devices: [mine, bob1], added: [], removed: [bob2] }, name), [
      { kind: 'safety_number_changed', userId: bob, username: 'bob', added: 0, removed: 1, reset: false },
    ]);
    // bob started over: both old devices out, a new one in, one commit
    assert.deepEqual(safetyNumberNotices(me, { devices: [mine, bobNew, carol1], added: [bobNew], removed: [bob1, bob2] }, name), [
      { kind: 'safety_number_changed', userId: bob, username: 'bob', added: 1, removed: 2, reset: true },
    ]);
    // a device replaced under the same id counts as removed + added (the key is the identity)
    const rekeyed = { ...bob1, signaturePublicKey: crypto.getRandomValues(new Uint8Array(32)) };
    assert.deepEqual(safetyNumberNotices(me, { devices: [mine, rekeyed, bob2], added: [rekeyed], removed: [bob1] }, name), [
      { kind: 'safety_number_changed', userId: bob, username: 'bob', added: 1, removed: 1, reset: false },
    ]);
  });

  it('no notice for a user joining or leaving as a whole, nor for this user\'s own devices', () => {
    const mine = device(me);
    const mine2 = device(me);
    const [bob1, carol1] = [device(bob), device(carol)];
    assert.deepEqual(safetyNumberNotices(me, { devices: [mine, bob1, carol1], added: [carol1], removed: [] }, name), [], 'carol joins');
    assert.deepEqual(safetyNumberNotices(me, { devices: [mine, bob1], added: [], removed: [carol1] }, name), [], 'carol leaves');
    assert.deepEqual(safetyNumberNotices(me, { devices: [mine, mine2, bob1], added: [mine2], removed: [] }, name), [], 'my new device');
    // Two users changed in one commit: two notices.
    const [bob2, carol2] = [device(bob), device(carol)];
    assert.equal(safetyNumberNotices(me, { devices: [mine, bob1, bob2, carol1, carol2], added: [bob2, carol2], removed: [] }, name).length, 2);
  });
});
