import { encodeContent } from '@parley/crypto';
import type { GroupId } from '@parley/protocol';
import type { ClientCore } from '../core/context.js';
import type { GroupState } from '../core/group-state.js';
import type { Outbox } from '../core/outbox.js';
import { ClientError } from '../errors.js';
import { StoreBatch } from '../store/records.js';
import type { Media } from '../media/media.js';
import type { AttachmentInput, Message, MessagesOptions, SendOptions, VoiceInput } from '../types.js';
import { outgoingContent } from './attachments.js';

/**
 * Messages: sending text, attachments and voice messages, reading the
 * stored history and moving the read position.
 * The calls are documented on ParleyClient, which delegates here.
 */
export class Messages {
  constructor(
    private readonly core: ClientCore,
    private readonly state: GroupState,
    private readonly outbox: Outbox,
    /** How long a send waits for the connection before failing with `disconnected` (ms). */
    private readonly offlineSendTimeoutMs: number,
    /** Keeps the bytes of what this device sends (media/). */
    private readonly media: Media,
  ) {}

  async send(conversationId: GroupId, input: string | AttachmentInput | VoiceInput, options: SendOptions = {}): Promise<Message> {
    const { connection, verifications } = this.core.session();
    this.state.visible(conversationId);
    await verifications.checkBeforeSend((await this.state.record(conversationId)).members, options.confirmSafetyNumberChange === true);
    const readyTimeoutMs = this.offlineSendTimeoutMs;
    // Before the attachment upload too: offline, fetch can take minutes to give up.
    if (!connection.isReady) await connection.waitReady(readyTimeoutMs);
    const { content, blobs, media } = await outgoingContent(this.core.api, input);
    const plaintext = encodeContent(content);
    const record = await this.outbox.sendPlaintext(conversationId, plaintext, blobs, content, { readyTimeoutMs });
    if (record === undefined) throw new ClientError('internal', 'message was not recorded');
    const message = this.state.toMessage(record);
    // Sent is sent: a copy that cannot be kept is fetched again when shown.
    if (media !== undefined) await this.media.keepSent(message, media).catch((err: unknown) => this.core.emitError('internal', err, { conversationId, seq: message.seq }));
    this.core.emit('message', message);
    return message;
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
    return records.map((m) => this.state.toMessage(m));
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
      const next = { ...conv, readSeq, unread: await this.core.repo.countUnread(conversationId, readSeq, account.userId) };
      await this.core.repo.commit(new StoreBatch().putConversation(next));
      return next;
    });
    if (updated !== undefined) this.core.emit('conversation', this.state.toConversation(updated));
  }
}
