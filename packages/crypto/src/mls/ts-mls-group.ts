import { createApplicationMessage, createCommit, createProposal, emptyPskIndex, encodeMlsMessage, processPrivateMessage, zeroOutUint8Array } from 'ts-mls';
import type { CiphersuiteImpl, ClientState, IncomingMessageCallback, PrivateMessage, Proposal } from 'ts-mls';
import { encodeGroupState, encodeGroupStateWithoutTree } from 'ts-mls/clientState.js';
import { createGroupInfoWithRatchetTree } from 'ts-mls/createCommit.js';
import { decryptSenderData } from 'ts-mls/privateMessage.js';
import { encodeRatchetTree } from 'ts-mls/ratchetTree.js';
import { bytesEqual, toBase64Url } from '@parley/protocol';
import type { DeviceId } from '@parley/protocol';
import { ByteWriter } from '../byte-codec.js';
import type { CommitResult, IncomingResult, MemberDevice, MlsGroup, SerializedGroup } from './engine.js';
import { ciphersuiteId } from './suite.js';
import type { TsMlsEngine } from './ts-mls-engine.js';
import { ALLOWED_PROPOSALS, decodeMessage, diffMembers, fail, membersOf, STATE_MAGIC, STATE_VERSION, toTypedError } from './ts-mls-support.js';
import type { AuthCollector } from './ts-mls-support.js';

/**
 * One MLS group on top of ts-mls (made by TsMlsEngine: createGroup,
 * joinFromWelcome, loadGroup): commits, the pending-commit protocol,
 * application messages and incoming frames, serialization. Every operation
 * runs in order (one queue per group) and checks credentials through the
 * engine's authenticator.
 */

export interface PendingCommit {
  state: ClientState;
  /** The commit's MLSMessage bytes: seeing them come back means the server accepted it. */
  commit: Uint8Array;
  /** Secrets ts-mls says the commit used up; zeroed only once the commit is merged. */
  consumed: Uint8Array[];
}

type SeenHandshake = Parameters<IncomingMessageCallback>[0];

function proposalAllowed(proposal: Proposal): boolean {
  return typeof proposal.proposalType === 'string' && ALLOWED_PROPOSALS.has(proposal.proposalType);
}

export class TsMlsGroup implements MlsGroup {
  private queue: Promise<unknown> = Promise.resolve();
  readonly groupId: Uint8Array;
  readonly groupIdText: string;

  constructor(
    private readonly engine: TsMlsEngine,
    private state: ClientState,
    private pending: PendingCommit | undefined,
  ) {
    this.groupId = state.groupContext.groupId.slice();
    this.groupIdText = toBase64Url(this.groupId);
  }

  get epoch(): bigint {
    return this.state.groupContext.epoch;
  }

  get active(): boolean {
    return this.state.groupActiveState.kind === 'active';
  }

  get hasPendingCommit(): boolean {
    return this.pending !== undefined;
  }

  get hasPendingProposals(): boolean {
    return Object.keys(this.state.unappliedProposals).length > 0;
  }

  private get cs(): CiphersuiteImpl {
    return this.engine.suite;
  }

  private get ownLeafIndex(): number {
    return this.state.privatePath.leafIndex;
  }

  memberDevices(): MemberDevice[] {
    return membersOf(this.state.ratchetTree);
  }

  /** Runs operations on this group one at a time: each sees the state the previous one left. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private withAuth(auth: AuthCollector): ClientState {
    return { ...this.state, clientConfig: this.engine.configFor(auth) };
  }

  private requireActive(): void {
    if (!this.active) fail('not_member', 'this device is no longer a member of the group');
  }

  private requireNoPending(): void {
    if (this.pending !== undefined) fail('pending_commit', 'a commit is pending: confirm or discard it first');
  }

  addMembers(keyPackages: readonly Uint8Array[]): Promise<CommitResult> {
    if (keyPackages.length === 0) throw new RangeError('addMembers needs at least one key package');
    return this.changeMembers({ add: keyPackages });
  }

  removeMembers(deviceIds: readonly DeviceId[]): Promise<CommitResult> {
    if (deviceIds.length === 0) throw new RangeError('removeMembers needs at least one device');
    return this.changeMembers({ remove: deviceIds });
  }

  changeMembers(change: { add?: readonly Uint8Array[]; remove?: readonly DeviceId[] }): Promise<CommitResult> {
    return this.serial(async () => {
      this.requireActive();
      this.requireNoPending();
      const add = change.add ?? [];
      const remove = new Set(change.remove ?? []);
      if (add.length === 0 && remove.size === 0) throw new RangeError('changeMembers needs a device to add or remove');
      const members = this.memberDevices();
      const proposals: Proposal[] = [];
      for (const deviceId of remove) {
        const member = members.find((m) => m.deviceId === deviceId);
        if (member === undefined) fail('membership', `device ${deviceId} is not in the group`);
        if (member.leafIndex === this.ownLeafIndex) fail('membership', 'a device cannot commit its own removal; use proposeLeave');
        proposals.push({ proposalType: 'remove', remove: { removed: member.leafIndex } });
      }
      // A device id may come back with a new key in the same commit (its old leaf is removed above).
      const present = new Set(members.filter((m) => !remove.has(m.deviceId)).map((m) => m.deviceId));
      for (const bytes of add) {
        const { keyPackage, info } = await this.engine.decodeKeyPackage(bytes);
        if (present.has(info.deviceId)) fail('membership', `device ${info.deviceId} is already in the group`);
        present.add(info.deviceId);
        proposals.push({ proposalType: 'add', add: { keyPackage } });
      }
      const result = await this.commit(proposals);
      // A device removed and added back with the same key (re-added after losing its state): the diff by key
      // does not show it, but it is new in the tree and needs its Welcome.
      const readded = result.devices.filter((d) => remove.has(d.deviceId) && !result.added.some((a) => a.deviceId === d.deviceId));
      return readded.length === 0 ? result : { ...result, added: [...result.added, ...readded] };
    });
  }

  selfUpdate(): Promise<CommitResult> {
    return this.serial(async () => {
      this.requireActive();
      this.requireNoPending();
      return this.commit([]);
    });
  }

  private async commit(extraProposals: Proposal[]): Promise<CommitResult> {
    const before = this.memberDevices();
    const auth = this.engine.newAuth();
    let result;
    try {
      result = await createCommit({ state: this.withAuth(auth), cipherSuite: this.cs }, { extraProposals, ratchetTreeExtension: false });
    } catch (err) {
      throw auth.explain(err, 'invalid_state');
    }
    auth.check();
    const next = result.newState;
    let groupInfo;
    try {
      groupInfo = await createGroupInfoWithRatchetTree(next.groupContext, next.confirmationTag, next, next.ratchetTree, [], this.cs);
    } catch (err) {
      throw toTypedError(err, 'internal');
    }
    const commit = encodeMlsMessage(result.commit);
    const devices = membersOf(next.ratchetTree);
    const { added, removed } = diffMembers(before, devices);
    this.pending = { state: next, commit, consumed: result.consumed };
    return {
      commit,
      welcome: result.welcome === undefined ? undefined : encodeMlsMessage({ version: 'mls10', wireformat: 'mls_welcome', welcome: result.welcome }),
      groupInfo: encodeMlsMessage({ version: 'mls10', wireformat: 'mls_group_info', groupInfo }),
      ratchetTree: encodeRatchetTree(next.ratchetTree),
      epoch: next.groupContext.epoch,
      devices,
      added,
      removed,
    };
  }

  confirmCommit(): Promise<void> {
    return this.serial(async () => {
      this.mergePending();
    });
  }

  /** Adopts the pending commit's state. Returns the membership change it made. */
  private mergePending(): { before: MemberDevice[]; after: MemberDevice[] } {
    const pending = this.pending;
    if (pending === undefined) fail('no_pending_commit', 'there is no pending commit');
    const before = this.memberDevices();
    const oldEpoch = this.state.groupContext.epoch;
    // The commit snapshotted this epoch's receiver keys when it was created;
    // messages processed since then advanced them. Keep the advanced ones, so
    // already-used keys stay deleted.
    const history = new Map(pending.state.historicalReceiverData);
    const old = history.get(oldEpoch);
    if (old !== undefined) history.set(oldEpoch, { ...old, secretTree: this.state.secretTree });
    this.state = { ...pending.state, historicalReceiverData: history };
    this.pending = undefined;
    pending.consumed.forEach(zeroOutUint8Array);
    return { before, after: this.memberDevices() };
  }

  discardPendingCommit(): void {
    // Nothing to zero: the consumed secrets are still the live epoch's.
    this.pending = undefined;
  }

  proposeLeave(): Promise<Uint8Array> {
    return this.serial(async () => {
      this.requireActive();
      this.requireNoPending();
      const auth = this.engine.newAuth();
      let result;
      try {
        result = await createProposal(this.withAuth(auth), false, { proposalType: 'remove', remove: { removed: this.ownLeafIndex } }, this.cs);
      } catch (err) {
        throw auth.explain(err, 'invalid_state');
      }
      this.state = result.newState;
      result.consumed.forEach(zeroOutUint8Array);
      return encodeMlsMessage(result.message);
    });
  }

  encrypt(plaintext: Uint8Array): Promise<Uint8Array> {
    return this.serial(async () => {
      this.requireActive();
      if (this.hasPendingProposals) fail('pending_proposals', 'proposals are waiting for a commit; commit them (selfUpdate) before sending');
      let result;
      try {
        result = await createApplicationMessage(this.state, plaintext, this.cs);
      } catch (err) {
        throw toTypedError(err, 'invalid_state');
      }
      this.state = result.newState;
      result.consumed.forEach(zeroOutUint8Array);
      return encodeMlsMessage({ version: 'mls10', wireformat: 'mls_private_message', privateMessage: result.privateMessage });
    });
  }

  processIncoming(bytes: Uint8Array): Promise<IncomingResult> {
    return this.serial(() => this.process(bytes));
  }

  private async process(bytes: Uint8Array): Promise<IncomingResult> {
    if (this.pending !== undefined && bytesEqual(bytes, this.pending.commit)) {
      // Our own commit, sequenced by the server: it won the epoch.
      const committer = this.memberDevices().find((m) => m.leafIndex === this.ownLeafIndex);
      const { before, after } = this.mergePending();
      return { kind: 'commit', epoch: this.epoch, own: true, committer, devices: after, ...diffMembers(before, after), discardedPendingCommit: false };
    }

    const message = decodeMessage(bytes);
    if (message.wireformat === 'mls_public_message') fail('rejected_by_policy', 'Parley groups only use encrypted handshake messages');
    if (message.wireformat !== 'mls_private_message') fail('malformed_message', `a ${message.wireformat} is not a group message`);
    const pm = message.privateMessage;
    if (!bytesEqual(pm.groupId, this.groupId)) fail('wrong_group', 'message is for another group');

    const epoch = this.state.groupContext.epoch;
    if (pm.epoch > epoch) {
      if (!this.active) fail('not_member', 'this device was removed from the group');
      fail('future_epoch', `message is for epoch ${pm.epoch}; this group is at ${epoch}`);
    }
    if (pm.epoch < epoch && pm.contentType !== 'application') fail('stale_epoch', `a ${pm.contentType} for past epoch ${pm.epoch}`);
    if (pm.contentType !== 'application' && !this.active) fail('not_member', 'this device was removed from the group');

    const sender = await this.senderOf(pm);

    // Only a handshake message changes the members; an application message needs no list before it.
    const before = pm.contentType === 'application' ? [] : this.memberDevices();
    let seen: SeenHandshake | undefined;
    let removesUs = false;
    const policy: IncomingMessageCallback = (incoming) => {
      seen = incoming;
      if (incoming.kind === 'commit') {
        if (incoming.senderLeafIndex === undefined || !incoming.proposals.every((p) => proposalAllowed(p.proposal))) return 'reject';
        // ts-mls 1.6.4 notices its own removal only when its leaf stays blank; a commit that
        // also adds a device into the freed leaf makes it try (and fail) to decrypt the path.
        // The commit is authenticated by now (signature, proposals validated): stop here instead.
        removesUs = incoming.proposals.some((p) => p.proposal.proposalType === 'remove' && p.proposal.remove.removed === this.ownLeafIndex);
        return removesUs ? 'reject' : 'accept';
      }
      return incoming.proposal.senderLeafIndex !== undefined && proposalAllowed(incoming.proposal.proposal) ? 'accept' : 'reject';
    };

    const auth = this.engine.newAuth();
    let result;
    try {
      result = await processPrivateMessage(this.withAuth(auth), pm, emptyPskIndex, this.cs, policy);
    } catch (err) {
      throw auth.explain(err);
    }
    auth.check();

    if (result.kind === 'applicationMessage') {
      this.state = result.newState;
      result.consumed.forEach(zeroOutUint8Array);
      return { kind: 'application', epoch: pm.epoch, plaintext: result.message, sender };
    }
    if (result.actionTaken === 'reject' && removesUs) {
      this.state = { ...this.state, unappliedProposals: {}, groupActiveState: { kind: 'removedFromGroup' } };
      this.pending = undefined;
      return { kind: 'removed', epoch: this.epoch, committer: sender };
    }
    if (result.actionTaken === 'reject') fail('rejected_by_policy', `a ${pm.contentType} with a proposal type or sender Parley does not allow`);
    const handshake = seen;
    if (handshake === undefined) fail('internal', 'handshake message was not reported to the policy');

    this.state = result.newState;
    result.consumed.forEach(zeroOutUint8Array);

    if (handshake.kind === 'proposal') {
      const type = handshake.proposal.proposal.proposalType;
      if (type !== 'add' && type !== 'remove' && type !== 'update') fail('internal', 'unexpected proposal type');
      return { kind: 'proposal', epoch: this.epoch, proposal: type, sender };
    }

    if (this.state.groupActiveState.kind === 'removedFromGroup') {
      this.pending = undefined;
      return { kind: 'removed', epoch: this.epoch, committer: sender };
    }
    const discardedPendingCommit = this.pending !== undefined;
    this.pending = undefined;
    const after = this.memberDevices();
    return { kind: 'commit', epoch: this.epoch, own: false, committer: sender, devices: after, ...diffMembers(before, after), discardedPendingCommit };
  }

  /**
   * Who sent a private message. ts-mls verifies the sender's signature but
   * does not report the sender of application messages, so we decrypt the
   * sender data (RFC 9420 §6.3.2) with the same epoch's key and read the leaf.
   */
  private async senderOf(pm: PrivateMessage): Promise<MemberDevice> {
    const current = pm.epoch === this.state.groupContext.epoch;
    const historical = current ? undefined : this.state.historicalReceiverData.get(pm.epoch);
    if (!current && historical === undefined) fail('epoch_expired', `keys for epoch ${pm.epoch} are no longer kept`);
    const senderDataSecret = historical?.senderDataSecret ?? this.state.keySchedule.senderDataSecret;
    const tree = historical?.ratchetTree ?? this.state.ratchetTree;
    let senderData;
    try {
      senderData = await decryptSenderData(pm, senderDataSecret, this.cs);
    } catch (err) {
      fail('decrypt_failed', 'sender data does not decrypt', err);
    }
    if (senderData === undefined) fail('decrypt_failed', 'sender data does not decode');
    if (senderData.leafIndex === this.ownLeafIndex) fail('own_message', 'this device sent the message');
    const member = membersOf(tree).find((m) => m.leafIndex === senderData.leafIndex);
    if (member === undefined) fail('invalid_message', 'sender is not a member');
    return member;
  }

  serialize(): SerializedGroup {
    const w = new ByteWriter()
      .raw(STATE_MAGIC)
      .u8(STATE_VERSION)
      .u16(ciphersuiteId(this.cs.name))
      .bytes(encodeGroupStateWithoutTree(this.state));
    if (this.pending === undefined) w.u8(0);
    else w.u8(1).bytes(encodeGroupState(this.pending.state)).bytes(this.pending.commit);
    return { secrets: w.finish(), ratchetTree: encodeRatchetTree(this.state.ratchetTree) };
  }
}
