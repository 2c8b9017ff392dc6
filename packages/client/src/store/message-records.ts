import { z } from 'zod';
import { decodeContent, EmojiSchema, MAX_TEXT_LENGTH, MessageRefSchema } from '@parley/crypto';
import type { MessageContent } from '@parley/crypto';
import { DeviceIdSchema, fromBase64Url, GroupIdSchema, toBase64Url, UserIdSchema } from '@parley/protocol';
import type { DeviceId, GroupId, UserId } from '@parley/protocol';
import type { DeletedContent, NoticeContent } from '../types.js';
import { StoreError } from './store.js';

/**
 * The records of the `messages` table: history entries (the decrypted
 * plaintext, decoded and so validated on every read, with the changes
 * applied to them since — reactions, the latest edit, a delete for
 * everyone) and the notices this device writes. Keys: see messageKey.
 */

const RECORD_VERSION = 1;
/** One notice per member user a commit touched: a group's device cap bounds it. */
const MAX_NOTICES_PER_SEQ = 10_000;
/** One reaction per member user: a group's member cap bounds it. */
const MAX_REACTIONS = 5000;

const Bytes = z.string().transform((s, ctx) => {
  const bytes = fromBase64Url(s);
  if (bytes === undefined) {
    ctx.addIssue({ code: 'custom', message: 'invalid base64url' });
    return z.NEVER;
  }
  return bytes;
});

const Seq = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const Millis = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

const messageFields = {
  v: z.literal(RECORD_VERSION),
  conversationId: GroupIdSchema,
  seq: z.number().int().min(1),
  senderUserId: UserIdSchema,
  senderDeviceId: DeviceIdSchema,
  outgoing: z.boolean(),
  receivedAt: z.number().int().min(0),
};

/**
 * A person's latest reaction to the message (`emoji: null`: removed; kept so
 * that an older reaction arriving later cannot bring it back). `seq`: the
 * group seq of the reaction message — the higher one wins.
 */
const ReactionSchema = z.object({ userId: UserIdSchema, emoji: EmojiSchema.nullable(), seq: Seq });
export type ReactionRecord = z.output<typeof ReactionSchema>;

/** The latest edit (highest seq): its text replaces the text (or caption); `editedAt` is the edit's sentAt (sender's clock). */
const EditSchema = z.object({ seq: Seq, text: z.string().min(1).max(MAX_TEXT_LENGTH), editedAt: Millis });
export type EditRecord = z.output<typeof EditSchema>;

/** Deleted for everyone: the plaintext, reactions and edit are gone; the id and sentAt stay for the placeholder. */
const DeletedSchema = z.object({ id: MessageRefSchema.shape.id, sentAt: Millis, deletedAt: Millis, seq: Seq });

/**
 * A history entry. Records from before reactions, edits and deletes have none
 * of the optional fields and read as before.
 */
const MessageSchema = z
  .object({
    ...messageFields,
    /** The decrypted plaintext exactly as encodeContent produced it; absent once deleted for everyone. */
    content: Bytes.optional(),
    reactions: z.array(ReactionSchema).max(MAX_REACTIONS).optional(),
    edit: EditSchema.optional(),
    deleted: DeletedSchema.optional(),
    /** Disappearing messages: when every device deletes it (ms; settings/disappearing.ts). */
    expiresAt: Millis.optional(),
  })
  .refine((r) => (r.content === undefined) === (r.deleted !== undefined), 'a message has either its content or a deletion')
  .refine((r) => r.deleted === undefined || (r.reactions === undefined && r.edit === undefined), 'a deleted message keeps no reactions or edits');

const NoticeSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('safety_number_changed'),
    userId: UserIdSchema,
    username: z.string().min(1).max(128).nullable(),
    added: z.number().int().min(0),
    removed: z.number().int().min(0),
    reset: z.boolean(),
  }),
  z.object({ kind: z.literal('device_refused'), userId: UserIdSchema, username: z.string().min(1).max(128).nullable(), deviceId: DeviceIdSchema }),
  z.object({ kind: z.literal('messages_undecryptable') }),
]);

/** A notice this device wrote (local only: it has no plaintext and never went over the wire). */
const NoticeRecordSchema = z.object({
  ...messageFields,
  notice: z.object({ type: z.literal('notice'), v: z.literal(1), id: z.string().min(1).max(64), sentAt: z.number().int().min(0), notice: NoticeSchema }),
  /** Position among the notices written for the same seq. */
  index: z.number().int().min(0).max(MAX_NOTICES_PER_SEQ - 1),
});

export interface MessageRecord {
  readonly conversationId: GroupId;
  readonly seq: number;
  readonly senderUserId: UserId;
  readonly senderDeviceId: DeviceId;
  readonly outgoing: boolean;
  readonly receivedAt: number;
  /** The content as it reads now: the latest edit's text applied; `deleted` once deleted for everyone. */
  readonly content: MessageContent | NoticeContent | DeletedContent;
  /** The plaintext bytes as received (the original, before edits; empty for a notice or a deleted message). */
  readonly plaintext: Uint8Array;
  /** Notices only: position among the notices written for the same seq. */
  readonly noticeIndex?: number;
  /** One per person who reacted (latest by seq), removals included. */
  readonly reactions?: readonly ReactionRecord[];
  readonly edit?: EditRecord;
  /** Disappearing messages: when it is deleted on every device (ms); absent: never. */
  readonly expiresAt?: number;
  /** Deleted for everyone: the group seq of the delete (changes before it that arrive later are stale, not invalid). */
  readonly deletedSeq?: number;
}

function parse<T>(schema: z.ZodType<T>, key: string, text: string): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new StoreError('corrupt_record', `messages/${key} is not JSON`, { cause: err });
  }
  const r = schema.safeParse(json);
  if (!r.success) throw new StoreError('corrupt_record', `messages/${key} does not match its schema: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.code}`).join('; ')}`);
  return r.data;
}

export function messageKey(conversationId: GroupId, seq: number): string {
  return `${conversationId}/${seq.toString().padStart(16, '0')}`;
}

/**
 * Notices sit after the message key of their seq ("…0042.0000"), so several
 * fit one seq, they sort with it, and `before` a seq excludes them.
 */
export function noticeKey(conversationId: GroupId, seq: number, index: number): string {
  return `${messageKey(conversationId, seq)}.${index.toString().padStart(4, '0')}`;
}

/** Above every key of `seq` (its message and its notices): the exclusive lower bound of "after seq". */
export function afterKey(conversationId: GroupId, seq: number): string {
  return `${messageKey(conversationId, seq)}~`;
}

/** The text (or caption) of `content` replaced by an edit's. */
function edited(content: MessageContent, edit: EditRecord | undefined): MessageContent {
  if (edit === undefined) return content;
  if (content.type === 'text') return { ...content, text: edit.text };
  if (content.type === 'attachment') return { ...content, caption: edit.text };
  return content;
}

export function toMessage(key: string, text: string): MessageRecord {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new StoreError('corrupt_record', `messages/${key} is not JSON`, { cause: err });
  }
  if (typeof json === 'object' && json !== null && 'notice' in json) {
    const n = parse(NoticeRecordSchema, key, text);
    if (key !== noticeKey(n.conversationId, n.seq, n.index)) throw new StoreError('corrupt_record', `messages/${key} is filed under the wrong key`);
    return {
      conversationId: n.conversationId,
      seq: n.seq,
      senderUserId: n.senderUserId,
      senderDeviceId: n.senderDeviceId,
      outgoing: n.outgoing,
      receivedAt: n.receivedAt,
      content: n.notice,
      plaintext: new Uint8Array(0),
      noticeIndex: n.index,
    };
  }
  const r = parse(MessageSchema, key, text);
  if (key !== messageKey(r.conversationId, r.seq)) throw new StoreError('corrupt_record', `messages/${key} is filed under the wrong key`);
  const head = {
    conversationId: r.conversationId,
    seq: r.seq,
    senderUserId: r.senderUserId,
    senderDeviceId: r.senderDeviceId,
    outgoing: r.outgoing,
    receivedAt: r.receivedAt,
    ...(r.expiresAt === undefined ? {} : { expiresAt: r.expiresAt }),
  };
  if (r.content === undefined || r.deleted !== undefined) {
    const d = r.deleted;
    if (d === undefined) throw new StoreError('corrupt_record', `messages/${key} has no content`);
    return { ...head, content: { type: 'deleted', v: 1, id: d.id, sentAt: d.sentAt, deletedAt: d.deletedAt }, plaintext: new Uint8Array(0), deletedSeq: d.seq };
  }
  const decoded = decodeContent(r.content);
  if (!decoded.ok) throw new StoreError('corrupt_record', `messages/${key} holds invalid content: ${decoded.error.code}`, { cause: decoded.error });
  return {
    ...head,
    content: edited(decoded.content, r.edit),
    plaintext: r.content,
    ...(r.reactions === undefined || r.reactions.length === 0 ? {} : { reactions: r.reactions }),
    ...(r.edit === undefined ? {} : { edit: r.edit }),
  };
}

/** The key and JSON value of a message record (StoreBatch.putMessage). */
export function messageWrite(m: Omit<MessageRecord, 'content'> & { content?: MessageRecord['content'] }): { key: string; value: object } {
  const base = {
    v: RECORD_VERSION,
    conversationId: m.conversationId,
    seq: m.seq,
    senderUserId: m.senderUserId,
    senderDeviceId: m.senderDeviceId,
    outgoing: m.outgoing,
    receivedAt: m.receivedAt,
    ...(m.expiresAt === undefined ? {} : { expiresAt: m.expiresAt }),
  };
  if (m.content?.type === 'notice') {
    const index = m.noticeIndex ?? 0;
    return { key: noticeKey(m.conversationId, m.seq, index), value: { ...base, notice: m.content, index } };
  }
  const key = messageKey(m.conversationId, m.seq);
  if (m.content?.type === 'deleted') {
    const { id, sentAt, deletedAt } = m.content;
    return { key, value: { ...base, deleted: { id, sentAt, deletedAt, seq: m.deletedSeq ?? m.seq } } };
  }
  return {
    key,
    value: {
      ...base,
      content: toBase64Url(m.plaintext),
      ...(m.reactions === undefined || m.reactions.length === 0 ? {} : { reactions: m.reactions.map((x) => ({ userId: x.userId, emoji: x.emoji, seq: x.seq })) }),
      ...(m.edit === undefined ? {} : { edit: { seq: m.edit.seq, text: m.edit.text, editedAt: m.edit.editedAt } }),
    },
  };
}
