import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { DEFAULT_CIPHERSUITE, generateAccountKey, generateDeviceKey, signWithDevice } from '@parley/crypto';
import type { MemberDevice, MlsGroup } from '@parley/crypto';
import { linkApprovalMessage } from '@parley/protocol';
import type { DeviceId, UserId } from '@parley/protocol';
import type { DirectoryDevice, DirectoryUser } from '../directory/device-directory.js';
import { ClientError } from '../errors.js';
import { MemoryStore } from '../store/memory-store.js';
import { ClientRepository, StoreBatch } from '../store/records.js';
import { SelfGroup } from './self-group.js';
import type { SelfGroupOps } from './self-group.js';
import { encodeSelfMessage } from './self-messages.js';

const me = { userId: randomBytes(16).toString('base64url') as UserId, username: 'alice', deviceId: randomBytes(16).toString('base64url') as DeviceId };
const newId = () => randomBytes(16).toString('base64url') as DeviceId;

function member(deviceId: DeviceId, userId: UserId = me.userId): MemberDevice {
  return { userId, deviceId, signaturePublicKey: new Uint8Array(32), leafIndex: 0 };
}

function groupOf(members: MemberDevice[]): MlsGroup {
  return { memberDevices: () => members, active: true } as unknown as MlsGroup;
}

/** A SelfGroup over a memory store, a directory entry for `me`, and no network. */
function selfGroup(directory: DirectoryUser, reports: Error[] = []): { self: SelfGroup; repo: ClientRepository; changed: boolean[] } {
  const repo = new ClientRepository(new MemoryStore());
  const changed: boolean[] = [];
  const ops: SelfGroupOps = {
    me,
    ciphersuite: DEFAULT_CIPHERSUITE,
    api: {
      createGroup: () => Promise.reject(new Error('no network here')),
      group: () => Promise.reject(new Error('no network here')),
    },
    repo,
    engine: { createGroup: () => Promise.reject(new Error('not in this test')) },
    isReady: () => true,
    isClosed: () => false,
    withLock: (_id, fn) => fn(),
    loadGroup: () => Promise.resolve(groupOf([member(me.deviceId)])),
    cacheGroup: () => undefined,
    send: () => Promise.resolve(),
    lookupMe: () => Promise.resolve(directory),
    conversations: () => Promise.resolve([]),
    keysChanged: (rotated) => changed.push(rotated),
    report: (err) => reports.push(err),
  };
  return { self: new SelfGroup(ops), repo, changed };
}

/** This user's directory: `me` (registered, no approver), a device it approved, and one the server made up. */
async function directory(): Promise<{ user: DirectoryUser; approved: DeviceId; madeUp: DeviceId }> {
  const meKey = await generateDeviceKey();
  const approvedKey = await generateDeviceKey();
  const approved = newId();
  const madeUp = newId();
  const approval = await signWithDevice(meKey, linkApprovalMessage(me.userId, approved, approvedKey.signaturePublicKey));
  const devices: DirectoryDevice[] = [
    { id: me.deviceId, signatureKey: meKey.signaturePublicKey, revokedAt: null, approvedBy: null, approval: null },
    { id: approved, signatureKey: approvedKey.signaturePublicKey, revokedAt: null, approvedBy: me.deviceId, approval },
    { id: madeUp, signatureKey: (await generateDeviceKey()).signaturePublicKey, revokedAt: null, approvedBy: null, approval: null },
  ];
  return { user: { userId: me.userId, username: 'alice', devices }, approved, madeUp };
}

describe('self group', () => {
  it('accepts a Welcome only when every leaf is a trusted device of this user', async () => {
    const { user, approved, madeUp } = await directory();
    const { self } = selfGroup(user);
    assert.equal(await self.checkJoin(groupOf([member(me.deviceId), member(approved)])), undefined);
    const stranger = await self.checkJoin(groupOf([member(me.deviceId), member(newId(), randomBytes(16).toString('base64url') as UserId)]));
    assert.ok(stranger instanceof ClientError && stranger.code === 'account_key');
    const untrusted = await self.checkJoin(groupOf([member(me.deviceId), member(approved), member(madeUp)]));
    assert.ok(untrusted instanceof ClientError && untrusted.code === 'account_key');
    assert.equal(untrusted.detail?.['deviceId'], madeUp);
    assert.equal(untrusted.detail?.['reason'], 'no_approval');
  });

  it('appends only keys it does not hold, never reorders them, and takes them from its own user only', async () => {
    const { user, approved } = await directory();
    const reports: Error[] = [];
    const { self, repo, changed } = selfGroup(user, reports);
    const [k1, k2, k3] = [generateAccountKey(), generateAccountKey(), generateAccountKey()];
    const receive = async (keys: Uint8Array[], from = member(approved)) => {
      const batch = new StoreBatch();
      const then = await self.receive(batch, from, encodeSelfMessage({ kind: 'account_keys', keys }));
      await repo.commit(batch);
      then();
    };
    await receive([k1, k2]);
    assert.deepEqual((await self.keyRing()).keys, [k1, k2]);
    assert.deepEqual((await self.keyRing()).current, k2);
    // A stale sender lists the old key last: it stays where it was, k2 stays current.
    await receive([k2, k1]);
    assert.deepEqual(await repo.accountKeys(), [k1, k2]);
    await receive([k1, k3, k3]);
    assert.deepEqual(await repo.accountKeys(), [k1, k2, k3]);
    assert.deepEqual((await self.keyRing()).current, k3);
    assert.deepEqual(changed, [false, false], 'told twice: once per new key');
    // From another user, or malformed: ignored and reported.
    await receive([generateAccountKey()], member(newId(), randomBytes(16).toString('base64url') as UserId));
    const batch = new StoreBatch();
    (await self.receive(batch, member(approved), new TextEncoder().encode('{"type":"x-parley-self","v":1,"kind":"account_keys","keys":["short"]}')))();
    assert.equal(batch.writes.length, 0);
    assert.deepEqual(await repo.accountKeys(), [k1, k2, k3]);
    assert.deepEqual(
      reports.map((e) => (e as ClientError).code),
      ['account_key', 'account_key'],
    );
  });
});
