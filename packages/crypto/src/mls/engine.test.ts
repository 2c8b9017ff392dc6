import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isMlsGroupInfo, isMlsKeyPackage, isMlsWelcome, readMlsFraming, toBase64Url, toHex } from '@parley/protocol';
import type { DeviceId, UserId } from '@parley/protocol';
import { CredentialRejectedError } from '../authentication.js';
import type { DeviceDirectory } from '../authentication.js';
import { createDeviceIdentity, generateDeviceKey } from '../identity.js';
import type { DeviceIdentity } from '../identity.js';
import { newGroupId, TsMlsEngine } from './engine.js';
import type { CommitResult, GeneratedKeyPackage, IncomingResult, MlsGroup } from './engine.js';
import { MlsOperationError } from './errors.js';
import type { MlsErrorCode } from './errors.js';

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);
const serverId = () => toBase64Url(crypto.getRandomValues(new Uint8Array(16)));

/** The server's device list, as the client would mirror it: (user, device) → signature key. */
class Directory {
  private readonly keys = new Map<string, string>();
  add(id: DeviceIdentity): this {
    this.keys.set(`${id.userId}/${id.deviceId}`, toHex(id.signaturePublicKey));
    return this;
  }
  remove(id: DeviceIdentity): this {
    this.keys.delete(`${id.userId}/${id.deviceId}`);
    return this;
  }
  readonly lookup: DeviceDirectory = (userId, deviceId, key) => this.keys.get(`${userId}/${deviceId}`) === toHex(key);
}

interface Device {
  name: string;
  identity: DeviceIdentity;
  engine: TsMlsEngine;
  directory: Directory;
  keyPackages: Map<string, Uint8Array>;
}

async function newIdentity(userId: UserId = serverId() as UserId): Promise<DeviceIdentity> {
  return createDeviceIdentity(await generateDeviceKey(), { userId, deviceId: serverId() as DeviceId });
}

async function newDevice(name: string, directory = new Directory(), identity?: DeviceIdentity): Promise<Device> {
  const id = identity ?? (await newIdentity());
  directory.add(id);
  return { name, identity: id, engine: await TsMlsEngine.create({ identity: id, directory: directory.lookup }), directory, keyPackages: new Map() };
}

/** Generates a key package, keeps its private bundle in the device's "store", returns the public bytes. */
async function keyPackageOf(device: Device, lastResort = false): Promise<Uint8Array> {
  const [kp] = await device.engine.generateKeyPackages(1, { lastResort });
  assert.ok(kp);
  device.keyPackages.set(kp.ref, kp.privateBundle);
  return kp.keyPackage;
}

async function join(device: Device, commit: CommitResult, via: 'groupInfo' | 'ratchetTree' = 'groupInfo'): Promise<MlsGroup> {
  assert.ok(commit.welcome);
  const source = via === 'groupInfo' ? { welcome: commit.welcome, groupInfo: commit.groupInfo } : { welcome: commit.welcome, ratchetTree: commit.ratchetTree };
  const { group } = await device.engine.joinFromWelcome(source, (ref) => device.keyPackages.get(ref));
  return group;
}

async function rejectsWith(p: Promise<unknown>, code: MlsErrorCode): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof MlsOperationError, `expected MlsOperationError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

function asApplication(r: IncomingResult) {
  assert.equal(r.kind, 'application');
  if (r.kind !== 'application') throw new Error('unreachable');
  return r;
}

function asCommit(r: IncomingResult) {
  assert.equal(r.kind, 'commit');
  if (r.kind !== 'commit') throw new Error('unreachable');
  return r;
}

function assertFraming(bytes: Uint8Array, group: MlsGroup, epoch: bigint, contentType: 'application' | 'proposal' | 'commit') {
  const f = readMlsFraming(bytes);
  assert.deepEqual(f.groupId, group.groupId);
  assert.equal(f.epoch, epoch);
  assert.equal(f.contentType, contentType);
  assert.equal(f.wireFormat, 'private_message');
}

/** Alice, Bob and Carol, each with one device, sharing one directory; Alice's group with all three. */
async function threeDeviceGroup() {
  const directory = new Directory();
  const alice = await newDevice('alice', directory);
  const bob = await newDevice('bob', directory);
  const carol = await newDevice('carol', directory);
  const groupId = newGroupId();
  const a = await alice.engine.createGroup(groupId);
  const added = await a.addMembers([await keyPackageOf(bob), await keyPackageOf(carol)]);
  await a.confirmCommit();
  const b = await join(bob, added, 'groupInfo');
  const c = await join(carol, added, 'ratchetTree');
  return { directory, alice, bob, carol, a, b, c, added };
}

describe('MLS engine (ts-mls)', () => {
  it('key packages are MLS key packages naming the device, with lifetime and last-resort flag', async () => {
    const alice = await newDevice('alice');
    const kps = await alice.engine.generateKeyPackages(3);
    const [lastResort] = await alice.engine.generateKeyPackages(1, { lastResort: true });
    assert.equal(kps.length, 3);
    assert.ok(lastResort);
    assert.equal(new Set(kps.map((k) => k.ref)).size, 3);
    for (const kp of [...kps, lastResort] as GeneratedKeyPackage[]) {
      assert.ok(isMlsKeyPackage(kp.keyPackage));
      assert.equal(kp.ciphersuite, 1);
      const info = await alice.engine.inspectKeyPackage(kp.keyPackage);
      assert.equal(info.userId, alice.identity.userId);
      assert.equal(info.deviceId, alice.identity.deviceId);
      assert.equal(info.ref, kp.ref);
      assert.equal(info.lastResort, kp.lastResort);
      assert.deepEqual(info.signaturePublicKey, alice.identity.signaturePublicKey);
      const days = (info.expiresAt - Date.now() / 1000) / 86400;
      assert.ok(days > 89 && days <= 90, `expires in ${days} days`);
    }
    assert.equal(lastResort.lastResort, true);
    // A flipped byte breaks the signature.
    const tampered = kps[0]?.keyPackage.slice() ?? new Uint8Array();
    tampered[tampered.length - 10] = (tampered[tampered.length - 10] ?? 0) ^ 1;
    await rejectsWith(alice.engine.inspectKeyPackage(tampered), 'invalid_key_package');
  });

  it('runs a 3-device group: create, add two, talk both ways, remove one', async () => {
    const { alice, bob, carol, a, b, c, added } = await threeDeviceGroup();

    // What the server needs is readable from the framing alone.
    assertFraming(added.commit, a, 0n, 'commit');
    assert.ok(added.welcome && isMlsWelcome(added.welcome));
    assert.ok(isMlsGroupInfo(added.groupInfo));
    assert.equal(added.epoch, 1n);
    assert.deepEqual(added.devices.map((d) => d.deviceId).sort(), [alice, bob, carol].map((d) => d.identity.deviceId).sort());
    assert.deepEqual(added.added.map((d) => d.deviceId).sort(), [bob, carol].map((d) => d.identity.deviceId).sort());

    assert.equal(a.epoch, 1n);
    assert.equal(b.epoch, 1n);
    assert.equal(c.epoch, 1n);
    assert.deepEqual(b.groupId, a.groupId);
    assert.equal(b.memberDevices().length, 3);

    // Alice → Bob, Carol
    const m1 = await a.encrypt(text('hello from alice'));
    assertFraming(m1, a, 1n, 'application');
    for (const g of [b, c]) {
      const r = asApplication(await g.processIncoming(m1));
      assert.equal(str(r.plaintext), 'hello from alice');
      assert.equal(r.sender.deviceId, alice.identity.deviceId);
      assert.equal(r.sender.userId, alice.identity.userId);
    }
    // Bob → Alice, Carol; Carol → Alice, Bob
    const m2 = await b.encrypt(text('hi, bob here'));
    const m3 = await c.encrypt(text('and carol'));
    assert.equal(str(asApplication(await a.processIncoming(m2)).plaintext), 'hi, bob here');
    assert.equal(asApplication(await c.processIncoming(m2)).sender.deviceId, bob.identity.deviceId);
    assert.equal(str(asApplication(await a.processIncoming(m3)).plaintext), 'and carol');
    assert.equal(str(asApplication(await b.processIncoming(m3)).plaintext), 'and carol');
    // Ciphertext hides the plaintext.
    assert.ok(!toHex(m1).includes(toHex(text('hello from alice'))));
    // An echo of our own message is recognised, not mistaken for someone else's.
    await rejectsWith(a.processIncoming(m1), 'own_message');

    // Alice removes Carol.
    const removal = await a.removeMembers([carol.identity.deviceId]);
    assertFraming(removal.commit, a, 1n, 'commit');
    assert.equal(removal.welcome, undefined);
    assert.deepEqual(removal.removed.map((d) => d.deviceId), [carol.identity.deviceId]);
    assert.equal(removal.devices.length, 2);
    assert.equal(a.epoch, 1n, 'a commit stays pending until confirmed');
    const ownEcho = asCommit(await a.processIncoming(removal.commit));
    assert.equal(ownEcho.own, true);
    assert.equal(a.epoch, 2n);

    const atBob = asCommit(await b.processIncoming(removal.commit));
    assert.equal(atBob.epoch, 2n);
    assert.deepEqual(atBob.removed.map((d) => d.deviceId), [carol.identity.deviceId]);
    assert.equal(atBob.committer?.deviceId, alice.identity.deviceId);
    assert.deepEqual(atBob.devices.map((d) => d.deviceId).sort(), [alice, bob].map((d) => d.identity.deviceId).sort());

    const carolState = c.serialize(); // before she learns of her removal
    const atCarol = await c.processIncoming(removal.commit);
    assert.equal(atCarol.kind, 'removed');
    assert.equal(c.active, false);

    // New messages: Bob reads them, Carol cannot.
    const m4 = await a.encrypt(text('carol is gone'));
    assertFraming(m4, a, 2n, 'application');
    assert.equal(str(asApplication(await b.processIncoming(m4)).plaintext), 'carol is gone');
    await rejectsWith(c.processIncoming(m4), 'not_member');
    await rejectsWith(c.encrypt(text('still here?')), 'not_member');
    // Not even with her state from before the removal: she has no key for the new epoch.
    const carolBefore = await carol.engine.loadGroup(carolState);
    await rejectsWith(carolBefore.processIncoming(m4), 'future_epoch');
    // Flipping the epoch in the framing does not help either: the keys are wrong.
    const forged = m4.slice();
    const epochOffset = 4 + 1 + a.groupId.length + 7;
    forged[epochOffset] = 1;
    await assert.rejects(carolBefore.processIncoming(forged), MlsOperationError);
  });

  it('handles two commits for the same epoch: first wins, the loser is rejected and retried', async () => {
    const { a, b, c } = await threeDeviceGroup();
    const fromAlice = await a.selfUpdate();
    const fromBob = await b.selfUpdate();
    assertFraming(fromAlice.commit, a, 1n, 'commit');
    assertFraming(fromBob.commit, b, 1n, 'commit');
    assert.equal(b.hasPendingCommit, true);
    await rejectsWith(b.selfUpdate(), 'pending_commit');

    // The server sequences Alice's commit first.
    assert.equal(asCommit(await a.processIncoming(fromAlice.commit)).own, true);
    asCommit(await c.processIncoming(fromAlice.commit));
    const atBob = asCommit(await b.processIncoming(fromAlice.commit));
    assert.equal(atBob.discardedPendingCommit, true);
    assert.equal(b.hasPendingCommit, false);
    for (const g of [a, b, c]) assert.equal(g.epoch, 2n);

    // Bob's commit, delivered anyway, is for an epoch everyone has left.
    await rejectsWith(c.processIncoming(fromBob.commit), 'stale_epoch');
    await rejectsWith(a.processIncoming(fromBob.commit), 'stale_epoch');

    // Bob retries on the new epoch.
    const retry = await b.selfUpdate();
    assertFraming(retry.commit, b, 2n, 'commit');
    await b.confirmCommit();
    asCommit(await a.processIncoming(retry.commit));
    asCommit(await c.processIncoming(retry.commit));
    const m = await c.encrypt(text('after the race'));
    assert.equal(str(asApplication(await a.processIncoming(m)).plaintext), 'after the race');
    assert.equal(str(asApplication(await b.processIncoming(m)).plaintext), 'after the race');
  });

  it('reads an application message sent just before a commit, after applying the commit', async () => {
    const { a, b, c } = await threeDeviceGroup();
    const late = await b.encrypt(text('sent in epoch 1'));
    const commit = await a.selfUpdate();
    const lateFromAlice = await a.encrypt(text('alice, epoch 1, commit pending'));
    await a.confirmCommit();
    asCommit(await c.processIncoming(commit.commit));
    asCommit(await b.processIncoming(commit.commit));
    assert.equal(c.epoch, 2n);
    const r = asApplication(await c.processIncoming(late));
    assert.equal(r.epoch, 1n);
    assert.equal(str(r.plaintext), 'sent in epoch 1');
    assert.equal(str(asApplication(await a.processIncoming(late)).plaintext), 'sent in epoch 1');
    assert.equal(str(asApplication(await b.processIncoming(lateFromAlice)).plaintext), 'alice, epoch 1, commit pending');
    // A replay of a message already read does not decrypt again.
    await assert.rejects(c.processIncoming(late), MlsOperationError);
  });

  it('stores proposals, blocks sending until they are committed, and commits a leave', async () => {
    const { a, b, c, carol } = await threeDeviceGroup();
    const leave = await c.proposeLeave();
    assertFraming(leave, c, 1n, 'proposal');
    for (const g of [a, b]) {
      const r = await g.processIncoming(leave);
      assert.equal(r.kind, 'proposal');
      if (r.kind === 'proposal') {
        assert.equal(r.proposal, 'remove');
        assert.equal(r.sender.deviceId, carol.identity.deviceId);
      }
      assert.equal(g.hasPendingProposals, true);
    }
    await rejectsWith(a.encrypt(text('not yet')), 'pending_proposals');
    const commit = await a.selfUpdate();
    assert.deepEqual(commit.removed.map((d) => d.deviceId), [carol.identity.deviceId]);
    await a.confirmCommit();
    assert.deepEqual(asCommit(await b.processIncoming(commit.commit)).removed.map((d) => d.deviceId), [carol.identity.deviceId]);
    assert.equal((await c.processIncoming(commit.commit)).kind, 'removed');
    const m = await a.encrypt(text('bye carol'));
    assert.equal(str(asApplication(await b.processIncoming(m)).plaintext), 'bye carol');
  });

  it('tells a joiner who signed its Welcome (the committer), not the group creator', async () => {
    const { directory, alice, bob, a, b } = await threeDeviceGroup();
    const dave = await newDevice('dave', directory);
    // Bob (not leaf 0) adds Dave: Dave's inviter is Bob, whichever way the tree reaches Dave.
    const added = await b.addMembers([await keyPackageOf(dave)]);
    await b.confirmCommit();
    await a.processIncoming(added.commit);
    assert.ok(added.welcome);
    for (const source of [{ welcome: added.welcome, groupInfo: added.groupInfo }, { welcome: added.welcome, ratchetTree: added.ratchetTree }]) {
      const joined = await dave.engine.joinFromWelcome(source, (ref) => dave.keyPackages.get(ref));
      assert.equal(joined.inviter?.deviceId, bob.identity.deviceId);
      assert.notEqual(joined.inviter?.deviceId, alice.identity.deviceId);
    }
  });

  it('joins from a Welcome only with the ratchet tree supplied separately, and checks that tree', async () => {
    const directory = new Directory();
    const alice = await newDevice('alice', directory);
    const bob = await newDevice('bob', directory);
    const dave = await newDevice('dave', directory);
    const a = await alice.engine.createGroup(newGroupId());
    const first = await a.addMembers([await keyPackageOf(bob, true)]);
    await a.confirmCommit();
    assert.ok(first.welcome);

    // The Welcome alone is not enough: the tree is not inlined.
    await rejectsWith(bob.engine.joinFromWelcome({ welcome: first.welcome }, (ref) => bob.keyPackages.get(ref)), 'invalid_ratchet_tree');
    // A key package we do not hold.
    await rejectsWith(bob.engine.joinFromWelcome({ welcome: first.welcome, groupInfo: first.groupInfo }, () => undefined), 'welcome_not_for_us');

    // Another group's tree does not match the Welcome's tree hash.
    const other = await alice.engine.createGroup(newGroupId());
    const otherCommit = await other.addMembers([await keyPackageOf(dave)]);
    await rejectsWith(bob.engine.joinFromWelcome({ welcome: first.welcome, ratchetTree: otherCommit.ratchetTree }, (ref) => bob.keyPackages.get(ref)), 'invalid_ratchet_tree');

    const joined = await bob.engine.joinFromWelcome({ welcome: first.welcome, ratchetTree: first.ratchetTree }, (ref) => bob.keyPackages.get(ref));
    assert.equal(joined.lastResort, true);
    assert.ok(bob.keyPackages.has(joined.keyPackageRef));
    assert.equal(joined.group.epoch, 1n);
    const m = await joined.group.encrypt(text('joined'));
    assert.equal(str(asApplication(await a.processIncoming(m)).plaintext), 'joined');
  });

  it('serialises state (tree apart from secrets), restores it, and continues', async () => {
    const { alice, bob, a, b } = await threeDeviceGroup();
    const saved = b.serialize();
    assert.ok(saved.secrets.length > 0 && saved.ratchetTree.length > 0);
    // The tree is not inside the secrets blob.
    assert.ok(!toHex(saved.secrets).includes(toHex(saved.ratchetTree)));
    const b2 = await bob.engine.loadGroup(saved);
    assert.equal(b2.epoch, 1n);
    assert.deepEqual(b2.groupId, b.groupId);
    assert.equal(b2.memberDevices().length, 3);

    const m1 = await a.encrypt(text('to the restored bob'));
    assert.equal(str(asApplication(await b2.processIncoming(m1)).plaintext), 'to the restored bob');
    const m2 = await b2.encrypt(text('restored bob speaks'));
    assert.equal(str(asApplication(await a.processIncoming(m2)).plaintext), 'restored bob speaks');

    // A pending commit survives a restart and merges when it comes back from the server.
    const commit = await b2.selfUpdate();
    const b3 = await bob.engine.loadGroup(b2.serialize());
    assert.equal(b3.hasPendingCommit, true);
    assert.equal(asCommit(await b3.processIncoming(commit.commit)).own, true);
    asCommit(await a.processIncoming(commit.commit));
    const m3 = await a.encrypt(text('epoch 2'));
    assert.equal(str(asApplication(await b3.processIncoming(m3)).plaintext), 'epoch 2');

    // Wrong tree for these secrets, another identity's engine, garbage.
    await rejectsWith(bob.engine.loadGroup({ secrets: b3.serialize().secrets, ratchetTree: saved.ratchetTree }), 'invalid_ratchet_tree');
    await rejectsWith(alice.engine.loadGroup(b3.serialize()), 'invalid_state');
    await rejectsWith(bob.engine.loadGroup({ secrets: Uint8Array.of(1, 2, 3), ratchetTree: saved.ratchetTree }), 'invalid_state');
  });

  it('rejects credentials that are not in the device directory, with a typed error', async () => {
    const { alice, a, b } = await threeDeviceGroup();
    const mallory = await newDevice('mallory');
    const shared = alice.directory;
    const kp = await keyPackageOf(mallory);

    // Committer side: unknown device.
    await assert.rejects(a.addMembers([kp]), (err: unknown) => {
      assert.ok(err instanceof CredentialRejectedError);
      assert.equal(err.reason, 'unknown_device');
      assert.equal(err.device?.deviceId, mallory.identity.deviceId);
      return true;
    });
    assert.equal(a.hasPendingCommit, false);
    assert.equal(a.epoch, 1n);

    // A key that does not match the directory's key for that device.
    shared.add(mallory.identity);
    const impostorId = createDeviceIdentity(await generateDeviceKey(), { userId: mallory.identity.userId, deviceId: mallory.identity.deviceId });
    const impostor = await newDevice('impostor', new Directory(), impostorId);
    await assert.rejects(a.addMembers([await keyPackageOf(impostor)]), (err: unknown) => err instanceof CredentialRejectedError && err.reason === 'unknown_device');
    assert.equal(a.hasPendingCommit, false);

    // Receiver side: a commit adding a device the receiver's directory does not list.
    // Alice's view (the shared directory) now lists Mallory...
    const add = await a.addMembers([kp]);
    await a.confirmCommit();
    shared.remove(mallory.identity); // ...but by the time Bob looks, the server no longer lists her.
    await assert.rejects(b.processIncoming(add.commit), (err: unknown) => err instanceof CredentialRejectedError && err.reason === 'unknown_device');
    assert.equal(b.epoch, 1n, 'state is unchanged after a rejection');

    // Joiner side: every leaf in the tree is checked.
    shared.add(mallory.identity);
    const erin = await newDevice('erin', new Directory()); // Erin's directory knows only herself...
    shared.add(erin.identity); // ...while Alice's lists Erin too.
    const addErin = await a.addMembers([await keyPackageOf(erin)]);
    await a.confirmCommit();
    await assert.rejects(join(erin, addErin), (err: unknown) => err instanceof CredentialRejectedError && err.reason === 'unknown_device');
  });

  it('removes and adds in one commit (a user who started over), which every member sees as one change', async () => {
    const { directory, bob, carol, a, b, c } = await threeDeviceGroup();
    // Carol starts over: a new device (new key) replaces the old one.
    const carolNew = await newDevice('carol-new', directory, await newIdentity(carol.identity.userId));
    const change = await a.changeMembers({ remove: [carol.identity.deviceId], add: [await keyPackageOf(carolNew)] });
    assert.deepEqual(change.removed.map((d) => d.deviceId), [carol.identity.deviceId]);
    assert.deepEqual(change.added.map((d) => d.deviceId), [carolNew.identity.deviceId]);
    await a.confirmCommit();
    const atBob = asCommit(await b.processIncoming(change.commit));
    assert.deepEqual(atBob.removed.map((d) => d.deviceId), [carol.identity.deviceId]);
    assert.deepEqual(atBob.added.map((d) => d.deviceId), [carolNew.identity.deviceId]);
    assert.equal((await c.processIncoming(change.commit)).kind, 'removed');
    const cNew = await join(carolNew, change);
    assert.equal(str(asApplication(await cNew.processIncoming(await b.encrypt(text('welcome back')))).plaintext), 'welcome back');
    assert.equal(str(asApplication(await a.processIncoming(await cNew.encrypt(text('hi again')))).plaintext), 'hi again');

    // The same device id may come back with a new key in the same commit, never twice.
    const bobAgain = await newDevice('bob-rekeyed', directory, createDeviceIdentity(await generateDeviceKey(), { userId: bob.identity.userId, deviceId: bob.identity.deviceId }));
    const rekey = await a.changeMembers({ remove: [bob.identity.deviceId], add: [await keyPackageOf(bobAgain)] });
    assert.deepEqual(rekey.devices.filter((d) => d.deviceId === bob.identity.deviceId).length, 1);
    a.discardPendingCommit();
    await rejectsWith(a.changeMembers({ add: [await keyPackageOf(bobAgain)] }), 'membership');
    await assert.rejects(a.changeMembers({}), RangeError);
    assert.equal(a.hasPendingCommit, false);
  });

  it('refuses membership changes that make no sense, and messages for other groups', async () => {
    const { alice, bob, a, b } = await threeDeviceGroup();
    await rejectsWith(a.addMembers([await keyPackageOf(bob)]), 'membership');
    await rejectsWith(a.removeMembers([serverId() as DeviceId]), 'membership');
    await rejectsWith(a.removeMembers([alice.identity.deviceId]), 'membership');
    assert.equal(a.hasPendingCommit, false);
    await assert.rejects(a.confirmCommit(), (err: unknown) => err instanceof MlsOperationError && err.code === 'no_pending_commit');

    const other = await alice.engine.createGroup(newGroupId());
    const elsewhere = await other.encrypt(text('wrong room'));
    await rejectsWith(b.processIncoming(elsewhere), 'wrong_group');
    // A Welcome is not a group message.
    const invite = await other.addMembers([await keyPackageOf(await newDevice('dave', alice.directory))]);
    assert.ok(invite.welcome);
    await rejectsWith(b.processIncoming(invite.welcome), 'malformed_message');
  });

  it('throws only typed errors for arbitrary input', async () => {
    const { a } = await threeDeviceGroup();
    const m = await a.encrypt(text('x'));
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: m.length - 1 }).map((i) => {
        const t = m.slice();
        t[i] = (t[i] ?? 0) ^ 0x55;
        return t;
      })), async (bytes) => {
        try {
          await a.processIncoming(bytes);
        } catch (err) {
          assert.ok(err instanceof MlsOperationError, String(err));
        }
      }),
      { numRuns: 150 },
    );
    assert.equal(a.epoch, 1n);
  });
});
