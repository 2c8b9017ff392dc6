import type { CommitResult, MessageContent, MlsGroup } from '@parley/crypto';
import type { BlobDigest, DeviceId, GroupId, UserId } from '@parley/protocol';
import type { ClaimTarget } from '../devices/device-sync.js';
import { ClientError } from '../errors.js';
import { encodeMeta } from '../meta.js';
import { StoreBatch } from '../store/records.js';
import type { MessageRecord } from '../store/records.js';
import type { InboxBatch } from '../sync/content-handlers.js';
import { runLater } from './context.js';
import type { ClientCore } from './context.js';
import { putGroup, withOwnSeq } from './group-state.js';
import type { GroupState } from './group-state.js';

export interface SendPlaintextOptions {
  /** Offline: wait this long for the connection, then fail with `disconnected` (not_sent) before encrypting. */
  readyTimeoutMs?: number;
  /** Applied once the server gave the message its seq, in the batch that records it (messages/changes.ts). */
  apply?: (into: InboxBatch, seq: number) => Promise<void>;
  /** Keeps the ciphertext with the state before the frame leaves, forgets it with the seq (messages/lost-replies.ts). */
  inFlight?: { keep(batch: StoreBatch, ciphertext: Uint8Array): void; settle(batch: StoreBatch): void };
  /** Nothing for the recipients to show: the server wakes no offline device for it (protocol SendFrame `silent`). */
  silent?: boolean;
}

const MAX_COMMIT_ATTEMPTS = 8;
const EPOCH_WAIT_MS = 10_000;

/**
 * Everything this device sends into a group: commits (built from the current
 * state, retried on epoch conflicts), application messages (the MLS state
 * stored before the frame leaves), rosters and leave proposals.
 */
export class Outbox {
  constructor(
    private readonly core: ClientCore,
    private readonly state: GroupState,
  ) {}

  /**
   * Builds a commit from the CURRENT state, sends it, and on epoch_conflict
   * waits for the winning commit to be processed and builds it again.
   * `build` returns undefined when there is nothing (left) to do.
   */
  async runCommit(groupId: GroupId, build: (group: MlsGroup) => Promise<CommitResult | undefined>): Promise<CommitResult | undefined> {
    const { connection } = this.core.session();
    for (let attempt = 0; attempt < MAX_COMMIT_ATTEMPTS; attempt++) {
      const outcome = await this.core.locks.run(groupId, async (): Promise<{ done: true; result: CommitResult | undefined } | { done: false; epoch: bigint }> => {
        const group = await this.state.load(groupId);
        if (!group.active) throw new ClientError('not_active', 'this device is no longer in the conversation');
        if (group.hasPendingCommit) throw new ClientError('disconnected', 'an earlier commit is still unconfirmed; retry once reconnected');
        const result = await build(group);
        if (result === undefined) return { done: true, result: undefined };
        // Persist first: if the reply is lost, the pending commit is reconciled after the next sync.
        await this.core.repo.commit(putGroup(new StoreBatch(), groupId, group));
        const welcome = result.welcome ?? new Uint8Array(0);
        const parts = [result.commit, welcome, result.groupInfo];
        let ok;
        try {
          ok = await connection.request(
            { t: 'commit', group: groupId, devices: result.devices.map((d) => d.deviceId), welcomeTo: result.added.map((d) => d.deviceId), parts: parts.map((p) => p.length) },
            parts,
          );
        } catch (err) {
          // Outcome unknown: keep the pending commit; reconcilePendingCommits settles it after the next sync.
          if (err instanceof ClientError && (err.code === 'disconnected' || err.code === 'closed')) throw err;
          group.discardPendingCommit();
          await this.core.repo.commit(putGroup(new StoreBatch(), groupId, group));
          if (err instanceof ClientError && err.code === 'epoch_conflict') {
            const epoch = typeof err.detail?.['epoch'] === 'number' ? BigInt(err.detail['epoch']) : group.epoch + 1n;
            return { done: false, epoch };
          }
          throw err;
        }
        await group.confirmCommit();
        const conv = await this.state.record(groupId);
        const members = this.state.membersOf(group, conv.members);
        const seq = ok.seq;
        const batch = putGroup(new StoreBatch(), groupId, group).putConversation({ ...(seq === undefined ? conv : withOwnSeq(conv, seq)), members });
        // This device's own commits change safety numbers too (e.g. re-adding a contact who started over).
        const emitNotices = seq === undefined ? () => undefined : await this.state.withNotices(batch, groupId, seq, this.state.safetyNumberNotices(result));
        await this.core.repo.commit(batch);
        this.core.emit('membership', {
          conversationId: groupId,
          addedDevices: result.added.map((d) => d.deviceId),
          removedDevices: result.removed.map((d) => d.deviceId),
          members,
          removedSelf: false,
        });
        emitNotices();
        // In the self group, whoever added devices sends them the keys; whoever removed one makes a new key.
        const { self } = this.core.session();
        if (self.isSelf(groupId)) runLater(this.core, () => self.afterCommit(result), groupId);
        return { done: true, result };
      });
      if (outcome.done) return outcome.result;
      await this.waitForEpoch(groupId, outcome.epoch);
    }
    throw new ClientError('commit_failed', 'gave up after repeated epoch conflicts');
  }

  /** Waits until incoming processing brought the group to `epoch` (the winner of a commit race). */
  async waitForEpoch(groupId: GroupId, epoch: bigint): Promise<void> {
    const deadline = Date.now() + EPOCH_WAIT_MS;
    while (Date.now() < deadline && !this.core.isClosed()) {
      const group = await this.state.load(groupId);
      if (group.epoch >= epoch || !group.active) return;
      await sleep(20);
    }
  }

  async commitPendingProposals(groupId: GroupId): Promise<void> {
    const conv = await this.core.repo.conversation(groupId);
    if (conv?.status !== 'active') return;
    const before = (await this.state.load(groupId)).memberDevices();
    const result = await this.runCommit(groupId, async (group) => (group.hasPendingProposals ? group.selfUpdate() : undefined));
    if (result !== undefined && result.removed.length > 0) {
      const gone = new Set(result.removed.map((d) => d.userId));
      const stillThere = new Set(result.devices.map((d) => d.userId));
      if ([...gone].some((u) => !stillThere.has(u)) || before.length !== result.devices.length) await this.sendRoster(groupId);
    }
  }

  /** Claims one key package per device and checks that each really is for that device. */
  claimKeyPackages(targets: readonly ClaimTarget[]): Promise<Array<{ deviceId: DeviceId; data: Uint8Array }>> {
    return this.core.session().keyPackages.claim(targets);
  }

  async addKeyPackages(groupId: GroupId, keyPackages: ReadonlyArray<{ deviceId: DeviceId; data: Uint8Array }>): Promise<CommitResult | undefined> {
    return this.runCommit(groupId, async (group) => {
      const present = new Set(group.memberDevices().map((d) => d.deviceId));
      const fresh = keyPackages.filter((x) => !present.has(x.deviceId)).map((x) => x.data);
      return fresh.length === 0 ? undefined : group.addMembers(fresh);
    });
  }

  /** Sends the title and the member users' names to the group (see meta.ts). */
  async sendRoster(groupId: GroupId): Promise<void> {
    // The self group has no title or other users; its new members get the keys instead (SelfGroup.afterCommit).
    if (groupId === this.core.hiddenGroup()) return;
    const conv = await this.state.record(groupId);
    const { account } = this.core.session();
    const members = conv.members
      .map((m) => ({ userId: m.userId, username: m.userId === account.userId ? account.username : m.username }))
      .filter((m): m is { userId: UserId; username: string } => m.username !== null);
    if (members.length === 0) return;
    const kind = conv.kind === 'direct' || conv.kind === 'group' ? conv.kind : undefined;
    // The disappearing timer in force (with its setting's seq), for members and devices added since.
    const disappearing = conv.disappearChanges?.at(-1);
    // Quiet (a Moments pair nobody chatted in yet): the other side keeps it out of its chat list too.
    const quiet = conv.quiet === true && conv.lastMessageSeq === null ? true : undefined;
    await this.sendPlaintext(groupId, encodeMeta({ title: conv.title, kind, members, disappearing, quiet }), []);
  }

  /**
   * Encrypts and sends one application message. The MLS state is stored
   * BEFORE the frame leaves, so a crash can never reuse a ratchet key; the
   * message joins the history once the server assigned its seq.
   */
  async sendPlaintext(groupId: GroupId, plaintext: Uint8Array, blobs: readonly BlobDigest[], content?: MessageContent, options: SendPlaintextOptions = {}): Promise<MessageRecord | undefined> {
    const { connection, account } = this.core.session();
    for (let attempt = 0; attempt < 3; attempt++) {
      // Status first: a removed group's state is history and is not loaded again.
      if ((await this.state.record(groupId)).status !== 'active') throw new ClientError('not_active', 'this device is no longer in the conversation');
      if ((await this.state.load(groupId)).hasPendingProposals) await this.commitPendingProposals(groupId);
      const sent = await this.core.locks.run(groupId, async () => {
        const group = await this.state.load(groupId);
        const conv = await this.state.record(groupId);
        if (conv.status !== 'active' || !group.active) throw new ClientError('not_active', 'this device is no longer in the conversation');
        if (group.hasPendingProposals) return undefined;
        // Offline with a deadline: fail before using a ratchet key for nothing.
        if (options.readyTimeoutMs !== undefined && !connection.isReady) await connection.waitReady(options.readyTimeoutMs);
        const ciphertext = await group.encrypt(plaintext);
        const encrypted = putGroup(new StoreBatch(), groupId, group);
        options.inFlight?.keep(encrypted, ciphertext);
        await this.core.repo.commit(encrypted);
        // What this device has stored of the group is acknowledged on the message itself.
        const ack = this.core.acks.take(groupId);
        let ok;
        try {
          ok = await connection.request(
            { t: 'send', group: groupId, ...(blobs.length > 0 ? { blobs: [...blobs] } : {}), ...(ack !== undefined ? { ack } : {}), ...(options.silent === true ? { silent: true as const } : {}) },
            [ciphertext],
            options.readyTimeoutMs === undefined ? {} : { readyTimeoutMs: options.readyTimeoutMs },
          );
        } catch (err) {
          // It may not have left: acknowledge again later (acks are cumulative, a repeat is harmless).
          if (ack !== undefined) this.core.acks.schedule(groupId, ack);
          throw err;
        }
        const seq = ok.seq;
        if (seq === undefined) throw new ClientError('bad_response', 'the server accepted the message without a seq');
        const after = await this.state.record(groupId);
        let updated = withOwnSeq(after, seq);
        let record: MessageRecord | undefined;
        const batch = new StoreBatch();
        const later: Array<() => void> = [];
        if (content !== undefined) {
          // Feature steps first (settings/: the timer, the expiry), in the batch that stores it.
          const stored: InboxBatch = { batch, conv: updated, message: (s) => this.core.repo.message(groupId, s, batch), afterCommit: (fn) => later.push(fn) };
          record = await this.state.prepareHistory(stored, { conversationId: groupId, seq, senderUserId: account.userId, senderDeviceId: account.deviceId, outgoing: true, receivedAt: Date.now(), content, plaintext });
          updated = await this.state.withStoredMessage(stored.conv, record);
        }
        if (record !== undefined) batch.putMessage(record);
        options.inFlight?.settle(batch);
        // A change (reaction, edit, delete) applies here, like a received one, in the batch that records the seq.
        const into: InboxBatch = { batch, conv: updated, message: (s) => this.core.repo.message(groupId, s, batch), afterCommit: (fn) => later.push(fn) };
        if (options.apply !== undefined) await options.apply(into, seq);
        await this.core.repo.commit(batch.putConversation(into.conv));
        for (const fn of later) fn();
        return { record };
      });
      if (sent !== undefined) return sent.record;
    }
    throw new ClientError('commit_failed', 'could not send: proposals kept arriving');
  }

  /**
   * Sends (or, after a commit that did not include it, re-sends) this
   * device's remove proposal, and marks the conversation as left. A left
   * conversation still follows commits until one removes this device.
   */
  async proposeLeave(conversationId: GroupId, markLeft: boolean): Promise<void> {
    const { connection } = this.core.session();
    for (let attempt = 0; attempt < MAX_COMMIT_ATTEMPTS; attempt++) {
      const conflict = await this.core.locks.run(conversationId, async (): Promise<bigint | undefined> => {
        const group = await this.state.load(conversationId);
        const conv = await this.state.record(conversationId);
        if (!markLeft && conv.status !== 'left') return undefined;
        let ownSeqs = conv.ownSeqs;
        if (group.active && group.memberDevices().length > 1) {
          const proposal = await group.proposeLeave();
          await this.core.repo.commit(putGroup(new StoreBatch(), conversationId, group));
          try {
            const ok = await connection.request({ t: 'send', group: conversationId }, [proposal]);
            if (ok.seq !== undefined && ok.seq > conv.lastSeq) ownSeqs = [...ownSeqs, ok.seq];
          } catch (err) {
            if (err instanceof ClientError && err.code === 'epoch_conflict') return typeof err.detail?.['epoch'] === 'number' ? BigInt(err.detail['epoch']) : group.epoch + 1n;
            throw err;
          }
        }
        await this.core.repo.commit(new StoreBatch().putConversation({ ...conv, ownSeqs, status: group.active ? 'left' : conv.status === 'active' ? 'removed' : conv.status }));
        return undefined;
      });
      if (conflict === undefined) return;
      await this.waitForEpoch(conversationId, conflict);
    }
    throw new ClientError('commit_failed', 'could not leave: repeated epoch conflicts');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
