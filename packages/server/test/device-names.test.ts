import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { selfGroupId, toBase64Url } from '@parley/protocol';
import type { GroupId, UserId } from '@parley/protocol';
import { TestNetwork } from './helpers/test-network.js';
import type { TestAccount } from './helpers/test-network.js';

const put = (who: TestAccount, path: string, body: unknown) => who.net.http('PUT', path, { token: who.token, body });
const sealed = (bytes = 293) => toBase64Url(randomBytes(bytes));

describe('device names: the server stores only what the user’s devices encrypted', () => {
  it('drops a clear name an older client sends, and keeps none anywhere', async () => {
    await using net = await TestNetwork.start();
    const marker = 'Clear Name Marker 7f3a';
    const res = await net.http('POST', '/v1/accounts', { body: { username: 'alice', password: 'correct horse battery', device: { name: marker, signatureKey: toBase64Url(randomBytes(32)) } } });
    assert.equal(res.status, 201);
    const link = await net.requestLink('alice', 'correct horse battery', marker);
    const devices = await net.http('GET', '/v1/devices', { token: res.body.token as string });
    assert.deepEqual(
      (devices.body.devices as Array<{ encryptedName: unknown }>).map((d) => d.encryptedName),
      [null, null],
    );
    assert.equal('name' in devices.body.devices[0], false);
    const pending = await net.http('GET', `/v1/device-links/${link.link.code}`, { token: res.body.token as string });
    assert.equal(pending.status, 200);
    assert.equal('name' in pending.body, false);
    await net.ctx.storage.close();
    const db = readFileSync(join(net.dataDir, 'parley.db'));
    assert.equal(db.indexOf(Buffer.from(marker)), -1);
    assert.ok(!net.logs.join('\n').includes(marker));
  });

  it('PUT /v1/devices/:id/name stores opaque base64url of bounded size, for the caller’s own pending or active devices only', async () => {
    await using net = await TestNetwork.start();
    const alice = await net.register('alice');
    const bob = await net.register('bob');
    const phone = await alice.newDevice();
    const { account: tablet } = await net.requestLink('alice', alice.password);

    const mine = sealed();
    assert.equal((await put(alice, `/v1/devices/${alice.deviceId}/name`, { encryptedName: mine })).status, 204);
    // Another of the user's devices, pending ones included (a device may re-seal the names it can read).
    const theirs = sealed(512);
    assert.equal((await put(alice, `/v1/devices/${phone.deviceId}/name`, { encryptedName: theirs })).status, 204);
    assert.equal((await put(alice, `/v1/devices/${tablet.deviceId}/name`, { encryptedName: sealed(32) })).status, 204);
    const listed = new Map(((await alice.get('/v1/devices')).body.devices as Array<{ id: string; encryptedName: string | null }>).map((d) => [d.id, d.encryptedName]));
    assert.equal(listed.get(alice.deviceId), mine);
    assert.equal(listed.get(phone.deviceId), theirs);

    // Not the caller's to name: another user's device, an unknown one, a revoked one.
    assert.equal((await put(bob, `/v1/devices/${alice.deviceId}/name`, { encryptedName: sealed() })).body.code, 'not_found');
    assert.equal((await put(alice, `/v1/devices/${toBase64Url(randomBytes(16))}/name`, { encryptedName: sealed() })).body.code, 'not_found');
    assert.equal((await alice.delete(`/v1/devices/${phone.deviceId}`)).status, 204);
    assert.equal((await put(alice, `/v1/devices/${phone.deviceId}/name`, { encryptedName: sealed() })).body.code, 'not_found');
    // A pending device cannot name anything.
    assert.equal((await put(tablet, `/v1/devices/${tablet.deviceId}/name`, { encryptedName: sealed() })).body.code, 'device_pending');

    // Bad input: typed errors, nothing stored.
    for (const body of [{ encryptedName: 'Alice’s laptop' }, { encryptedName: sealed(31) }, { encryptedName: sealed(513) }, { encryptedName: `${sealed()}=` }, { encryptedName: 42 }, {}, { name: 'Alice’s laptop' }]) {
      const res = await put(alice, `/v1/devices/${alice.deviceId}/name`, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.code, 'bad_request');
    }
    assert.equal((await put(alice, '/v1/devices/not-an-id/name', { encryptedName: sealed() })).status, 400);
    const after = ((await alice.get('/v1/devices')).body.devices as Array<{ id: string; encryptedName: string | null }>).find((d) => d.id === alice.deviceId);
    assert.equal(after?.encryptedName, mine);
  });

  it('a self-group id is only its own user’s to create', async () => {
    await using net = await TestNetwork.start();
    const alice = await net.register('alice');
    const bob = await net.register('bob');
    const own = selfGroupId(alice.userId);
    assert.equal((await bob.post('/v1/groups', { groupId: own })).body.code, 'forbidden', 'nobody takes it first');
    const lookAlike = toBase64Url(new TextEncoder().encode(`parley-self-v1:${alice.userId.slice(0, 10)}`)) as GroupId;
    assert.equal((await alice.post('/v1/groups', { groupId: lookAlike })).body.code, 'forbidden', 'a malformed self-group id is nobody’s');
    assert.equal((await alice.post('/v1/groups', { groupId: own })).status, 201);
    // The race between two devices of the user: the second creation is group_exists.
    const phone = await alice.newDevice();
    assert.equal((await phone.post('/v1/groups', { groupId: own })).body.code, 'group_exists');
    assert.equal((await bob.post('/v1/groups', { groupId: selfGroupId(bob.userId as UserId) })).status, 201);
  });
});
