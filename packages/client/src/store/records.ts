import { z } from 'zod';
import { decodeContent } from '@parley/crypto';
import type { MessageContent } from '@parley/crypto';
import { DeviceIdSchema, fromBase64Url, GroupIdSchema, toBase64Url, UserIdSchema } from '@parley/protocol';
import type { DeviceId, GroupId, UserId } from '@parley/protocol';
import { StoreError } from './store.js';
import type { Store, StoreWrite } from './store.js';

/**
 * The typed layer over a Store: every record is JSON with a version, and
 * every record read back is validated (a corrupt or foreign record is a
 * StoreError('corrupt_record'), never a crash further in). Bytes are
 * base64url inside the JSON.
 */

const RECORD_VERSION = 1;
const ACCOUNT_KEY = 'account';

const Bytes = z.string().transform((s, ctx) => {
  const bytes = fromBase64Url(s);
  if (bytes === undefined) {
    ctx.addIssue({ code: 'custom', message: 'invalid base64url' });
    return z.NEVER;
  }
  return bytes;
});

const AccountSchema = z.object({
  v: z.literal(RECORD_VERSION),
  userId: UserIdSchema,
  username: z.string().min(1).max(128),
  deviceId: DeviceIdSchema,
  token: z.string().min(1).max(256),
  /** exportDeviceIdentity bytes: includes the signature private key. */
  identity: Bytes,
});
export type AccountRecord = Omit<z.output<typeof AccountSchema>, 'v'>;

const KeyPackageSchema = z.object({
  v: z.literal(RECORD_VERSION),
  ref: z.string().regex(/^[0-9a-f]{2,128}$/),
  bundle: Bytes,
  lastResort: z.boolean(),
});
export type KeyPackageRecord = Omit<z.output<typeof KeyPackageSchema>, 'v'>;

const GroupStateSchema = z.object({
  v: z.literal(RECORD_VERSION),
  groupId: GroupIdSchema,
  secrets: Bytes,
  ratchetTree: Bytes,
});
export type GroupStateRecord = Omit<z.output<typeof GroupStateSchema>, 'v'>;

export const ConversationStatusSchema = z.enum(['active', 'removed', 'left']);
export type ConversationStatus = z.output<typeof ConversationStatusSchema>;

const MemberSchema = z.object({ userId: UserIdSchema, username: z.string().min(1).max(128).nullable(), devices: z.array(DeviceIdSchema).max(5000) });
export type MemberRecord = z.output<typeof MemberSchema>;

const ConversationSchema = z.object({
  v: z.literal(RECORD_VERSION),
  id: GroupIdSchema,
  title: z.string().max(256).nullable(),
  /** Member users as the latest roster named them (usernames are null until a roster arrives). */
  members: z.array(MemberSchema).max(5000),
  status: ConversationStatusSchema,
  createdAt: z.number().int().min(0),
  /** Highest group seq this device has processed (stored with its effects): the dedupe cursor. */
  lastSeq: z.number().int().min(0),
  /** Seqs of this device's own messages and commits above lastSeq (they may come back after a reconnect). */
  ownSeqs: z.array(z.number().int().min(1)).max(10_000),
});
export type ConversationRecord = Omit<z.output<typeof ConversationSchema>, 'v'>;

const MessageSchema = z.object({
  v: z.literal(RECORD_VERSION),
  conversationId: GroupIdSchema,
  seq: z.number().int().min(1),
  senderUserId: UserIdSchema,
  senderDeviceId: DeviceIdSchema,
  outgoing: z.boolean(),
  receivedAt: z.number().int().min(0),
  /** The decrypted plaintext exactly as encodeContent produced it; decoded (and so validated) on every read. */
  content: Bytes,
});

export interface MessageRecord {
  readonly conversationId: GroupId;
  readonly seq: number;
  readonly senderUserId: UserId;
  readonly senderDeviceId: DeviceId;
  readonly outgoing: boolean;
  readonly receivedAt: number;
  readonly content: MessageContent;
  /** The plaintext bytes, as stored. */
  readonly plaintext: Uint8Array;
}

function parse<T>(schema: z.ZodType<T>, table: string, key: string, text: string): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new StoreError('corrupt_record', `${table}/${key} is not JSON`, { cause: err });
  }
  const r = schema.safeParse(json);
  if (!r.success) throw new StoreError('corrupt_record', `${table}/${key} does not match its schema: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.code}`).join('; ')}`);
  return r.data;
}

function messageKey(conversationId: GroupId, seq: number): string {
  return `${conversationId}/${seq.toString().padStart(16, '0')}`;
}

function toMessage(key: string, text: string): MessageRecord {
  const r = parse(MessageSchema, 'messages', key, text);
  const decoded = decodeContent(r.content);
  if (!decoded.ok) throw new StoreError('corrupt_record', `messages/${key} holds invalid content: ${decoded.error.code}`, { cause: decoded.error });
  if (key !== messageKey(r.conversationId, r.seq)) throw new StoreError('corrupt_record', `messages/${key} is filed under the wrong key`);
  return {
    conversationId: r.conversationId,
    seq: r.seq,
    senderUserId: r.senderUserId,
    senderDeviceId: r.senderDeviceId,
    outgoing: r.outgoing,
    receivedAt: r.receivedAt,
    content: decoded.content,
    plaintext: r.content,
  };
}

/** Collects writes for one atomic Store.write. */
export class StoreBatch {
  readonly writes: StoreWrite[] = [];

  private put(table: StoreWrite['table'], key: string, value: object): this {
    this.writes.push({ type: 'put', table, key, value: JSON.stringify(value) });
    return this;
  }

  putAccount(a: AccountRecord): this {
    return this.put('meta', ACCOUNT_KEY, { ...a, v: RECORD_VERSION, identity: toBase64Url(a.identity) });
  }

  putKeyPackage(k: KeyPackageRecord): this {
    return this.put('key_packages', k.ref, { ...k, v: RECORD_VERSION, bundle: toBase64Url(k.bundle) });
  }

  deleteKeyPackage(ref: string): this {
    this.writes.push({ type: 'delete', table: 'key_packages', key: ref });
    return this;
  }

  putGroup(g: GroupStateRecord): this {
    return this.put('groups', g.groupId, { v: RECORD_VERSION, groupId: g.groupId, secrets: toBase64Url(g.secrets), ratchetTree: toBase64Url(g.ratchetTree) });
  }

  putConversation(c: ConversationRecord): this {
    return this.put('conversations', c.id, { ...c, v: RECORD_VERSION });
  }

  putMessage(m: Omit<MessageRecord, 'content'>): this {
    return this.put('messages', messageKey(m.conversationId, m.seq), {
      v: RECORD_VERSION,
      conversationId: m.conversationId,
      seq: m.seq,
      senderUserId: m.senderUserId,
      senderDeviceId: m.senderDeviceId,
      outgoing: m.outgoing,
      receivedAt: m.receivedAt,
      content: toBase64Url(m.plaintext),
    });
  }
}

/** Typed, validated access to a Store. */
export class ClientRepository {
  constructor(readonly store: Store) {}

  async commit(batch: StoreBatch): Promise<void> {
    if (batch.writes.length > 0) await this.store.write(batch.writes);
  }

  async account(): Promise<AccountRecord | undefined> {
    const text = await this.store.get('meta', ACCOUNT_KEY);
    return text === undefined ? undefined : parse(AccountSchema, 'meta', ACCOUNT_KEY, text);
  }

  async keyPackage(ref: string): Promise<KeyPackageRecord | undefined> {
    const text = await this.store.get('key_packages', ref);
    if (text === undefined) return undefined;
    const r = parse(KeyPackageSchema, 'key_packages', ref, text);
    if (r.ref !== ref) throw new StoreError('corrupt_record', `key_packages/${ref} is filed under the wrong key`);
    return r;
  }

  async keyPackageCount(): Promise<number> {
    return (await this.store.list('key_packages')).length;
  }

  async group(groupId: GroupId): Promise<GroupStateRecord | undefined> {
    const text = await this.store.get('groups', groupId);
    if (text === undefined) return undefined;
    const r = parse(GroupStateSchema, 'groups', groupId, text);
    if (r.groupId !== groupId) throw new StoreError('corrupt_record', `groups/${groupId} is filed under the wrong key`);
    return r;
  }

  async conversation(id: GroupId): Promise<ConversationRecord | undefined> {
    const text = await this.store.get('conversations', id);
    if (text === undefined) return undefined;
    const r = parse(ConversationSchema, 'conversations', id, text);
    if (r.id !== id) throw new StoreError('corrupt_record', `conversations/${id} is filed under the wrong key`);
    return r;
  }

  async conversations(): Promise<ConversationRecord[]> {
    const rows = await this.store.list('conversations');
    return rows.map((row) => {
      const r = parse(ConversationSchema, 'conversations', row.key, row.value);
      if (r.id !== row.key) throw new StoreError('corrupt_record', `conversations/${row.key} is filed under the wrong key`);
      return r;
    });
  }

  async messages(conversationId: GroupId, options: { afterSeq?: number; limit?: number } = {}): Promise<MessageRecord[]> {
    const rows = await this.store.list('messages', {
      prefix: `${conversationId}/`,
      ...(options.afterSeq === undefined ? {} : { after: messageKey(conversationId, options.afterSeq) }),
      ...(options.limit === undefined ? {} : { limit: options.limit }),
    });
    return rows.map((row) => toMessage(row.key, row.value));
  }

  async message(conversationId: GroupId, seq: number): Promise<MessageRecord | undefined> {
    const key = messageKey(conversationId, seq);
    const text = await this.store.get('messages', key);
    return text === undefined ? undefined : toMessage(key, text);
  }
}
