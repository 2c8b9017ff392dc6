import { decodeContent, encodeContent, MessageRefSchema } from '@parley/crypto';
import type { MessageContent, MessageRef } from '@parley/crypto';
import type { BlobDigest, GroupId } from '@parley/protocol';
import type { ClientCore } from '../core/context.js';
import type { GroupState } from '../core/group-state.js';
import type { Outbox } from '../core/outbox.js';
import { ClientError } from '../errors.js';
import { StoreBatch } from '../store/records.js';
import type { Media } from '../media/media.js';
import type { AttachmentInput, Message, MessagesOptions, MessageTarget, SendOptions, VoiceInput } from '../types.js';
import { outgoingContent } from './attachments.js';
import type { LostReplies } from './lost-replies.js';
import { resolveReplies } from './views.js';

/**
 * Messages: sending text, attachments and voice messages, reading the
 * stored history and moving the read position.
 * The calls are documented on ParleyClient, which delegates here.
 */
export class Messages {
  /** Runs before a send (people/: replying to a pending message request accepts it). */
  beforeSend: ((conversationId: GroupId) => Promise<void>) | undefined;

  constructor(
    private readonly core: ClientCore,
    private readonly state: GroupState,
    private readonly outbox: Outbox,
    /** How long a send waits for the connection before failing with `disconnected` (ms). */
    private readonly offlineSendTimeoutMs: number,
    /** Keeps the bytes of what this device sends (media/). */
    private readonly media: Media,
    /** Sends whose reply may be lost, matched when their copy comes back. */
    private readonly lost: LostReplies,
  ) {}

  async send(conversationId: GroupId, input: string | AttachmentInput | VoiceInput, options: SendOptions = {}): Promise<Message> {
    const { connection, verifications } = this.core.session();
    this.state.visible(conversationId);
    await this.beforeSend?.(conversationId);
    await verifications.checkBeforeSend((await this.state.record(conversationId)).members, options.confirmSafetyNumberChange === true);
    const readyTimeoutMs = this.offlineSendTimeoutMs;
    const replyTo = options.replyTo === undefined ? undefined : await this.replyTarget(conversationId, options.replyTo);
    if (options.retryOf !== undefined) {
      // The bytes of an attachment or voice message, for the sender's own copy if the kept message is sent again.
      const bytes = typeof input === 'string' ? undefined : 'voice' in input ? input.voice : input.attachment;
      const earlier = await this.retry(conversationId, options.retryOf, bytes);
      if (earlier !== undefined) return earlier;
    }
    // Before the attachment upload too: offline, fetch can take minutes to give up.
    if (!connection.isReady) await connection.waitReady(readyTimeoutMs);
    const made = await outgoingContent(this.core.api, input);
    const content = { ...made.content, ...(options.retryOf === undefined ? {} : { id: options.retryOf }), ...(replyTo === undefined ? {} : { replyTo }) } as MessageContent;
    return this.sendContent(conversationId, content, encodeContent(content), made.blobs, made.media);
  }

  /** Sends history content, keeping it until its seq is known (lost-replies.ts); a lost reply's error names the content id. */
  private async sendContent(conversationId: GroupId, content: MessageContent, plaintext: Uint8Array, blobs: readonly BlobDigest[], media: Uint8Array | undefined): Promise<Message> {
    const readyTimeoutMs = this.offlineSendTimeoutMs;
    let record;
    try {
      record = await this.outbox.sendPlaintext(conversationId, plaintext, blobs, content, { readyTimeoutMs, inFlight: this.lost.hooks(conversationId, content.id, plaintext, blobs) });
    } catch (err) {
      this.lost.failed(conversationId, content.id);
      // Not stored for sure (never left, or the server refused it): nothing to match. Otherwise it stays kept.
      const refused = err instanceof ClientError && (err.server || (err.code === 'disconnected' && err.detail?.['delivery'] !== 'unknown'));
      if (refused) await this.lost.forget(conversationId, content.id).catch(() => undefined);
      if (!(err instanceof ClientError && err.code === 'disconnected')) throw err;
      throw new ClientError('disconnected', err.message, { cause: err, detail: { ...err.detail, contentId: content.id } });
    }
    if (record === undefined) throw new ClientError('internal', 'message was not recorded');
    const [message = this.state.toMessage(record)] = await resolveReplies(this.core.repo, [this.state.toMessage(record)], (u) => this.state.nameOf(u));
    // Sent is sent: a copy that cannot be kept is fetched again when shown.
    if (media !== undefined) await this.media.keepSent(message, media).catch((err: unknown) => this.core.emitError('internal', err, { conversationId, seq: message.seq }));
    this.core.emit('message', message);
    return message;
  }

  /** A quoted message must be on this device, with that content id, and not deleted. */
  private async replyTarget(conversationId: GroupId, target: MessageTarget): Promise<MessageRef> {
    const ref = MessageRefSchema.safeParse(target);
    if (!ref.success) throw new ClientError('bad_request', 'replyTo must be { seq, id } of a message');
    const quoted = await this.core.repo.message(conversationId, ref.data.seq);
    const c = quoted?.content;
    if (c === undefined || c.type === 'notice' || c.type === 'deleted' || c.id !== ref.data.id) throw new ClientError('bad_request', 'replyTo names no message on this device');
    return { seq: ref.data.seq, id: ref.data.id };
  }

  /**
   * Retry after a lost reply: once synced, the first copy is either stored
   * (it came back: that message, no second copy) or was never stored (the
   * kept plaintext is sent again, same content id; undefined is returned when
   * nothing was kept, and the caller sends anew under the same id).
   */
  private async retry(conversationId: GroupId, contentId: string, media: Uint8Array | undefined): Promise<Message | undefined> {
    if (!MessageRefSchema.shape.id.safeParse(contentId).success) throw new ClientError('bad_request', 'retryOf is the contentId of a failed send');
    await this.lost.whenSynced(this.offlineSendTimeoutMs, contentId);
    const kept = await this.lost.get(conversationId, contentId);
    if (kept === undefined) return undefined;
    if (kept.seq !== undefined) {
      const record = await this.core.repo.message(conversationId, kept.seq);
      await this.lost.forget(conversationId, contentId);
      if (record !== undefined && record.content.id === contentId) {
        const [message] = await resolveReplies(this.core.repo, [this.state.toMessage(record)], (u) => this.state.nameOf(u));
        return message;
      }
      return undefined;
    }
    const decoded = decodeContent(kept.plaintext);
    if (!decoded.ok) throw new ClientError('internal', 'the kept message does not decode', { cause: decoded.error });
    return this.sendContent(conversationId, decoded.content, kept.plaintext, kept.blobs, decoded.content.type === 'attachment' || decoded.content.type === 'voice' ? media : undefined);
  }

  /** One stored message (null: none at that seq on this device). */
  async message(conversationId: GroupId, seq: number): Promise<Message | null> {
    this.state.visible(conversationId);
    if (!(Number.isSafeInteger(seq) && seq >= 1)) throw new ClientError('bad_request', 'seq must be a whole number ≥ 1');
    const record = await this.core.repo.message(conversationId, seq);
    if (record === undefined) return null;
    const [message] = await resolveReplies(this.core.repo, [this.state.toMessage(record)], (u) => this.state.nameOf(u));
    return message ?? null;
  }

  async history(conversationId: GroupId, options: MessagesOptions = {}): Promise<Message[]> {
    this.state.visible(conversationId);
    const { afterSeq, beforeSeq, limit, latest } = options;
    for (const [name, value] of [['afterSeq', afterSeq], ['beforeSeq', beforeSeq], ['limit', limit]] as const) {
      if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) throw new ClientError('bad_request', `${name} must be a whole number ≥ 0`);
    }
    const records = await this.core.repo.messages(conversationId, {
      ...(afterSeq === undefined ? {} : { afterSeq }),
      ...(beforeSeq === undefined ? {} : { beforeSeq }),
      ...(limit === undefined ? {} : { limit }),
      fromEnd: beforeSeq !== undefined || latest === true,
    });
    return resolveReplies(
      this.core.repo,
      records.map((m) => this.state.toMessage(m)),
      (u) => this.state.nameOf(u),
    );
  }

  async markRead(conversationId: GroupId, seq: number): Promise<void> {
    const { account } = this.core.session();
    this.state.visible(conversationId);
    if (!(Number.isSafeInteger(seq) && seq >= 0)) throw new ClientError('bad_request', 'seq must be a whole number ≥ 0');
    // Under the group lock: incoming messages and sends update the same record.
    const updated = await this.core.locks.run(conversationId, async () => {
      const conv = await this.state.record(conversationId);
      const known = Math.max(conv.lastSeq, conv.lastMessageSeq ?? 0, ...conv.ownSeqs);
      const readSeq = Math.min(seq, known);
      if (readSeq <= conv.readSeq) return undefined;
      const next = { ...conv, readSeq, unread: await this.core.repo.countUnread(conversationId, readSeq, account.userId, undefined, conv.lastMessageSeq) };
      await this.core.repo.commit(new StoreBatch().putConversation(next));
      return next;
    });
    if (updated !== undefined) this.core.emit('conversation', this.state.toConversation(updated));
  }
}
