import { CredentialRejectedError } from '@parley/crypto';
import type { MemberDevice } from '@parley/crypto';
import { bytesEqual, fromBase64Url, splitParts } from '@parley/protocol';
import type { GroupId, MsgFrame, ReadyFrame } from '@parley/protocol';
import { runLater } from '../core/context.js';
import type { ClientCore } from '../core/context.js';
import { putGroup } from '../core/group-state.js';
import type { GroupState } from '../core/group-state.js';
import type { Outbox } from '../core/outbox.js';
import { ClientError } from '../errors.js';
import { StoreBatch } from '../store/records.js';
import type { ConversationRecord } from '../store/records.js';
import type { ContentHandlers } from './content-handlers.js';
import { InboxQueue, isFrame } from './inbox-queue.js';
import type { InboxFrame } from './inbox-queue.js';
import { brokenState, InboxRun, RUN_MAX_FRAMES, RUN_MAX_MS, RunProcessor } from './inbox-run.js';
import type { FrameOutcome } from './inbox-run.js';

/** After the directory could not be asked about a credential, reconnect (redelivering the message) this much later. */
const STALL_RETRY_MS = 2_000;

/**
 * Inbox processing: every frame the server delivers, in order — Welcomes,
 * commits, proposals and application messages. A run of application
 * messages of one group (a backlog) is stored in one batch; everything is
 * acknowledged only after it is stored (see inbox-run.ts).
 */
export class Inbox {
  private readonly queue = new InboxQueue();
  private running = false;
  /** The current pass over the queue (settles once the queue is empty). */
  private incoming: Promise<void> = Promise.resolve();
  private readonly runs: RunProcessor;
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
  ) {
    this.runs = new RunProcessor(core, state, outbox, handlers, { followUpAdds: (added) => this.followUpAdds(added) });
  }

  /** Resolves after the next (or a past) end of backlog. */
  whenSynced(): Promise<void> {
    if (this.syncedOnce) return Promise.resolve();
    return new Promise((resolve) => this.syncedWaiters.push(resolve));
  }

  /** Waits until everything queued so far is processed (and written). */
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

  /** A step that runs in order with the frames (end of backlog, a new connection). */
  enqueue(task: () => Promise<void>): void {
    this.queue.push({ task });
    this.pump();
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
        let group;
        try {
          group = await this.state.load(c.id);
        } catch (err) {
          if (!brokenState(err) || this.core.current()?.self.isSelf(c.id) === true) throw err;
          return this.markBroken(c.id, err);
        }
        if (!group.hasPendingCommit) return;
        const info = await this.core.api.group(c.id);
        if (BigInt(info.epoch) > group.epoch) await group.confirmCommit();
        else group.discardPendingCommit();
        const conv = await this.state.record(c.id);
        await this.core.repo.commit(putGroup(new StoreBatch(), c.id, group).putConversation({ ...conv, members: this.state.membersOf(group, conv.members) }));
      });
    }
  }

  /** A stored group state that does not load, found at a sync: the conversation is marked rejoining (healing/), with its notice. */
  private async markBroken(groupId: GroupId, err: unknown): Promise<void> {
    const conv = await this.state.record(groupId);
    const batch = new StoreBatch().putConversation({ ...conv, status: 'rejoining' });
    const emitNotices = await this.state.withNotices(batch, groupId, conv.lastSeq, [{ kind: 'messages_undecryptable' }]);
    await this.core.repo.commit(batch);
    this.core.emitError('undecryptable', err, { conversationId: groupId });
    emitNotices();
    this.handlers.broken(groupId);
  }

  /** A frame from the connection, in arrival order. */
  deliver(frame: MsgFrame, payload: Uint8Array): void {
    this.queue.push({ frame, payload });
    this.pump();
  }

  /** Runs the queue until it is empty; frames and tasks that arrive meanwhile join it. */
  private pump(): void {
    if (this.running) return;
    this.running = true;
    this.incoming = (async () => {
      try {
        for (let item = this.queue.shift(); item !== undefined; item = this.queue.shift()) {
          try {
            if (isFrame(item)) await this.processFrames(item);
            else await item.task();
          } catch (err) {
            this.core.emitError('internal', err);
          }
        }
      } finally {
        // Set in the same step as the last (empty) shift: nothing can be queued in between unnoticed.
        this.running = false;
      }
    })();
  }

  /**
   * Processes `first` and, for an application message, the application
   * messages of the same group queued right behind it, as one run: one store
   * batch (MLS state, messages, handlers' writes, cursor) under the group's
   * lock, so nothing else (a send, a commit) runs between its frames.
   * Acknowledgements and events follow the write.
   */
  private async processFrames(first: InboxFrame): Promise<void> {
    const { frame, payload } = first;
    // Stalled: not processed, not acknowledged; the server delivers it again after the reconnect.
    if (this.core.isClosed() || this.stalled.has(frame.group)) return;
    await this.core.locks.run(frame.group, async () => {
      if (frame.kind === 'welcome') {
        await this.processWelcome(frame, payload);
        return;
      }
      const run = new InboxRun(frame.group);
      let current = first;
      let outcome: FrameOutcome;
      try {
        for (;;) {
          outcome = await this.runs.frame(run, current.frame, current.payload);
          const next = outcome === 'more' && this.continues(run) ? this.queue.shift() : undefined;
          if (!isFrame(next)) break;
          current = next;
        }
      } catch (err) {
        this.abandon(run, err);
        return;
      }
      if (!(await this.store(run))) return;
      if (typeof outcome === 'object') this.stall(current.frame, outcome.stall);
    });
  }

  /** Whether the next queued item joins `run`: an application message of its group, within the run's bounds. */
  private continues(run: InboxRun): boolean {
    const next = this.queue.peek();
    if (!isFrame(next) || next.frame.group !== run.groupId || next.frame.kind !== 'application') return false;
    if (run.frames >= RUN_MAX_FRAMES || Date.now() - run.startedAt >= RUN_MAX_MS) return false;
    return !this.core.isClosed() && !this.stalled.has(run.groupId) && this.core.current()?.self.isSelf(run.groupId) !== true;
  }

  /** Writes a run's batch; then its events, then its acknowledgement. False if the write failed. */
  private async store(run: InboxRun): Promise<boolean> {
    if (run.group !== undefined && run.groupChanged) putGroup(run.batch, run.groupId, run.group);
    if (run.conv !== undefined && run.convChanged) run.batch.putConversation(run.conv);
    try {
      await this.core.repo.commit(run.batch);
    } catch (err) {
      this.abandon(run, err);
      return false;
    }
    try {
      run.committed();
    } finally {
      if (run.ackSeq > 0) this.core.acks.schedule(run.groupId, run.ackSeq);
    }
    return true;
  }

  /**
   * A run that could not be stored (or failed half-way): nothing of it is
   * written or acknowledged. The loaded group is ahead of the store, so it
   * is dropped (loaded again from the store), and the group waits for a
   * reconnect: the server then delivers the run's frames again.
   */
  private abandon(run: InboxRun, err: unknown): void {
    this.core.groups.delete(run.groupId);
    this.core.emitError('internal', err, { conversationId: run.groupId });
    this.stallGroup(run.groupId);
  }

  /** The directory could not be asked about a credential: the frame is left unacknowledged and fetched again after a reconnect. */
  private stall(frame: MsgFrame, err: CredentialRejectedError): void {
    this.core.emitError('undecryptable', err, { conversationId: frame.group, seq: frame.seq });
    this.stallGroup(frame.group);
  }

  private stallGroup(groupId: GroupId): void {
    if (this.stalled.size === 0) setTimeout(() => void (this.core.isClosed() ? undefined : this.core.current()?.connection.reconnect()), STALL_RETRY_MS);
    this.stalled.add(groupId);
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

  async processWelcome(frame: MsgFrame, payload: Uint8Array): Promise<void> {
    const { engine } = this.core.session();
    const existing = await this.core.repo.conversation(frame.group);
    // A conversation marked rejoining (healing/) takes the Welcome that re-adds it, checked like any other.
    const rejoining = existing?.status === 'rejoining';
    if (existing !== undefined && !rejoining && (existing.status === 'active' || frame.seq <= existing.lastSeq)) {
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
      // Message requests (people/): who committed the Welcome decides whether it is one, or refused (a blocked inviter).
      const decision = self.isSelf(frame.group) ? {} : await this.handlers.joinDecision(frame.group, joined.inviter?.userId, existing, [...new Set(group.memberDevices().map((d) => d.userId))]);
      const refused = decision.request === 'deleted';
      const conv: ConversationRecord = {
        id: frame.group,
        title: existing?.title ?? null,
        kind: existing?.kind === 'direct' || existing?.kind === 'group' ? existing.kind : 'unknown',
        members: this.state.membersOf(group, existing?.members ?? []),
        status: refused ? 'left' : 'active',
        createdAt: existing?.createdAt ?? Date.now(),
        lastSeq: Math.max(frame.seq, rejoining ? existing.lastSeq : 0),
        ownSeqs: [],
        readSeq: existing?.readSeq ?? 0,
        unread: existing?.unread ?? 0,
        lastMessageSeq: existing?.lastMessageSeq ?? null,
        ...(decision.request === undefined ? {} : { request: decision.request }),
        ...(decision.invitedBy === undefined ? {} : { invitedBy: decision.invitedBy }),
      };
      const batch = putGroup(new StoreBatch(), frame.group, group).putConversation(conv);
      if (!joined.lastResort) batch.deleteKeyPackage(joined.keyPackageRef);
      await this.core.repo.commit(batch);
      this.core.groups.set(frame.group, group);
      if (self.isSelf(frame.group)) self.joined();
      // Refused: never shown; this device asks to be removed (another member commits it).
      if (refused) runLater(this.core, () => this.outbox.proposeLeave(frame.group, false), frame.group);
      else this.core.emit('conversation', this.state.toConversation(conv));
    } catch (err) {
      if (err instanceof CredentialRejectedError && err.reason === 'directory_error') return this.stall(frame, err);
      // Refused (e.g. a leaf the directory does not vouch for) or broken: nothing is stored.
      this.core.emitError('join_failed', err, { conversationId: frame.group, seq: frame.seq });
    }
    this.core.acks.schedule(frame.group, frame.seq);
  }
}
