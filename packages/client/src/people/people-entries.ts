import { z } from 'zod';
import { GroupIdSchema, UserIdSchema } from '@parley/protocol';
import type { GroupId, UserId } from '@parley/protocol';

/**
 * The entries of this user's people lists — contacts, blocks and decisions on
 * message requests — as they are stored (meta table, people-records.ts) and as
 * they travel between the user's own devices in the self group
 * (self/self-messages.ts). Each entry carries `updatedAt` (the deciding
 * device's clock, ms): on every device the latest wins, whatever the arrival
 * order; a removal is a tombstone (`removed` / `blocked: false`), so a later
 * snapshot cannot bring an entry back.
 */

/** A nickname's limit in UTF-16 units (the same as a display name). */
export const MAX_NICKNAME_LENGTH = 64;
/** Entries per snapshot message (a bigger list goes in several). */
export const MAX_SNAPSHOT_ENTRIES = 500;

const Time = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const Username = z.string().min(1).max(128);

/**
 * Control characters (C0, DEL, C1) and the bidirectional formatting ones
 * (LRM/RLM/ALM, embeddings and overrides, isolates): a nickname is shown
 * next to other text and must not reorder or hide it.
 */
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why a nickname is refused, or undefined when it is fine (after trimming). */
export function nicknameProblem(nickname: string): string | undefined {
  if (nickname.length === 0) return 'a nickname cannot be empty (use null for none)';
  if (nickname.length > MAX_NICKNAME_LENGTH) return `a nickname has at most ${MAX_NICKNAME_LENGTH} characters`;
  if (FORBIDDEN.test(nickname)) return 'a nickname cannot contain control or bidirectional formatting characters';
  if (LONE_SURROGATE.test(nickname)) return 'a nickname must be well-formed Unicode';
  return undefined;
}

const Nickname = z
  .string()
  .nullable()
  .refine((n) => n === null || nicknameProblem(n) === undefined, 'invalid nickname');

export const ContactEntrySchema = z.object({
  userId: UserIdSchema,
  username: Username,
  nickname: Nickname,
  addedAt: Time,
  updatedAt: Time,
  /** A tombstone: the contact was removed at `updatedAt`. */
  removed: z.boolean(),
});
export type ContactEntry = z.output<typeof ContactEntrySchema>;

export const BlockEntrySchema = z.object({
  userId: UserIdSchema,
  username: Username.nullable(),
  blockedAt: Time,
  updatedAt: Time,
  /** False: unblocked at `updatedAt` (a tombstone). */
  blocked: z.boolean(),
});
export type BlockEntry = z.output<typeof BlockEntrySchema>;

export const RequestEntrySchema = z.object({
  conversationId: GroupIdSchema,
  /** `pending`: a device that joins later starts it as a request too; `accepted`; `deleted`: left and hidden everywhere. */
  state: z.enum(['pending', 'accepted', 'deleted']),
  inviter: UserIdSchema.nullable(),
  updatedAt: Time,
});
export type RequestEntry = z.output<typeof RequestEntrySchema>;

export const PeopleSnapshotSchema = z.object({
  contacts: z.array(ContactEntrySchema).max(MAX_SNAPSHOT_ENTRIES),
  blocks: z.array(BlockEntrySchema).max(MAX_SNAPSHOT_ENTRIES),
  requests: z.array(RequestEntrySchema).max(MAX_SNAPSHOT_ENTRIES),
});
export type PeopleSnapshot = z.output<typeof PeopleSnapshotSchema>;

/** One change to the people lists, or a batch of them (a snapshot for a newly added own device). */
export type PeopleMessage =
  | ({ readonly kind: 'contact' } & ContactEntry)
  | ({ readonly kind: 'block' } & BlockEntry)
  | ({ readonly kind: 'request' } & RequestEntry)
  | ({ readonly kind: 'people' } & PeopleSnapshot);

/** The entry's key in its list. */
export type EntryKey = UserId | GroupId;
