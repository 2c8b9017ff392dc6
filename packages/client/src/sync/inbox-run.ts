import { CredentialRejectedError, decodeContent, isHistoryContent, MlsOperationError } from '@parley/crypto';
import type { MemberDevice, MlsGroup } from '@parley/crypto';
import type { GroupId, MsgFrame } from '@parley/protocol';
import { runLater } from '../core/context.js';
import type { ClientCore } from '../core/context.js';
import { kindOf } from '../core/group-state.js';
import type { GroupState } from '../core/group-state.js';
import type { Outbox } from '../core/outbox.js';
import { ClientError } from '../errors.js';
import { decodeMeta } from '../meta.js';
import { withTimerChange } from '../settings/disappearing.js';
import type { ConversationMeta } from '../meta.js';
import { StoreBatch } from '../store/records.js';
import { StoreError } from '../store/store.js';
import type { ConversationRecord, MemberRecord } from '../store/records.js';
import type { ConversationMember } from '../types.js';
import { deviceRefusedNotice } from '../verification/notices.js';
import type { ContentHandlers, InboxBatch } from './content-handlers.js';

/** A run ends after this many frames… */
export const RUN_MAX_FRAMES = 200;
/** …or once it has been processing this long (ms), so a backlog shows up in steps and acks keep flowing. */
export const RUN_MAX_MS = 250;

/**
 * What processing one frame says about the run it is in: `more` (another
 * application message of the group may join it), `end` (a handshake or a
 * self-group message: store now), or `stall` (the directory could not be
 * asked about a credential: the frame was NOT taken; the run before it is
 * stored, the frame and the rest of the group wait for a reconnect).
 */
export type FrameOutcome = 'more' | 'end' | { readonly stall: CredentialRejectedError };

/**
 * One store batch of the inbox: the frames of one group processed under its
 * lock, in seq order. The MLS group and the conversation record (cursor,
 * unread count, last message) are written once, at the end, with the
 * messages they belong to; events and acknowledgements wait for the write.
 */
export class InboxRun {
  readonly batch = new StoreBatch();
  readonly startedAt = Date.now();
  /** The conversation record as it will be once the batch is stored (undefined: not read yet, or no such conversation). */
  conv: ConversationRecord | undefined;
  convChanged = false;
  /** The loaded MLS group; `groupChanged` once it moved (decrypted, confirmed a commit). */
  group: MlsGroup | undefined;
  groupChanged = false;
  frames = 0;
  /** The highest seq to acknowledge once stored (0: none). */
  ackSeq = 0;
  private readonly after: Array<() => void> = [];

  constructor(readonly groupId: GroupId) {}

  setConv(conv: ConversationRecord): void {
    this.conv = conv;
    this.convChanged = true;
  }

  ack(seq: number): void {
    this.ackSeq = Math.max(this.ackSeq, seq);
  }

  afterCommit(fn: () => void): void {
    this.after.push(fn);
  }

  /** Runs what waited for the write (events, follow-up work), in order. */
  committed(): void {
    for (const fn of this.after.splice(0)) fn();
  }
}

/** What the run processor needs from the inbox around it. */
export interface RunHooks {
  /** After a commit: this user's devices may need syncing; a device added although revoked since is removed. */
  followUpAdds(added: readonly MemberDevice[]): void;
}

/**
 * Processes one commit, proposal or application message into an InboxRun:
 * decrypts it with the run's group and adds its effects to the run's batch.
 * Nothing here writes to the store, acknowledges, or emits directly.
 */
export class RunProcessor {
  constructor(
    private readonly core: ClientCore,
    private readonly state: GroupState,
    private readonly outbox: Outbox,
    private readonly handlers: ContentHandlers,
    private readonly hooks: RunHooks,
  ) {}

  async frame(run: InboxRun, frame: MsgFrame, payload: Uint8Array): Promise<FrameOutcome> {
    run.frames++;
    const where = { conversationId: frame.group, seq: frame.seq };
    run.conv ??= await this.core.repo.conversation(frame.group);
    if (run.conv !== undefined && run.conv.status === 'active' && frame.seq > run.conv.lastSeq + 1) {
      // Seqs the server never sent this device: its own sends whose reply was lost, if it kept them (messages/lost-replies.ts).
      const into: InboxBatch = { batch: run.batch, conv: run.conv, message: (seq) => this.core.repo.message(frame.group, seq, run.batch), afterCommit: (fn) => run.afterCommit(fn) };
      if (await this.handlers.gap(into, frame.seq)) run.setConv(into.conv);
    }
    const conv = run.conv;
    if (conv === undefined) {
      // Delivered to a group we never joined (e.g. its Welcome failed): nothing can read it.
      run.afterCommit(() => this.core.emitError('undecryptable', new ClientError('unknown_conversation', 'message for a conversation this device is not in'), where));
      run.ack(frame.seq);
      return 'more';
    }
    if (frame.seq <= conv.lastSeq) {
      run.ack(conv.lastSeq);
      return 'more';
    }
    // A left conversation follows handshakes (to see its own removal) but reads no content.
    const following = conv.status === 'left' && (frame.kind === 'commit' || frame.kind === 'proposal');
    if (conv.ownSeqs.includes(frame.seq) || (conv.status !== 'active' && !following)) {
      skip(run, conv, frame.seq);
      return 'more';
    }
    if (run.group === undefined) {
      try {
        run.group = await this.state.load(frame.group);
      } catch (err) {
        // The stored state does not load (damaged, or for another group): ask to be re-added (healing/).
        if (!brokenState(err) || this.core.current()?.self.isSelf(frame.group) === true) throw err;
        await this.markBroken(run, conv, frame, err);
        return 'end';
      }
    }
    const group = run.group;
    if (group.hasPendingCommit && BigInt(frame.epoch) > group.epoch) {
      // A message from a later epoch while our commit is unconfirmed: the epoch's commit was ours.
      await group.confirmCommit();
      run.groupChanged = true;
    }
    let result;
    try {
      result = await group.processIncoming(payload);
    } catch (err) {
      // State is unchanged on error. Our own message whose `ok` we never saw comes back undecryptable: skip quietly.
      if (err instanceof CredentialRejectedError) {
        if (err.reason === 'directory_error') return { stall: err };
        await this.refuse(run, conv, frame, err);
        return 'more';
      }
      if (err instanceof MlsOperationError && err.code === 'own_message') {
        // A send whose reply was lost, back from the server: stored as ours if it was kept (messages/lost-replies.ts).
        const into: InboxBatch = { batch: run.batch, conv: advance(conv, frame.seq), message: (seq) => this.core.repo.message(frame.group, seq, run.batch), afterCommit: (fn) => run.afterCommit(fn) };
        if (await this.handlers.ownCopy(into, frame.seq, payload)) {
          run.setConv(into.conv);
          run.ack(frame.seq);
          return 'more';
        }
      }
      const own = err instanceof MlsOperationError && err.code === 'own_message';
      if (!own && conv.status === 'active' && !this.core.session().self.isSelf(frame.group) && (frame.kind === 'commit' || BigInt(frame.epoch) > group.epoch)) {
        // A commit it cannot process, or a message from an epoch it cannot reach: this device is out of the group until re-added.
        await this.markBroken(run, conv, frame, err);
        return 'end';
      }
      if (!own) run.afterCommit(() => this.core.emitError('undecryptable', err, where));
      skip(run, conv, frame.seq);
      return 'more';
    }
    run.groupChanged = true;
    run.ack(frame.seq);
    const next = advance(conv, frame.seq);
    switch (result.kind) {
      case 'application':
        return this.application(run, frame, group, next, result.sender, result.plaintext);
      case 'commit': {
        const members = this.state.membersOf(group, conv.members);
        run.setConv({ ...next, members });
        const emitNotices = await this.state.withNotices(run.batch, frame.group, frame.seq, this.state.safetyNumberNotices(result));
        const membership = { conversationId: frame.group, addedDevices: result.added.map((d) => d.deviceId), removedDevices: result.removed.map((d) => d.deviceId), members, removedSelf: false };
        const added = result.added;
        run.afterCommit(() => {
          this.core.emit('membership', membership);
          emitNotices();
          if (conv.status === 'left') {
            // The commit did not include our remove proposal: propose again in the new epoch.
            runLater(this.core, () => this.outbox.proposeLeave(frame.group, false), frame.group);
          } else {
            this.hooks.followUpAdds(added);
          }
        });
        return 'end';
      }
      case 'removed': {
        run.setConv({ ...next, status: conv.status === 'left' ? 'left' : 'removed' });
        const membership = { conversationId: frame.group, addedDevices: [], removedDevices: [this.core.session().account.deviceId], members: conv.members, removedSelf: true };
        run.afterCommit(() => this.core.emit('membership', membership));
        return 'end';
      }
      case 'proposal':
        run.setConv(next);
        // Someone asked to leave (or similar): any member may commit it; conflicts resolve by epoch.
        if (conv.status === 'active') run.afterCommit(() => runLater(this.core, () => this.outbox.commitPendingProposals(frame.group), frame.group));
        return 'end';
    }
  }

  /**
   * This device cannot follow the group any more: the frame is skipped, the
   * conversation marked `rejoining` (nothing more is read or sent until a
   * Welcome re-adds it), a "Some messages could not be decrypted" notice
   * stored with it, and the healing module asks the members to re-add it.
   */
  private async markBroken(run: InboxRun, conv: ConversationRecord, frame: MsgFrame, err: unknown): Promise<void> {
    const where = { conversationId: frame.group, seq: frame.seq };
    this.core.groups.delete(frame.group);
    run.group = undefined;
    run.groupChanged = false;
    run.setConv({ ...advance(conv, frame.seq), status: 'rejoining' });
    run.ack(frame.seq);
    run.afterCommit(() => this.core.emitError('undecryptable', err, where));
    run.afterCommit(await this.state.withNotices(run.batch, frame.group, frame.seq, [{ kind: 'messages_undecryptable' }]));
    run.afterCommit(() => this.handlers.broken(frame.group));
  }

  /** A credential the directory does not vouch for: the message is skipped, a `device_refused` notice stored with the skip. */
  private async refuse(run: InboxRun, conv: ConversationRecord, frame: MsgFrame, err: CredentialRejectedError): Promise<void> {
    const where = { conversationId: frame.group, seq: frame.seq };
    run.afterCommit(() => this.core.emitError('unverified_member', err, where));
    skip(run, conv, frame.seq);
    if (err.device === undefined) return;
    const name = this.core.current()?.directory.usernameOf(err.device.userId) ?? null;
    run.afterCommit(await this.state.withNotices(run.batch, frame.group, frame.seq, [deviceRefusedNotice(err.device.userId, err.device.deviceId, name)]));
  }

  private async application(run: InboxRun, frame: MsgFrame, group: MlsGroup, next: ConversationRecord, sender: MemberDevice, plaintext: Uint8Array): Promise<FrameOutcome> {
    const where = { conversationId: frame.group, seq: frame.seq };
    run.setConv(next);
    const { self } = this.core.session();
    if (self.isSelf(frame.group)) {
      // Account keys, not content: stored with the group state and the cursor, in one batch of its own.
      run.afterCommit(await self.receive(run.batch, sender, plaintext));
      return 'end';
    }
    const meta = decodeMeta(plaintext);
    if (meta.kind === 'meta') {
      const members = namedMembers(this.state, group, next.members, meta.meta);
      // A roster without a kind (from an older client) keeps what is known, else infers it once.
      const known = next.kind === 'direct' || next.kind === 'group' ? next.kind : undefined;
      const kind = meta.meta.kind ?? known ?? kindOf({ title: meta.meta.title, members }) ?? 'group';
      let updated: ConversationRecord = { ...next, title: meta.meta.title, kind, members };
      // Opened for Moments: kept out of the chat list while it holds no message (a roster after one changes nothing).
      if (meta.meta.quiet === true && next.lastMessageSeq === null) updated = { ...updated, quiet: true };
      // The disappearing timer as the sender knows it: slotted in by its setting's seq (an older one changes nothing).
      const timer = meta.meta.disappearing;
      if (timer !== undefined && timer.seq < frame.seq) updated = withTimerChange(updated, timer.seq, timer.ms);
      run.setConv(updated);
      const view = this.state.toConversation(updated);
      run.afterCommit(() => this.core.emit('conversation', view));
      return 'more';
    }
    const decoded = meta.kind === 'invalid' ? undefined : decodeContent(plaintext);
    if (decoded === undefined || !decoded.ok) {
      // It decrypted, so the ratchet moved: store that, drop the content, tell the app, carry on.
      const error = decoded === undefined ? new ClientError('bad_request', 'malformed roster message') : decoded.error;
      run.afterCommit(() => this.core.emitError('malformed_content', error, where));
      return 'more';
    }
    if (!isHistoryContent(decoded.content)) {
      // Reactions, edits, deletes, receipts: applied by their feature modules, in the run's batch.
      const into: InboxBatch = { batch: run.batch, conv: next, message: (seq) => this.core.repo.message(frame.group, seq, run.batch), afterCommit: (fn) => run.afterCommit(fn) };
      await this.handlers.apply(into, { conversationId: frame.group, seq: frame.seq, sender, content: decoded.content, receivedAt: Date.now() });
      run.setConv(into.conv);
      return 'more';
    }
    if (!this.handlers.keepHistory(frame.group, frame.seq, sender, decoded.content)) {
      // A second copy of a send under the same content id (a Retry whose first copy got through): dropped.
      run.setConv(next);
      return 'more';
    }
    // Feature steps first (settings/: the timer, the expiry, unarchiving), in the run's batch.
    const stored: InboxBatch = { batch: run.batch, conv: next, message: (seq) => this.core.repo.message(frame.group, seq, run.batch), afterCommit: (fn) => run.afterCommit(fn) };
    const record = await this.state.prepareHistory(stored, {
      conversationId: frame.group,
      seq: frame.seq,
      senderUserId: sender.userId,
      senderDeviceId: sender.deviceId,
      outgoing: false,
      receivedAt: Date.now(),
      content: decoded.content,
      plaintext,
    });
    run.batch.putMessage(record);
    run.setConv(await this.state.withStoredMessage(stored.conv, record, run.batch));
    run.afterCommit(() => this.core.emit('message', this.state.toMessage(record)));
    return 'more';
  }
}

/** Usernames from a roster, for users that are really in the group. */
function namedMembers(state: GroupState, group: MlsGroup, previous: readonly ConversationMember[], meta: ConversationMeta): MemberRecord[] {
  const named = new Map(meta.members.map((m) => [m.userId, m.username]));
  return state.membersOf(group, previous).map((m) => (m.username === null ? { ...m, username: named.get(m.userId) ?? null } : m));
}

/** A stored group state that cannot be used (as opposed to a store that cannot be read at all). */
export function brokenState(err: unknown): boolean {
  if (err instanceof ClientError) return err.code === 'unknown_conversation';
  if (err instanceof StoreError) return err.code === 'corrupt_record';
  return true;
}

/** Past a frame without reading it: only the cursor moves. */
function skip(run: InboxRun, conv: ConversationRecord, seq: number): void {
  run.setConv(advance(conv, seq));
  run.ack(seq);
}

export function advance(conv: ConversationRecord, seq: number): ConversationRecord {
  const lastSeq = Math.max(conv.lastSeq, seq);
  return { ...conv, lastSeq, ownSeqs: conv.ownSeqs.filter((s) => s > lastSeq) };
}
