import { CredentialRejectedError, decodeContent, isHistoryContent, MlsOperationError } from '@parley/crypto';
import type { MemberDevice, MlsGroup } from '@parley/crypto';
import { bytesEqual, fromBase64Url, splitParts } from '@parley/protocol';
import type { GroupId, MsgFrame, ReadyFrame } from '@parley/protocol';
import { runLater } from '../core/context.js';
import type { ClientCore } from '../core/context.js';
import { kindOf, putGroup } from '../core/group-state.js';
import type { GroupState } from '../core/group-state.js';
import type { Outbox } from '../core/outbox.js';
import { ClientError } from '../errors.js';
import { decodeMeta } from '../meta.js';
import type { ConversationMeta } from '../meta.js';
import { StoreBatch } from '../store/records.js';
import type { ContentHandlers, InboxBatch } from './content-handlers.js';
import type { ConversationRecord, MemberRecord, MessageRecord } from '../store/records.js';
import type { ConversationMember } from '../types.js';
import { deviceRefusedNotice } from '../verification/notices.js';

/** After the directory could not be asked about a credential, reconnect (redelivering the message) this much later. */
const STALL_RETRY_MS = 2_000;

/**
 * Inbox processing: every frame the server delivers, in order, one at a
 * time — Welcomes, commits, proposals and application messages — each
 * change stored in one batch and acknowledged only after it is stored.
 */
export class Inbox {
  private incoming: Promise<void> = Promise.resolve();
  /** Groups whose next message waits for a directory that could not be reached (redelivered after a reconnect). */
  private readonly stalled = new Set<GroupId>();
  private syncedOnce = false;
  private readonly syncedWaiters: Array<() => void> = [];

  constructor(
    private readonly core: ClientCore,
    private readonly state: GroupState,
    private readonly outbox: Outbox,
    /** Feature modules' appliers for content that is not a history entry (sync/content-handlers.ts). */
    private readonly handlers: ContentHandlers,
  ) {}

  /** Resolves after the next (or a past) end of backlog. */
  whenSynced(): Promise<void> {
    if (this.syncedOnce) return Promise.resolve();
    return new Promise((resolve) => this.syncedWaiters.push(resolve));
  }

  /** Waits for in-flight processing to finish writing. */
  idle(): Promise<void> {
    return this.incoming.catch(() => undefined);
  }

  /** A new session: groups stalled under the old one start afresh. */
  forgetStalled(): void {
    this.stalled.clear();
  }

  onReady(frame: ReadyFrame): void {
    if (frame.keyPackages.low) void this.core.current()?.keyPackages.refill();
    // Queued behind what the old socket delivered: only this connection's redeliveries are processed again.
    if (this.stalled.size > 0) this.enqueue(async () => this.stalled.clear());
  }

  enqueue(task: () => Promise<void>): void {
    this.incoming = this.incoming.then(task).catch((err: unknown) => this.core.emitError('internal', err));
  }

  async onSynced(): Promise<void> {
    this.core.acks.flush();
    await this.reconcilePendingCommits();
    this.syncedOnce = true;
    for (const w of this.syncedWaiters.splice(0)) w();
    this.core.emit('connection', { state: 'synced' });
    this.core.current()?.deviceSync.schedule(0);
  }

  /**
   * A commit whose reply never came (the connection dropped) stays pending.
   * Once the backlog is processed: if the server's epoch moved past ours, the
   * only commit we did not receive is our own, so it won; otherwise it lost.
   */
  async reconcilePendingCommits(): Promise<void> {
    for (const c of await this.core.repo.conversations()) {
      if (c.status !== 'active') continue;
      await this.core.locks.run(c.id, async () => {
        const group = await this.state.load(c.id);
        if (!group.hasPendingCommit) return;
        const info = await this.core.api.group(c.id);
        if (BigInt(info.epoch) > group.epoch) await group.confirmCommit();
        else group.discardPendingCommit();
        const conv = await this.state.record(c.id);
        await this.core.repo.commit(putGroup(new StoreBatch(), c.id, group).putConversation({ ...conv, members: this.state.membersOf(group, conv.members) }));
      });
    }
  }

  async processMessage(frame: MsgFrame, payload: Uint8Array): Promise<void> {
    // Stalled: not processed, not acknowledged; the server delivers it again after the reconnect.
    if (this.core.isClosed() || this.stalled.has(frame.group)) return;
    await this.core.locks.run(frame.group, async () => {
      if (frame.kind === 'welcome') {
        await this.processWelcome(frame, payload);
        return;
      }
      const conv = await this.core.repo.conversation(frame.group);
      if (conv === undefined) {
        // Delivered to a group we never joined (e.g. its Welcome failed): nothing can read it.
        this.core.emitError('undecryptable', new ClientError('unknown_conversation', 'message for a conversation this device is not in'), { conversationId: frame.group, seq: frame.seq });
        this.core.acks.schedule(frame.group, frame.seq);
        return;
      }
      if (frame.seq <= conv.lastSeq) {
        this.core.acks.schedule(frame.group, conv.lastSeq);
        return;
      }
      const skip = async () => {
        await this.core.repo.commit(new StoreBatch().putConversation(advance(conv, frame.seq)));
        this.core.acks.schedule(frame.group, frame.seq);
      };
      // A left conversation follows handshakes (to see its own removal) but reads no content.
      const following = conv.status === 'left' && (frame.kind === 'commit' || frame.kind === 'proposal');
      if (conv.ownSeqs.includes(frame.seq) || (conv.status !== 'active' && !following)) {
        await skip();
        return;
      }
      const group = await this.state.load(frame.group);
      if (group.hasPendingCommit && BigInt(frame.epoch) > group.epoch) {
        // A message from a later epoch while our commit is unconfirmed: the epoch's commit was ours.
        await group.confirmCommit();
      }
      let result;
      try {
        result = await group.processIncoming(payload);
      } catch (err) {
        // State is unchanged on error. Our own message whose `ok` we never saw comes back undecryptable: skip quietly.
        if (err instanceof CredentialRejectedError) {
          await this.refuse(frame, err, new StoreBatch().putConversation(advance(conv, frame.seq)));
          return;
        }
        if (!(err instanceof MlsOperationError && err.code === 'own_message')) this.core.emitError('undecryptable', err, { conversationId: frame.group, seq: frame.seq });
        await skip();
        return;
      }
      const next = advance(conv, frame.seq);
      switch (result.kind) {
        case 'application':
          await this.onApplication(frame, group, next, result.sender, result.plaintext);
          break;
        case 'commit': {
          const members = this.state.membersOf(group, conv.members);
          const batch = putGroup(new StoreBatch(), frame.group, group).putConversation({ ...next, members });
          const emitNotices = await this.state.withNotices(batch, frame.group, frame.seq, this.state.safetyNumberNotices(result));
          await this.core.repo.commit(batch);
          this.core.emit('membership', {
            conversationId: frame.group,
            addedDevices: result.added.map((d) => d.deviceId),
            removedDevices: result.removed.map((d) => d.deviceId),
            members,
            removedSelf: false,
          });
          emitNotices();
          if (conv.status === 'left') {
            // The commit did not include our remove proposal: propose again in the new epoch.
            runLater(this.core, () => this.outbox.proposeLeave(frame.group, false), frame.group);
          } else {
            this.followUpAdds(result.added);
          }
          break;
        }
        case 'removed':
          await this.core.repo.commit(putGroup(new StoreBatch(), frame.group, group).putConversation({ ...next, status: conv.status === 'left' ? 'left' : 'removed' }));
          this.core.emit('membership', { conversationId: frame.group, addedDevices: [], removedDevices: [this.core.session().account.deviceId], members: conv.members, removedSelf: true });
          break;
        case 'proposal':
          await this.core.repo.commit(putGroup(new StoreBatch(), frame.group, group).putConversation(next));
          if (conv.status !== 'active') break;
          // Someone asked to leave (or similar): any member may commit it; conflicts resolve by epoch.
          runLater(this.core, () => this.outbox.commitPendingProposals(frame.group), frame.group);
          break;
      }
      this.core.acks.schedule(frame.group, frame.seq);
    });
  }

  /**
   * A credential the directory does not vouch for: the message is skipped and
   * a `device_refused` notice stored with the skip (in `batch`). When the
   * directory could not be asked at all, the message is left unacknowledged
   * and fetched again after a reconnect instead.
   */
  async refuse(frame: MsgFrame, err: CredentialRejectedError, batch: StoreBatch | undefined): Promise<void> {
    const where = { conversationId: frame.group, seq: frame.seq };
    if (err.reason === 'directory_error') {
      this.core.emitError('undecryptable', err, where);
      if (this.stalled.size === 0) setTimeout(() => void (this.core.isClosed() ? undefined : this.core.current()?.connection.reconnect()), STALL_RETRY_MS);
      this.stalled.add(frame.group);
      return;
    }
    this.core.emitError('unverified_member', err, where);
    let emitNotices = () => undefined as void;
    if (batch !== undefined && err.device !== undefined) {
      const name = this.core.current()?.directory.usernameOf(err.device.userId) ?? null;
      emitNotices = await this.state.withNotices(batch, frame.group, frame.seq, [deviceRefusedNotice(err.device.userId, err.device.deviceId, name)]);
    }
    if (batch !== undefined) await this.core.repo.commit(batch);
    emitNotices();
    this.core.acks.schedule(frame.group, frame.seq);
  }

  /** After a commit: this user's devices may need syncing; a device added although revoked since is removed. */
  followUpAdds(added: readonly MemberDevice[]): void {
    const session = this.core.session();
    session.deviceSync.schedule(500);
    for (const d of added) {
      const listed = session.directory.cached(d.userId)?.devices.find((x) => x.id === d.deviceId && bytesEqual(x.signatureKey, d.signaturePublicKey));
      if (listed !== undefined && listed.revokedAt !== null) session.deviceSync.scheduleUser(d.userId);
    }
  }

  async onApplication(frame: MsgFrame, group: MlsGroup, next: ConversationRecord, sender: MemberDevice, plaintext: Uint8Array): Promise<void> {
    const { self } = this.core.session();
    if (self.isSelf(frame.group)) {
      // Account keys, not content: stored with the group state and the cursor, in one batch.
      const batch = putGroup(new StoreBatch(), frame.group, group).putConversation(next);
      const stored = await self.receive(batch, sender, plaintext);
      await this.core.repo.commit(batch);
      stored();
      return;
    }
    const meta = decodeMeta(plaintext);
    if (meta.kind === 'meta') {
      const members = this.namedMembers(group, next.members, meta.meta);
      // A roster without a kind (from an older client) keeps what is known, else infers it once.
      const known = next.kind === 'direct' || next.kind === 'group' ? next.kind : undefined;
      const kind = meta.meta.kind ?? known ?? kindOf({ title: meta.meta.title, members }) ?? 'group';
      const updated: ConversationRecord = { ...next, title: meta.meta.title, kind, members };
      await this.core.repo.commit(putGroup(new StoreBatch(), frame.group, group).putConversation(updated));
      this.core.emit('conversation', this.state.toConversation(updated));
      return;
    }
    const decoded = meta.kind === 'invalid' ? undefined : decodeContent(plaintext);
    if (decoded === undefined || !decoded.ok) {
      // It decrypted, so the ratchet moved: store that, drop the content, tell the app, carry on.
      await this.core.repo.commit(putGroup(new StoreBatch(), frame.group, group).putConversation(next));
      const error = decoded === undefined ? new ClientError('bad_request', 'malformed roster message') : decoded.error;
      this.core.emitError('malformed_content', error, { conversationId: frame.group, seq: frame.seq });
      return;
    }
    if (!isHistoryContent(decoded.content)) {
      // Reactions, edits, deletes, receipts: applied by their feature modules, in the same batch as the ratchet and the cursor.
      const batch = putGroup(new StoreBatch(), frame.group, group);
      const after: Array<() => void> = [];
      const into: InboxBatch = { batch, conv: next, message: (seq) => this.core.repo.message(frame.group, seq, batch), afterCommit: (fn) => after.push(fn) };
      await this.handlers.apply(into, { conversationId: frame.group, seq: frame.seq, sender, content: decoded.content, receivedAt: Date.now() });
      await this.core.repo.commit(batch.putConversation(into.conv));
      for (const fn of after) fn();
      return;
    }
    const record: MessageRecord = {
      conversationId: frame.group,
      seq: frame.seq,
      senderUserId: sender.userId,
      senderDeviceId: sender.deviceId,
      outgoing: false,
      receivedAt: Date.now(),
      content: decoded.content,
      plaintext,
    };
    const stored = await this.state.withStoredMessage(next, record);
    await this.core.repo.commit(putGroup(new StoreBatch(), frame.group, group).putConversation(stored).putMessage(record));
    this.core.emit('message', this.state.toMessage(record));
  }

  /** Usernames from a roster, for users that are really in the group. */
  namedMembers(group: MlsGroup, previous: readonly ConversationMember[], meta: ConversationMeta): MemberRecord[] {
    const named = new Map(meta.members.map((m) => [m.userId, m.username]));
    return this.state.membersOf(group, previous).map((m) => (m.username === null ? { ...m, username: named.get(m.userId) ?? null } : m));
  }

  async processWelcome(frame: MsgFrame, payload: Uint8Array): Promise<void> {
    const { engine } = this.core.session();
    const existing = await this.core.repo.conversation(frame.group);
    if (existing !== undefined && (existing.status === 'active' || frame.seq <= existing.lastSeq)) {
      this.core.acks.schedule(frame.group, Math.max(frame.seq, existing.lastSeq));
      return;
    }
    try {
      const [welcome = new Uint8Array(0), info = new Uint8Array(0)] = splitParts(payload, frame.parts ?? [payload.length]);
      let groupInfo = info;
      if (groupInfo.length === 0) {
        const served = await this.core.api.group(frame.group);
        groupInfo = served.groupInfo === undefined ? new Uint8Array(0) : (fromBase64Url(served.groupInfo) ?? new Uint8Array(0));
      }
      // Every leaf of the tree is checked against the directory here (users looked up by id): a stranger's too.
      const joined = await engine.joinFromWelcome({ welcome, groupInfo }, async (ref) => (await this.core.repo.keyPackage(ref))?.bundle);
      const group = joined.group;
      if (group.groupIdText !== frame.group) throw new ClientError('bad_request', 'the Welcome is for another group');
      const { self } = this.core.session();
      if (self.isSelf(frame.group)) {
        const refused = await self.checkJoin(group);
        if (refused !== undefined) throw refused;
      }
      const conv: ConversationRecord = {
        id: frame.group,
        title: existing?.title ?? null,
        kind: existing?.kind === 'direct' || existing?.kind === 'group' ? existing.kind : 'unknown',
        members: this.state.membersOf(group, existing?.members ?? []),
        status: 'active',
        createdAt: existing?.createdAt ?? Date.now(),
        lastSeq: frame.seq,
        ownSeqs: [],
        readSeq: existing?.readSeq ?? 0,
        unread: existing?.unread ?? 0,
        lastMessageSeq: existing?.lastMessageSeq ?? null,
      };
      const batch = putGroup(new StoreBatch(), frame.group, group).putConversation(conv);
      if (!joined.lastResort) batch.deleteKeyPackage(joined.keyPackageRef);
      await this.core.repo.commit(batch);
      this.core.groups.set(frame.group, group);
      if (self.isSelf(frame.group)) self.joined();
      this.core.emit('conversation', this.state.toConversation(conv));
    } catch (err) {
      if (err instanceof CredentialRejectedError && err.reason === 'directory_error') return this.refuse(frame, err, undefined);
      // Refused (e.g. a leaf the directory does not vouch for) or broken: nothing is stored.
      this.core.emitError('join_failed', err, { conversationId: frame.group, seq: frame.seq });
    }
    this.core.acks.schedule(frame.group, frame.seq);
  }
}

function advance(conv: ConversationRecord, seq: number): ConversationRecord {
  const lastSeq = Math.max(conv.lastSeq, seq);
  return { ...conv, lastSeq, ownSeqs: conv.ownSeqs.filter((s) => s > lastSeq) };
}
