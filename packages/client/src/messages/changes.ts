import { ContentError, encodeContent, MessageRefSchema, newContentId } from '@parley/crypto';
import type { MessageContent } from '@parley/crypto';
import type { GroupId } from '@parley/protocol';
import type { ClientCore } from '../core/context.js';
import type { GroupState } from '../core/group-state.js';
import type { Outbox } from '../core/outbox.js';
import { ClientError } from '../errors.js';
import { deleteMediaFor } from '../media/media-records.js';
import type { MessageRecord } from '../store/records.js';
import type { ContentHandler, IncomingContent, InboxBatch } from '../sync/content-handlers.js';
import type { Message, MessageTarget } from '../types.js';
import { applyChange, checkChange } from './change-rules.js';
import type { ChangeContent } from './change-rules.js';
import { resolveReplies } from './views.js';

/** How many messages after an edited or deleted one are checked for quotes of it (edits and deletes are rare; quotes are mostly near). */
const QUOTE_SCAN = 500;

type ChangeBody = { type: 'reaction'; emoji: string | null } | { type: 'edit'; text: string } | { type: 'delete' };

/**
 * Reactions, edits and deletes for everyone: sent as MLS application
 * messages naming their target by { seq, id }, applied by every member
 * device with the rules in change-rules.ts — received ones through the
 * inbox's ContentHandlers seam (in the batch that moves the ratchet and the
 * cursor), this device's own once the server's `ok` gave them a seq (in the
 * batch that records it). A change that breaks the rules changes nothing
 * and is reported as an `invalid_change` error event.
 */
export class MessageChanges implements ContentHandler {
  constructor(
    private readonly core: ClientCore,
    private readonly state: GroupState,
    private readonly outbox: Outbox,
    private readonly offlineSendTimeoutMs: number,
  ) {}

  async apply(into: InboxBatch, incoming: IncomingContent): Promise<void> {
    const change = incoming.content;
    if (change.type !== 'reaction' && change.type !== 'edit' && change.type !== 'delete') return;
    // A stored record that no longer reads (corrupt) is a message this device does not have: the change is refused, the inbox goes on.
    const target = await into.message(change.target.seq).catch(() => undefined);
    const verdict = checkChange(change, incoming.seq, incoming.sender, into.conv.members, target);
    if (verdict.kind === 'invalid') {
      const error = new ClientError('bad_request', `${change.type} ignored: ${verdict.reason}`);
      into.afterCommit(() => this.core.emitError('invalid_change', error, { conversationId: incoming.conversationId, seq: incoming.seq }));
      return;
    }
    if (verdict.kind === 'apply' && target !== undefined) this.write(into, target, change, incoming.seq, incoming.sender.userId);
  }

  react(conversationId: GroupId, target: MessageTarget, emoji: string | null): Promise<Message> {
    return this.send(conversationId, target, { type: 'reaction', emoji });
  }

  edit(conversationId: GroupId, target: MessageTarget, text: string): Promise<Message> {
    return this.send(conversationId, target, { type: 'edit', text });
  }

  deleteForEveryone(conversationId: GroupId, target: MessageTarget): Promise<Message> {
    return this.send(conversationId, target, { type: 'delete' });
  }

  /** The changed record in the batch; its media goes with a delete; the message is emitted again once stored. */
  private write(into: InboxBatch, target: MessageRecord, change: ChangeContent, seq: number, senderUserId: MessageRecord['senderUserId']): void {
    const updated = applyChange(target, change, seq, senderUserId);
    into.batch.putMessage(updated);
    if (change.type === 'delete' && target.content.type !== 'notice' && target.content.type !== 'deleted') deleteMediaFor(into.batch, target.content);
    const message = this.state.toMessage(updated);
    into.afterCommit(() => {
      this.core.emit('message', message);
      // Replies quoting it show the new text, or "unavailable" once it is deleted.
      if (change.type !== 'reaction') void this.reemitQuotes(target.conversationId, target.seq);
    });
  }

  /** Emits again the recent messages that quote `seq` (their quote is resolved anew on the way out). */
  private async reemitQuotes(conversationId: GroupId, seq: number): Promise<void> {
    try {
      const after = await this.core.repo.messages(conversationId, { afterSeq: seq, limit: QUOTE_SCAN });
      for (const m of after) {
        const c = m.content;
        if ((c.type === 'text' || c.type === 'attachment' || c.type === 'voice') && c.replyTo?.seq === seq) this.core.emit('message', this.state.toMessage(m));
      }
    } catch (err) {
      if (!this.core.isClosed()) this.core.emitError('internal', err, { conversationId, seq });
    }
  }

  /**
   * Checks the change as receivers will (so the app hears "not allowed" now,
   * not silence), sends it, and applies it here once the server gave it a
   * seq. Resolves with the target message as stored afterwards.
   */
  private async send(conversationId: GroupId, target: MessageTarget, body: ChangeBody): Promise<Message> {
    const { connection, account } = this.core.session();
    this.state.visible(conversationId);
    const ref = MessageRefSchema.safeParse(target);
    if (!ref.success) throw new ClientError('bad_request', 'target must be { seq, id } of a message');
    const content = { v: 1, id: newContentId(), sentAt: Date.now(), target: { seq: ref.data.seq, id: ref.data.id }, ...body } as ChangeContent & MessageContent;
    let plaintext: Uint8Array;
    try {
      plaintext = encodeContent(content);
    } catch (err) {
      if (err instanceof ContentError) throw new ClientError('bad_request', `not a valid ${body.type}: ${err.code}`, { cause: err });
      throw err;
    }
    const me = { userId: account.userId, deviceId: account.deviceId };
    const conv = await this.state.record(conversationId);
    const before = checkChange(content, Number.MAX_SAFE_INTEGER, me, conv.members, await this.core.repo.message(conversationId, ref.data.seq));
    if (before.kind === 'invalid') throw new ClientError('bad_request', `cannot ${body.type === 'delete' ? 'delete' : body.type === 'edit' ? 'edit' : 'react to'} this message: ${before.reason}`);
    if (!connection.isReady) await connection.waitReady(this.offlineSendTimeoutMs);
    await this.outbox.sendPlaintext(conversationId, plaintext, [], undefined, {
      readyTimeoutMs: this.offlineSendTimeoutMs,
      apply: async (into, seq) => {
        const stored = await into.message(ref.data.seq);
        // Something may have changed it meanwhile (a delete from another device): the same rules decide.
        if (checkChange(content, seq, me, into.conv.members, stored).kind === 'apply' && stored !== undefined) this.write(into, stored, content, seq, me.userId);
      },
    });
    const record = await this.core.repo.message(conversationId, ref.data.seq);
    if (record === undefined) throw new ClientError('internal', 'the changed message is gone');
    const [message] = await resolveReplies(this.core.repo, [this.state.toMessage(record)], (u) => this.state.nameOf(u));
    return message as Message;
  }
}
