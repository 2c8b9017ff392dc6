import type { MessageContent } from '@parley/crypto';
import type { GroupId, UserId } from '@parley/protocol';
import type { ClientRepository, MessageRecord, StoreBatch } from '../store/records.js';
import type { Message, MessageUser, ReactionSummary, ReplyPreview } from '../types.js';

/** A quoted text is cut to this many characters (UTF-16 code units, not splitting a surrogate pair). */
export const REPLY_PREVIEW_LENGTH = 200;

/** The fields of a Message that replies, reactions, edits and deletes add, from its record. */
export type ChangeFields = Pick<Message, 'id' | 'replyTo' | 'reactions' | 'editedAt' | 'deleted'>;

/**
 * The change fields of a record. `replyTo` is only the reference here
 * (available: false); resolveReplies fills it in from the store.
 */
export function changeFields(m: MessageRecord, me: UserId | undefined, nameOf: (userId: UserId) => string | null): ChangeFields {
  const c = m.content;
  const ref = c.type === 'text' || c.type === 'attachment' || c.type === 'voice' ? c.replyTo : undefined;
  return {
    id: c.id,
    replyTo: ref === undefined ? null : { seq: ref.seq, id: ref.id, available: false, sender: null, preview: null },
    reactions: summarize(m.reactions ?? [], me, nameOf),
    editedAt: m.edit?.editedAt ?? null,
    deleted: c.type === 'deleted',
  };
}

function summarize(reactions: NonNullable<MessageRecord['reactions']>, me: UserId | undefined, nameOf: (userId: UserId) => string | null): ReactionSummary[] {
  const byEmoji = new Map<string, { users: MessageUser[]; mine: boolean }>();
  for (const r of [...reactions].sort((a, b) => a.seq - b.seq)) {
    if (r.emoji === null) continue;
    let entry = byEmoji.get(r.emoji);
    if (entry === undefined) byEmoji.set(r.emoji, (entry = { users: [], mine: false }));
    entry.users.push({ userId: r.userId, username: nameOf(r.userId) });
    if (r.userId === me) entry.mine = true;
  }
  return [...byEmoji].map(([emoji, e]) => ({ emoji, users: e.users, mine: e.mine }));
}

/** What a quote shows of a message. */
export function previewOf(content: MessageContent): string | null {
  switch (content.type) {
    case 'text':
      return cut(content.text);
    case 'attachment':
      return content.image !== undefined || content.mimeType.startsWith('image/') ? 'Photo' : content.fileName;
    case 'voice':
      return 'Voice message';
    default:
      return null;
  }
}

function cut(text: string): string {
  if (text.length <= REPLY_PREVIEW_LENGTH) return text;
  let end = REPLY_PREVIEW_LENGTH;
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

/** The quoted message as this device has it: unavailable when missing, deleted, or another message at that seq. */
export function resolveReply(ref: ReplyPreview, quoted: MessageRecord | undefined, nameOf: (userId: UserId) => string | null): ReplyPreview {
  const c = quoted?.content;
  if (quoted === undefined || c === undefined || c.type === 'notice' || c.type === 'deleted' || c.id !== ref.id) return { seq: ref.seq, id: ref.id, available: false, sender: null, preview: null };
  return { seq: ref.seq, id: ref.id, available: true, sender: { userId: quoted.senderUserId, username: nameOf(quoted.senderUserId) }, preview: previewOf(c) };
}

/** Fills in the quoted messages of `messages` (one store read per distinct quoted seq). */
export async function resolveReplies(repo: ClientRepository, messages: readonly Message[], nameOf: (userId: UserId) => string | null, overlay?: StoreBatch): Promise<Message[]> {
  const cache = new Map<string, Promise<MessageRecord | undefined>>();
  const read = (conversationId: GroupId, seq: number) => {
    const key = `${conversationId}/${seq}`;
    let p = cache.get(key);
    if (p === undefined) cache.set(key, (p = repo.message(conversationId, seq, overlay).catch(() => undefined)));
    return p;
  };
  return Promise.all(
    messages.map(async (m) => {
      if (m.replyTo === null) return m;
      return { ...m, replyTo: resolveReply(m.replyTo, await read(m.conversationId, m.replyTo.seq), nameOf) };
    }),
  );
}

/**
 * `message` events in the order they were raised, each reply's quote filled
 * in first (a store read): a message without an unresolved quote goes out at
 * once unless one before it is still being resolved.
 */
export class OrderedMessageEvents {
  private pending = 0;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly repo: ClientRepository,
    private readonly nameOf: (userId: UserId) => string | null,
  ) {}

  emit(message: Message, deliver: (message: Message) => void): void {
    if (this.pending === 0 && (message.replyTo === null || message.replyTo.available)) {
      deliver(message);
      return;
    }
    this.pending++;
    this.chain = this.chain.then(async () => {
      let out = message;
      try {
        if (message.replyTo !== null && !message.replyTo.available) [out = message] = await resolveReplies(this.repo, [message], this.nameOf);
      } finally {
        this.pending--;
        deliver(out);
      }
    });
  }
}
