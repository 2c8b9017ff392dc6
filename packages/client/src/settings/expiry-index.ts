import { z } from 'zod';
import { GroupIdSchema } from '@parley/protocol';
import type { GroupId } from '@parley/protocol';
import type { StoreBatch } from '../store/records.js';
import type { Store } from '../store/store.js';

/**
 * The index of disappearing messages, in the `meta` table: one key per
 * message that will expire, `expiry/<expiresAt, 16 digits>/<conversation>/<seq, 16 digits>`,
 * so the due ones are one range read in time order and the sweeper never
 * scans a history. Written in the batch that stores the message, deleted in
 * the batch that deletes it. Every entry read back is checked against its key.
 */

export const EXPIRY_PREFIX = 'expiry/';
const VERSION = 1;
/** Due entries handled per sweep step (the next step follows at once). */
export const EXPIRY_PAGE = 200;

const EntrySchema = z.object({
  v: z.literal(VERSION),
  conversationId: GroupIdSchema,
  seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  expiresAt: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
});

export interface ExpiryEntry {
  readonly key: string;
  readonly conversationId: GroupId;
  readonly seq: number;
  readonly expiresAt: number;
}

const pad = (n: number) => n.toString().padStart(16, '0');

export function expiryKey(expiresAt: number, conversationId: GroupId, seq: number): string {
  return `${EXPIRY_PREFIX}${pad(expiresAt)}/${conversationId}/${pad(seq)}`;
}

/** Adds a message's entry to `batch`. */
export function putExpiry(batch: StoreBatch, conversationId: GroupId, seq: number, expiresAt: number): void {
  batch.putText('meta', expiryKey(expiresAt, conversationId, seq), JSON.stringify({ v: VERSION, conversationId, seq, expiresAt }));
}

export function deleteExpiry(batch: StoreBatch, key: string): void {
  batch.deleteAll([{ table: 'meta', key }]);
}

/** An entry read back, or undefined when it is malformed or filed under the wrong key (the caller drops it). */
function parseEntry(key: string, value: string): ExpiryEntry | undefined {
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    return undefined;
  }
  const r = EntrySchema.safeParse(json);
  if (!r.success || expiryKey(r.data.expiresAt, r.data.conversationId, r.data.seq) !== key) return undefined;
  return { key, conversationId: r.data.conversationId, seq: r.data.seq, expiresAt: r.data.expiresAt };
}

/** Entries due at `now` (expiresAt ≤ now), oldest first, at most `limit`; malformed ones come back as `bad` keys. */
export async function dueExpiries(store: Store, now: number, limit = EXPIRY_PAGE): Promise<{ due: ExpiryEntry[]; bad: string[] }> {
  const rows = await store.list('meta', { prefix: EXPIRY_PREFIX, before: `${EXPIRY_PREFIX}${pad(now + 1)}`, limit });
  const due: ExpiryEntry[] = [];
  const bad: string[] = [];
  for (const row of rows) {
    const e = parseEntry(row.key, row.value);
    if (e === undefined) bad.push(row.key);
    else due.push(e);
  }
  return { due, bad };
}

/** When the next entry is due (undefined: none). */
export async function nextExpiry(store: Store): Promise<number | undefined> {
  const [first] = await store.list('meta', { prefix: EXPIRY_PREFIX, limit: 1 });
  if (first === undefined) return undefined;
  const t = Number(first.key.slice(EXPIRY_PREFIX.length, EXPIRY_PREFIX.length + 16));
  return Number.isSafeInteger(t) ? t : 0;
}
