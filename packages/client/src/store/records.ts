import { z } from 'zod';
import { DeviceIdSchema, DeviceNameSchema, fromBase64Url, GroupIdSchema, toBase64Url, UserIdSchema } from '@parley/protocol';
import type { GroupId, UserId } from '@parley/protocol';
import { afterKey, messageKey, messageWrite, toMessage } from './message-records.js';
import type { MessageRecord } from './message-records.js';
import { STORE_TABLES, StoreError } from './store.js';
import type { Store, StoreWrite } from './store.js';

export type { EditRecord, MessageRecord, ReactionRecord } from './message-records.js';

/**
 * The typed layer over a Store: every record is JSON with a version, and
 * every record read back is validated (a corrupt or foreign record is a
 * StoreError('corrupt_record'), never a crash further in). Bytes are
 * base64url inside the JSON.
 */

const RECORD_VERSION = 1;
const ACCOUNT_KEY = 'account';
const ACCOUNT_KEYS_KEY = 'account-keys';
/** Account keys a device keeps (one more per rotation); past this the oldest are dropped. */
export const MAX_ACCOUNT_KEYS = 64;

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
  /**
   * This device's name, as the user's devices show it (the server holds it
   * only encrypted). Absent in records from before names were encrypted: the
   * client fills it in from its options when it starts.
   */
  deviceName: DeviceNameSchema.optional(),
});
export type AccountRecord = Omit<z.output<typeof AccountSchema>, 'v'>;

/**
 * The account keys this device holds (devices/self-group.ts), oldest first;
 * the last one is current: new device names are sealed with it.
 */
const AccountKeysSchema = z.object({
  v: z.literal(RECORD_VERSION),
  keys: z
    .array(Bytes.refine((b) => b.length === 32, 'an account key is 32 bytes'))
    .max(MAX_ACCOUNT_KEYS),
});

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

export const ConversationStatusSchema = z.enum(['active', 'removed', 'left', 'rejoining']);
export type ConversationStatus = z.output<typeof ConversationStatusSchema>;

const MemberSchema = z.object({ userId: UserIdSchema, username: z.string().min(1).max(128).nullable(), devices: z.array(DeviceIdSchema).max(5000) });
export type MemberRecord = z.output<typeof MemberSchema>;

const conversationFields = {
  id: GroupIdSchema,
  title: z.string().max(256).nullable(),
  /**
   * `direct` or `group` as the creator (or the latest roster) said; `unknown`:
   * joined from a Welcome, no roster yet. Absent in records written before
   * kinds existed (the kind is then inferred from title and members).
   */
  kind: z.enum(['direct', 'group', 'unknown']).optional(),
  /** Member users as the latest roster named them (usernames are null until a roster arrives). */
  members: z.array(MemberSchema).max(5000),
  status: ConversationStatusSchema,
  createdAt: z.number().int().min(0),
  /** Highest group seq this device has processed (stored with its effects): the dedupe cursor. */
  lastSeq: z.number().int().min(0),
  /** Seqs of this device's own messages and commits above lastSeq (they may come back after a reconnect). */
  ownSeqs: z.array(z.number().int().min(1)).max(10_000),
  /**
   * Disappearing messages (settings/disappearing.ts): the timer in force
   * (ms, null: off) and the latest settings messages by seq, so a message
   * processed late gets the timer of its own seq. Absent in older records: off.
   */
  disappearAfterMs: z.number().int().min(1).nullable().optional(),
  disappearChanges: z
    .array(z.object({ seq: z.number().int().min(1), ms: z.number().int().min(1).nullable() }))
    .max(16)
    .optional(),
  /** This user's view of the conversation (settings/prefs.ts), synced through the self group; absent: off. */
  muted: z.boolean().optional(),
  pinned: z.boolean().optional(),
  archived: z.boolean().optional(),
  /** When the preferences were last set (the setting device's clock, ms): the latest wins. */
  prefsUpdatedAt: z.number().int().min(0).optional(),
  /**
   * Message requests (people/): `pending` until the user accepts; `deleted` once deleted or refused
   * (left, hidden from every list). Absent: accepted (records from before requests stay accepted).
   */
  request: z.enum(['pending', 'deleted']).optional(),
  /** Who added this device (the Welcome's committer), when it was another user. */
  invitedBy: UserIdSchema.optional(),
  /**
   * A 1:1 group opened for Moments (moments/): not listed as a chat until a
   * history entry is stored in it. Absent: a chat like any other.
   */
  quiet: z.literal(true).optional(),
};

/** Version 1: before read positions and unread counts. */
const ConversationV1Schema = z.object({ v: z.literal(1), ...conversationFields });

const CONVERSATION_VERSION = 2;
const ConversationV2Schema = z.object({
  v: z.literal(CONVERSATION_VERSION),
  ...conversationFields,
  /** The read position: messages up to this seq are read (markRead, or this user's own messages). Never moves back. */
  readSeq: z.number().int().min(0),
  /** Stored messages from other users with a seq above readSeq; kept up to date in the batch that stores each message. */
  unread: z.number().int().min(0),
  /** The seq of the latest stored message (null: none yet), for conversation lists without a history scan. */
  lastMessageSeq: z.number().int().min(1).nullable(),
});

/**
 * Either version, read as version 2. A version-1 record reads as fully read
 * (readSeq = lastSeq, nothing unread) with no last message known;
 * ClientRepository.upgradeConversations rewrites such records with their
 * real last message.
 */
const ConversationSchema = z.discriminatedUnion('v', [ConversationV1Schema, ConversationV2Schema]).transform(
  (r): z.output<typeof ConversationV2Schema> => (r.v === CONVERSATION_VERSION ? r : { ...r, v: CONVERSATION_VERSION, readSeq: r.lastSeq, unread: 0, lastMessageSeq: null }),
);
export type ConversationRecord = Omit<z.output<typeof ConversationV2Schema>, 'v'>;

/** The record of a conversation this device just created: nothing received, nothing unread. */
export function newConversationRecord(c: Pick<ConversationRecord, 'id' | 'title' | 'kind' | 'members' | 'quiet'>): ConversationRecord {
  return { ...c, status: 'active', createdAt: Date.now(), lastSeq: 0, ownSeqs: [], readSeq: 0, unread: 0, lastMessageSeq: null };
}

/** A safety number the user compared with someone (meta table, one per other user). */
const VerificationSchema = z.object({
  v: z.literal(RECORD_VERSION),
  userId: UserIdSchema,
  safetyNumber: z.string().regex(/^\d{5}( \d{5}){11}$/),
  verifiedAt: z.number().int().min(0),
  /** Set when a commit changed this user's devices after the verification: it no longer holds. */
  changedAt: z.number().int().min(0).optional(),
});
export type VerificationRecord = Omit<z.output<typeof VerificationSchema>, 'v'>;
const VERIFICATION_PREFIX = 'verification/';

/** A stored JSON record checked against its schema; a StoreError 'corrupt_record' (naming only table, key and failed paths) otherwise. */
export function parseRecord<T>(schema: z.ZodType<T>, table: string, key: string, text: string): T {
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

/** Collects writes for one atomic Store.write. */
export class StoreBatch {
  readonly writes: StoreWrite[] = [];

  private put(table: StoreWrite['table'], key: string, value: object): this {
    this.writes.push({ type: 'put', table, key, value: JSON.stringify(value) });
    return this;
  }

  /**
   * The last write to (table, key) in this batch, if any: lets a run of
   * changes stored in one batch read what an earlier one in it wrote
   * (ClientRepository reads take it as an overlay).
   */
  peek(table: StoreWrite['table'], key: string): StoreWrite | undefined {
    for (let i = this.writes.length - 1; i >= 0; i--) {
      const w = this.writes[i] as StoreWrite;
      if (w.table === table && w.key === key) return w;
    }
    return undefined;
  }

  putAccount(a: AccountRecord): this {
    return this.put('meta', ACCOUNT_KEY, { ...a, v: RECORD_VERSION, identity: toBase64Url(a.identity) });
  }

  putAccountKeys(keys: readonly Uint8Array[]): this {
    return this.put('meta', ACCOUNT_KEYS_KEY, { v: RECORD_VERSION, keys: keys.slice(-MAX_ACCOUNT_KEYS).map((k) => toBase64Url(k)) });
  }

  /** Drops a group's MLS state and its conversation record (a self group this device created in vain). */
  deleteGroup(groupId: GroupId): this {
    this.writes.push({ type: 'delete', table: 'groups', key: groupId }, { type: 'delete', table: 'conversations', key: groupId });
    return this;
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
    return this.put('conversations', c.id, {
      v: CONVERSATION_VERSION,
      id: c.id,
      title: c.title,
      ...(c.kind !== undefined ? { kind: c.kind } : {}),
      members: c.members,
      status: c.status,
      createdAt: c.createdAt,
      lastSeq: c.lastSeq,
      ownSeqs: c.ownSeqs,
      readSeq: c.readSeq,
      unread: c.unread,
      lastMessageSeq: c.lastMessageSeq,
      ...(c.disappearAfterMs === undefined ? {} : { disappearAfterMs: c.disappearAfterMs }),
      ...(c.disappearChanges === undefined ? {} : { disappearChanges: c.disappearChanges }),
      ...(c.muted === undefined ? {} : { muted: c.muted }),
      ...(c.pinned === undefined ? {} : { pinned: c.pinned }),
      ...(c.archived === undefined ? {} : { archived: c.archived }),
      ...(c.prefsUpdatedAt === undefined ? {} : { prefsUpdatedAt: c.prefsUpdatedAt }),
      ...(c.request === undefined ? {} : { request: c.request }),
      ...(c.invitedBy === undefined ? {} : { invitedBy: c.invitedBy }),
      ...(c.quiet === undefined ? {} : { quiet: c.quiet }),
    });
  }

  putVerification(r: VerificationRecord): this {
    return this.put('meta', VERIFICATION_PREFIX + r.userId, {
      v: RECORD_VERSION,
      userId: r.userId,
      safetyNumber: r.safetyNumber,
      verifiedAt: r.verifiedAt,
      ...(r.changedAt === undefined ? {} : { changedAt: r.changedAt }),
    });
  }

  deleteVerification(userId: UserId): this {
    this.writes.push({ type: 'delete', table: 'meta', key: VERIFICATION_PREFIX + userId });
    return this;
  }

  /** A value a feature module encoded and validates itself (media/media-records.ts: chunks that are not JSON). */
  putText(table: StoreWrite['table'], key: string, value: string): this {
    this.writes.push({ type: 'put', table, key, value });
    return this;
  }

  /** Deletes a history entry (a disappearing message that expired). */
  deleteMessage(conversationId: GroupId, seq: number): this {
    this.writes.push({ type: 'delete', table: 'messages', key: messageKey(conversationId, seq) });
    return this;
  }

  /** Deletes every given entry (see ClientRepository.allKeys). */
  deleteAll(entries: Iterable<{ table: StoreWrite['table']; key: string }>): this {
    for (const e of entries) this.writes.push({ type: 'delete', table: e.table, key: e.key });
    return this;
  }

  putMessage(m: Omit<MessageRecord, 'content'> & { content?: MessageRecord['content'] }): this {
    const { key, value } = messageWrite(m);
    return this.put('messages', key, value);
  }

}

/** Typed, validated access to a Store. */
export class ClientRepository {
  private sealed = false;
  /** Adds the writes that follow from a batch's own, in the same batch, right before it is stored (search/: the index follows every history entry). */
  beforeCommit: ((batch: StoreBatch) => Promise<void>) | undefined;

  constructor(readonly store: Store) {}

  async commit(batch: StoreBatch): Promise<void> {
    if (this.sealed) throw new StoreError('closed', 'the store was wiped; nothing more is written to it');
    if (this.beforeCommit !== undefined && batch.writes.length > 0) await this.beforeCommit(batch);
    if (batch.writes.length > 0) await this.store.write(batch.writes);
  }

  /** Deletes every record in every table in one batch; after that this repository writes nothing more. */
  async wipe(): Promise<void> {
    // Sealed first: anything still running (a key-package refill, a send) must not write keys back afterwards.
    this.sealed = true;
    const batch = new StoreBatch().deleteAll(await this.allKeys());
    if (batch.writes.length > 0) await this.store.write(batch.writes);
  }

  async account(): Promise<AccountRecord | undefined> {
    const text = await this.store.get('meta', ACCOUNT_KEY);
    return text === undefined ? undefined : parseRecord(AccountSchema, 'meta', ACCOUNT_KEY, text);
  }

  /** The account keys this device holds, oldest first (empty when it holds none). */
  async accountKeys(): Promise<Uint8Array[]> {
    const text = await this.store.get('meta', ACCOUNT_KEYS_KEY);
    return text === undefined ? [] : parseRecord(AccountKeysSchema, 'meta', ACCOUNT_KEYS_KEY, text).keys;
  }

  async keyPackage(ref: string): Promise<KeyPackageRecord | undefined> {
    const text = await this.store.get('key_packages', ref);
    if (text === undefined) return undefined;
    const r = parseRecord(KeyPackageSchema, 'key_packages', ref, text);
    if (r.ref !== ref) throw new StoreError('corrupt_record', `key_packages/${ref} is filed under the wrong key`);
    return r;
  }

  async keyPackageCount(): Promise<number> {
    return (await this.store.list('key_packages')).length;
  }

  async group(groupId: GroupId): Promise<GroupStateRecord | undefined> {
    const text = await this.store.get('groups', groupId);
    if (text === undefined) return undefined;
    const r = parseRecord(GroupStateSchema, 'groups', groupId, text);
    if (r.groupId !== groupId) throw new StoreError('corrupt_record', `groups/${groupId} is filed under the wrong key`);
    return r;
  }

  async conversation(id: GroupId): Promise<ConversationRecord | undefined> {
    const text = await this.store.get('conversations', id);
    if (text === undefined) return undefined;
    const r = parseRecord(ConversationSchema, 'conversations', id, text);
    if (r.id !== id) throw new StoreError('corrupt_record', `conversations/${id} is filed under the wrong key`);
    return r;
  }

  async conversations(): Promise<ConversationRecord[]> {
    const rows = await this.store.list('conversations');
    return rows.map((row) => {
      const r = parseRecord(ConversationSchema, 'conversations', row.key, row.value);
      if (r.id !== row.key) throw new StoreError('corrupt_record', `conversations/${row.key} is filed under the wrong key`);
      return r;
    });
  }

  /**
   * Stored messages in ascending seq order. `afterSeq` / `beforeSeq` are
   * exclusive bounds. `limit` takes the messages nearest the lower end,
   * unless `fromEnd` (then the ones nearest the upper end: the latest ones,
   * or those just below beforeSeq) — still returned in ascending order.
   */
  async messages(conversationId: GroupId, options: { afterSeq?: number; beforeSeq?: number; limit?: number; fromEnd?: boolean } = {}): Promise<MessageRecord[]> {
    const fromEnd = options.fromEnd === true;
    const rows = await this.store.list('messages', {
      prefix: `${conversationId}/`,
      ...(options.afterSeq === undefined ? {} : { after: afterKey(conversationId, options.afterSeq) }),
      ...(options.beforeSeq === undefined ? {} : { before: messageKey(conversationId, options.beforeSeq) }),
      ...(options.limit === undefined ? {} : { limit: options.limit }),
      ...(fromEnd ? { reverse: true } : {}),
    });
    const messages = rows.map((row) => toMessage(row.key, row.value));
    return fromEnd ? messages.reverse() : messages;
  }

  /**
   * Stored messages from users other than `me` with a seq above `readSeq`
   * (notices never count); with `overlay`, as they will be once that batch is
   * written (the inbox stores a run of messages in one batch). With
   * `lastMessageSeq` (the conversation's latest stored message), a read
   * position at or above it is 0 without reading the history — the common
   * case of reading up to the end.
   */
  async countUnread(conversationId: GroupId, readSeq: number, me: UserId, overlay?: StoreBatch, lastMessageSeq?: number | null): Promise<number> {
    if (lastMessageSeq !== undefined && readSeq >= (lastMessageSeq ?? 0)) return 0;
    const after = afterKey(conversationId, readSeq);
    const prefix = `${conversationId}/`;
    const rows = new Map((await this.store.list('messages', { prefix, after })).map((row) => [row.key, row.value]));
    for (const w of overlay?.writes ?? []) {
      if (w.table !== 'messages' || !w.key.startsWith(prefix) || w.key <= after) continue;
      if (w.type === 'put') rows.set(w.key, w.value);
      else rows.delete(w.key);
    }
    let unread = 0;
    for (const [key, value] of rows) {
      const m = toMessage(key, value);
      if (!m.outgoing && m.senderUserId !== me && m.content.type !== 'notice') unread++;
    }
    return unread;
  }

  /**
   * Rewrites version-1 conversation records as version 2 in one batch,
   * filling in their last message from the history. Their read position is
   * their processed cursor: nothing stored before the upgrade counts as
   * unread. Returns how many records it upgraded.
   */
  async upgradeConversations(): Promise<number> {
    const batch = new StoreBatch();
    for (const row of await this.store.list('conversations')) {
      let version: unknown;
      try {
        version = (JSON.parse(row.value) as { v?: unknown } | null)?.v;
      } catch {
        continue; // corrupt: reported by the reads that need it
      }
      if (version !== 1) continue;
      const c = parseRecord(ConversationSchema, 'conversations', row.key, row.value);
      const prefix = `${c.id}/`;
      const [last] = await this.store.list('messages', { prefix, reverse: true, limit: 1 });
      const seq = last === undefined ? NaN : Number(last.key.slice(prefix.length));
      batch.putConversation({ ...c, lastMessageSeq: Number.isSafeInteger(seq) && seq >= 1 ? seq : null });
    }
    await this.commit(batch);
    return batch.writes.length;
  }

  async verification(userId: UserId): Promise<VerificationRecord | undefined> {
    const key = VERIFICATION_PREFIX + userId;
    const text = await this.store.get('meta', key);
    if (text === undefined) return undefined;
    const r = parseRecord(VerificationSchema, 'meta', key, text);
    if (r.userId !== userId) throw new StoreError('corrupt_record', `meta/${key} is filed under the wrong key`);
    return r;
  }

  /** Every stored verification. */
  async verifications(): Promise<VerificationRecord[]> {
    const rows = await this.store.list('meta', { prefix: VERIFICATION_PREFIX });
    return rows.map((row) => {
      const r = parseRecord(VerificationSchema, 'meta', row.key, row.value);
      if (row.key !== VERIFICATION_PREFIX + r.userId) throw new StoreError('corrupt_record', `meta/${row.key} is filed under the wrong key`);
      return r;
    });
  }

  /** Every key in every table (for wiping the store). */
  async allKeys(): Promise<Array<{ table: StoreWrite['table']; key: string }>> {
    const out: Array<{ table: StoreWrite['table']; key: string }> = [];
    for (const table of STORE_TABLES) for (const e of await this.store.list(table)) out.push({ table, key: e.key });
    return out;
  }

  /** A stored message; with `overlay`, as it will be once that batch is written. */
  async message(conversationId: GroupId, seq: number, overlay?: StoreBatch): Promise<MessageRecord | undefined> {
    const key = messageKey(conversationId, seq);
    const pending = overlay?.peek('messages', key);
    const text = pending === undefined ? await this.store.get('messages', key) : pending.type === 'put' ? pending.value : undefined;
    return text === undefined ? undefined : toMessage(key, text);
  }
}
