import { z } from 'zod';
import type { GroupId, UserId } from '@parley/protocol';
import type { ClientRepository, StoreBatch } from '../store/records.js';
import { StoreError } from '../store/store.js';
import { BlockEntrySchema, ContactEntrySchema, RequestEntrySchema } from './people-entries.js';
import type { BlockEntry, ContactEntry, RequestEntry } from './people-entries.js';

/**
 * Where the people lists live on the device: the `meta` table, one record per
 * entry, under `people/contact/<userId>`, `people/block/<userId>` and
 * `people/request/<conversationId>`; JSON `{ v: 1, …entry }`, validated when
 * read back (a record that does not match, or sits under another key, is a
 * StoreError 'corrupt_record'). Tombstones are kept (they carry the time a
 * removal won over older copies still travelling).
 */

const RECORD_VERSION = 1;
const CONTACT_PREFIX = 'people/contact/';
const BLOCK_PREFIX = 'people/block/';
const REQUEST_PREFIX = 'people/request/';

const ContactRecord = ContactEntrySchema.extend({ v: z.literal(RECORD_VERSION) });
const BlockRecord = BlockEntrySchema.extend({ v: z.literal(RECORD_VERSION) });
const RequestRecord = RequestEntrySchema.extend({ v: z.literal(RECORD_VERSION) });

function parse<T extends { v: number }>(schema: z.ZodType<T>, key: string, text: string, keyOf: (r: T) => string): Omit<T, 'v'> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new StoreError('corrupt_record', `meta/${key} is not JSON`, { cause: err });
  }
  const r = schema.safeParse(json);
  if (!r.success) throw new StoreError('corrupt_record', `meta/${key} does not match its schema: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.code}`).join('; ')}`);
  if (keyOf(r.data) !== key) throw new StoreError('corrupt_record', `meta/${key} is filed under the wrong key`);
  const { v: _v, ...entry } = r.data;
  return entry;
}

/** Typed access to the people records of one store. */
export class PeopleRecords {
  constructor(private readonly repo: ClientRepository) {}

  async contacts(): Promise<ContactEntry[]> {
    const rows = await this.repo.store.list('meta', { prefix: CONTACT_PREFIX });
    return rows.map((row) => parse(ContactRecord, row.key, row.value, (r) => CONTACT_PREFIX + r.userId));
  }

  async contact(userId: UserId): Promise<ContactEntry | undefined> {
    const key = CONTACT_PREFIX + userId;
    const text = await this.repo.store.get('meta', key);
    return text === undefined ? undefined : parse(ContactRecord, key, text, (r) => CONTACT_PREFIX + r.userId);
  }

  async blocks(): Promise<BlockEntry[]> {
    const rows = await this.repo.store.list('meta', { prefix: BLOCK_PREFIX });
    return rows.map((row) => parse(BlockRecord, row.key, row.value, (r) => BLOCK_PREFIX + r.userId));
  }

  async block(userId: UserId): Promise<BlockEntry | undefined> {
    const key = BLOCK_PREFIX + userId;
    const text = await this.repo.store.get('meta', key);
    return text === undefined ? undefined : parse(BlockRecord, key, text, (r) => BLOCK_PREFIX + r.userId);
  }

  async requests(): Promise<RequestEntry[]> {
    const rows = await this.repo.store.list('meta', { prefix: REQUEST_PREFIX });
    return rows.map((row) => parse(RequestRecord, row.key, row.value, (r) => REQUEST_PREFIX + r.conversationId));
  }

  async request(conversationId: GroupId): Promise<RequestEntry | undefined> {
    const key = REQUEST_PREFIX + conversationId;
    const text = await this.repo.store.get('meta', key);
    return text === undefined ? undefined : parse(RequestRecord, key, text, (r) => REQUEST_PREFIX + r.conversationId);
  }
}

export function putContact(batch: StoreBatch, e: ContactEntry): StoreBatch {
  const { userId, username, nickname, addedAt, updatedAt, removed } = e;
  return batch.putText('meta', CONTACT_PREFIX + userId, JSON.stringify({ v: RECORD_VERSION, userId, username, nickname, addedAt, updatedAt, removed }));
}

export function putBlock(batch: StoreBatch, e: BlockEntry): StoreBatch {
  const { userId, username, blockedAt, updatedAt, blocked } = e;
  return batch.putText('meta', BLOCK_PREFIX + userId, JSON.stringify({ v: RECORD_VERSION, userId, username, blockedAt, updatedAt, blocked }));
}

export function putRequest(batch: StoreBatch, e: RequestEntry): StoreBatch {
  const { conversationId, state, inviter, updatedAt } = e;
  return batch.putText('meta', REQUEST_PREFIX + conversationId, JSON.stringify({ v: RECORD_VERSION, conversationId, state, inviter, updatedAt }));
}
