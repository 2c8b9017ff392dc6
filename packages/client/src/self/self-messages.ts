import { z } from 'zod';
import { fromBase64Url, GroupIdSchema, toBase64Url } from '@parley/protocol';
import type { GroupId, UserId } from '@parley/protocol';
import { MOMENT_WINDOWS } from '@parley/crypto';
import type { MomentWindow } from '@parley/crypto';
import { MomentFriendSchema, MomentListSchema } from '../moments/moment-records.js';
import { MAX_MOMENT_FRIENDS, MAX_MOMENT_LISTS } from '../moments/moment-types.js';
import { BlockEntrySchema, ContactEntrySchema, PeopleSnapshotSchema, RequestEntrySchema } from '../people/people-entries.js';
import type { PeopleMessage } from '../people/people-entries.js';
import { HistoryArchiveFields, historyArchiveFields } from '../history/archive-message.js';
import type { HistoryArchiveMessage } from '../history/archive-message.js';

/**
 * What the self group (an MLS group of one user's own devices, see
 * self-group.ts) carries, as MLS application messages: never chat content.
 *
 * - `account_keys`: every account key the sender holds, oldest first. Sent by
 *   the device that adds devices to the group (after its commit), by the one
 *   that rotates the key (after removing a device), and in answer to a request.
 * - `key_request`: a member without keys (or missing one) asks the others.
 * - `conversation_prefs`: a conversation's muted / pinned / archived state as
 *   the user set it on one device, with the time it was set (that device's
 *   clock): the latest `updatedAt` wins on every device (settings/prefs.ts).
 * - `read_receipts`: whether the user shares read receipts (and typing), with
 *   the time it was set: the latest wins (messages/receipts.ts).
 * - `profile_key`: this user's profile key with when it was made; the newest
 *   wins on every device (profiles/profiles.ts).
 * - `contact`, `block`, `request`: one entry of the user's contacts, blocks or
 *   decisions on message requests, with `updatedAt` (latest wins; removals are
 *   tombstones); `people`: a snapshot of all three, sent to a newly added own
 *   device (people/people-entries.ts).
 * - `moment_lists`: the user's Moments lists (names and members), with
 *   `updatedAt`; the newest snapshot wins (moments/moment-lists.ts). List
 *   names never leave the user's devices.
 * - `moment_friends`: what this device knows of Moments friendships (who said
 *   hello, their windows, what this user said) and this user's window, for a
 *   device just added to the self group: it missed the hellos.
 * - `history_archive`: where the history archive for a newly linked device
 *   is and its key (history/archive-message.ts); only the device it names
 *   acts on it.
 *
 * Versioned and validated like every plaintext: a message that decrypts but
 * does not match is dropped with an error event, never half-used.
 */

export const SELF_MESSAGE_TYPE = 'x-parley-self';
/** More than any device keeps (records.ts MAX_ACCOUNT_KEYS). */
const MAX_KEYS = 64;

const KeyText = z.string().transform((s, ctx) => {
  const bytes = fromBase64Url(s);
  if (bytes?.length !== 32) {
    ctx.addIssue({ code: 'custom', message: 'an account key is 32 bytes of base64url' });
    return z.NEVER;
  }
  return bytes;
});

const PrefsSchema = z.object({
  type: z.literal(SELF_MESSAGE_TYPE),
  v: z.literal(1),
  kind: z.literal('conversation_prefs'),
  conversationId: GroupIdSchema,
  muted: z.boolean(),
  pinned: z.boolean(),
  archived: z.boolean(),
  updatedAt: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
});

const SelfMessageSchema = z.discriminatedUnion('kind', [
  z.object({ type: z.literal(SELF_MESSAGE_TYPE), v: z.literal(1), kind: z.literal('account_keys'), keys: z.array(KeyText).min(1).max(MAX_KEYS) }),
  z.object({ type: z.literal(SELF_MESSAGE_TYPE), v: z.literal(1), kind: z.literal('key_request') }),
  PrefsSchema,
  z.object({ type: z.literal(SELF_MESSAGE_TYPE), v: z.literal(1), kind: z.literal('read_receipts'), on: z.boolean(), updatedAt: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }),
  z.object({ type: z.literal(SELF_MESSAGE_TYPE), v: z.literal(1), kind: z.literal('profile_key'), key: KeyText, createdAt: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }),
  ContactEntrySchema.extend({ type: z.literal(SELF_MESSAGE_TYPE), v: z.literal(1), kind: z.literal('contact') }),
  BlockEntrySchema.extend({ type: z.literal(SELF_MESSAGE_TYPE), v: z.literal(1), kind: z.literal('block') }),
  RequestEntrySchema.extend({ type: z.literal(SELF_MESSAGE_TYPE), v: z.literal(1), kind: z.literal('request') }),
  PeopleSnapshotSchema.extend({ type: z.literal(SELF_MESSAGE_TYPE), v: z.literal(1), kind: z.literal('people') }),
  z.object({ type: z.literal(SELF_MESSAGE_TYPE), v: z.literal(1), kind: z.literal('history_archive'), ...HistoryArchiveFields }),
  z.object({
    type: z.literal(SELF_MESSAGE_TYPE),
    v: z.literal(1),
    kind: z.literal('moment_friends'),
    friends: z.array(MomentFriendSchema).max(MAX_MOMENT_FRIENDS),
    window: z.enum(MOMENT_WINDOWS),
    windowUpdatedAt: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  }),
  z.object({ type: z.literal(SELF_MESSAGE_TYPE), v: z.literal(1), kind: z.literal('moment_lists'), lists: z.array(MomentListSchema).max(MAX_MOMENT_LISTS), updatedAt: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }),
]);

/** Moments friendships as one device knows them, for a newly added device of the same user. */
export interface MomentFriendsMessage {
  readonly kind: 'moment_friends';
  readonly friends: ReadonlyArray<z.output<typeof MomentFriendSchema>>;
  readonly window: MomentWindow;
  readonly windowUpdatedAt: number;
}

/** This user's Moments lists, as synced between the user's devices. */
export interface MomentListsMessage {
  readonly kind: 'moment_lists';
  readonly lists: ReadonlyArray<{ id: string; name: string; members: readonly UserId[]; updatedAt: number }>;
  /** When the lists were last changed (the changing device's clock, ms): the newest snapshot wins. */
  readonly updatedAt: number;
}

/** One conversation's local preferences, as synced between the user's devices. */
export interface ConversationPrefsMessage {
  readonly kind: 'conversation_prefs';
  readonly conversationId: GroupId;
  readonly muted: boolean;
  readonly pinned: boolean;
  readonly archived: boolean;
  /** When the user set them (the sending device's clock, ms): the latest wins. */
  readonly updatedAt: number;
}

/** The read-receipt setting, as synced between the user's devices. */
export interface ReadReceiptsMessage {
  readonly kind: 'read_receipts';
  readonly on: boolean;
  /** When the user set it (the sending device's clock, ms): the latest wins. */
  readonly updatedAt: number;
}

export type SelfMessage = { kind: 'account_keys'; keys: Uint8Array[] } | { kind: 'key_request' } | ConversationPrefsMessage | ReadReceiptsMessage | PeopleMessage | HistoryArchiveMessage | ProfileKeySelfMessage | MomentListsMessage | MomentFriendsMessage;

/** This user's profile key, as synced between the user's devices. */
export interface ProfileKeySelfMessage {
  readonly kind: 'profile_key';
  readonly key: Uint8Array;
  /** When the key was made (the making device's clock, ms): the newest wins. */
  readonly createdAt: number;
}

export function encodeSelfMessage(message: SelfMessage): Uint8Array {
  if (message.kind === 'profile_key') return new TextEncoder().encode(JSON.stringify({ type: SELF_MESSAGE_TYPE, v: 1, kind: 'profile_key', key: toBase64Url(message.key), createdAt: message.createdAt }));
  const head = { type: SELF_MESSAGE_TYPE, v: 1, kind: message.kind };
  const wire =
    message.kind === 'account_keys'
      ? { ...head, keys: message.keys.slice(-MAX_KEYS).map((k) => toBase64Url(k)) }
      : message.kind === 'conversation_prefs'
        ? { ...head, conversationId: message.conversationId, muted: message.muted, pinned: message.pinned, archived: message.archived, updatedAt: message.updatedAt }
        : message.kind === 'read_receipts'
          ? { ...head, on: message.on, updatedAt: message.updatedAt }
          : isPeople(message)
            ? { ...message, ...head }
            : message.kind === 'history_archive'
              ? { ...head, ...historyArchiveFields(message) }
              : message.kind === 'moment_lists'
                ? { ...head, lists: message.lists, updatedAt: message.updatedAt }
                : message.kind === 'moment_friends'
                  ? { ...head, friends: message.friends, window: message.window, windowUpdatedAt: message.windowUpdatedAt }
                  : head;
  return new TextEncoder().encode(JSON.stringify(wire));
}

/** Never throws. */
export function decodeSelfMessage(plaintext: Uint8Array): { ok: true; message: SelfMessage } | { ok: false; reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plaintext));
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  const r = SelfMessageSchema.safeParse(json);
  if (!r.success) return { ok: false, reason: r.error.issues.map((i) => `${i.path.join('.')}: ${i.code}`).join('; ') };
  const m = r.data;
  switch (m.kind) {
    case 'account_keys':
      return { ok: true, message: { kind: 'account_keys', keys: m.keys } };
    case 'key_request':
      return { ok: true, message: { kind: 'key_request' } };
    case 'conversation_prefs':
      return { ok: true, message: { kind: 'conversation_prefs', conversationId: m.conversationId, muted: m.muted, pinned: m.pinned, archived: m.archived, updatedAt: m.updatedAt } };
    case 'read_receipts':
      return { ok: true, message: { kind: 'read_receipts', on: m.on, updatedAt: m.updatedAt } };
    case 'profile_key':
      return { ok: true, message: { kind: 'profile_key', key: m.key, createdAt: m.createdAt } };
    case 'contact':
    case 'block':
    case 'request':
    case 'people': {
      const { type: _type, v: _v, ...message } = m;
      return { ok: true, message };
    }
    case 'history_archive': {
      const { type: _type, v: _v, ...message } = m;
      return { ok: true, message };
    }
    case 'moment_friends':
      return { ok: true, message: { kind: 'moment_friends', friends: m.friends, window: m.window, windowUpdatedAt: m.windowUpdatedAt } };
    case 'moment_lists':
      return { ok: true, message: { kind: 'moment_lists', lists: m.lists, updatedAt: m.updatedAt } };
  }
}

function isPeople(m: SelfMessage): m is PeopleMessage {
  return m.kind === 'contact' || m.kind === 'block' || m.kind === 'request' || m.kind === 'people';
}
