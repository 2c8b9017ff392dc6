import { z } from 'zod';
import { isServerId, MAX_GROUP_DEVICES } from '@parley/protocol';
import type { GroupId, UserId } from '@parley/protocol';
import { StoreError } from '../store/store.js';
import type { Store } from '../store/store.js';
import type { StoreBatch } from '../store/records.js';

/**
 * Receipts as this device keeps them (meta table, one small record per
 * conversation, `receipts/<conversationId>`): per other user, the highest
 * seq any of their devices stored (`delivered`) and the highest they read
 * (`read`, only from users who share read receipts). Cumulative, so a record
 * never grows with the number of messages. And the read-receipt setting
 * (`settings/read-receipts`).
 */

export const RECEIPTS_PREFIX = 'receipts/';
export const READ_RECEIPTS_KEY = 'settings/read-receipts';
const RECORD_VERSION = 1;
const Seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

const ReceiptsSchema = z.object({
  v: z.literal(RECORD_VERSION),
  users: z
    .record(z.string(), z.object({ delivered: Seq, read: Seq }))
    .refine((u) => Object.keys(u).length <= MAX_GROUP_DEVICES && Object.keys(u).every(isServerId), 'invalid users'),
});

const SettingSchema = z.object({ v: z.literal(RECORD_VERSION), on: z.boolean(), updatedAt: Seq.optional() });

/** The read-receipt setting and when the user set it (on some device of theirs; 0: never). */
export interface ReceiptSetting {
  readonly on: boolean;
  readonly updatedAt: number;
}

export interface UserReceipt {
  readonly delivered: number;
  readonly read: number;
}

export type ReceiptsRecord = ReadonlyMap<UserId, UserReceipt>;

export function receiptsKey(conversationId: GroupId): string {
  return RECEIPTS_PREFIX + conversationId;
}

function parse<T>(schema: z.ZodType<T>, key: string, text: string): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new StoreError('corrupt_record', `meta/${key} is not JSON`, { cause: err });
  }
  const r = schema.safeParse(json);
  if (!r.success) throw new StoreError('corrupt_record', `meta/${key} does not match its schema`);
  return r.data;
}

function decodeReceipts(key: string, text: string): ReceiptsRecord {
  const r = parse(ReceiptsSchema, key, text);
  return new Map(Object.entries(r.users).map(([userId, u]) => [userId as UserId, { delivered: u.delivered, read: Math.min(u.read, u.delivered) }]));
}

/** Every conversation's receipts (one list call; the records are small). */
export async function loadAllReceipts(store: Store): Promise<Map<GroupId, ReceiptsRecord>> {
  const out = new Map<GroupId, ReceiptsRecord>();
  for (const row of await store.list('meta', { prefix: RECEIPTS_PREFIX })) {
    out.set(row.key.slice(RECEIPTS_PREFIX.length) as GroupId, decodeReceipts(row.key, row.value));
  }
  return out;
}

/** A conversation's receipts as they will be once `overlay` is written. */
export async function readReceipts(store: Store, conversationId: GroupId, overlay?: StoreBatch): Promise<ReceiptsRecord> {
  const key = receiptsKey(conversationId);
  const pending = overlay?.peek('meta', key);
  const text = pending === undefined ? await store.get('meta', key) : pending.type === 'put' ? pending.value : undefined;
  return text === undefined ? new Map() : decodeReceipts(key, text);
}

export function putReceipts(batch: StoreBatch, conversationId: GroupId, record: ReceiptsRecord): void {
  const users: Record<string, UserReceipt> = {};
  for (const [userId, u] of record) users[userId] = { delivered: u.delivered, read: u.read };
  batch.writes.push({ type: 'put', table: 'meta', key: receiptsKey(conversationId), value: JSON.stringify({ v: RECORD_VERSION, users }) });
}

/** On unless the user turned it off. */
export async function readReceiptSetting(store: Store): Promise<ReceiptSetting> {
  const text = await store.get('meta', READ_RECEIPTS_KEY);
  if (text === undefined) return { on: true, updatedAt: 0 };
  const r = parse(SettingSchema, READ_RECEIPTS_KEY, text);
  return { on: r.on, updatedAt: r.updatedAt ?? 0 };
}

export function putReceiptSetting(batch: StoreBatch, setting: ReceiptSetting): void {
  batch.writes.push({ type: 'put', table: 'meta', key: READ_RECEIPTS_KEY, value: JSON.stringify({ v: RECORD_VERSION, on: setting.on, updatedAt: setting.updatedAt }) });
}
