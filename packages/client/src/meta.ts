import { z } from 'zod';
import { DISAPPEAR_TIMERS_MS } from '@parley/crypto';
import { UserIdSchema } from '@parley/protocol';
import type { UserId } from '@parley/protocol';

/**
 * The conversation roster: a client-level control message that travels, like
 * any content, inside an MLS application message. Whoever creates a
 * conversation or changes its membership sends one, so every member device
 * (new ones included) learns the title and the username of each member user.
 * Usernames are then checked against the server's directory: a roster can
 * name users, it cannot vouch for their devices.
 *
 * Plaintexts whose `type` is META_TYPE are rosters; everything else is
 * message content (decodeContent from @parley/crypto).
 */

export const META_TYPE = 'x-parley-roster';
export const MAX_TITLE_LENGTH = 256;

const MetaSchema = z.object({
  v: z.literal(1),
  type: z.literal(META_TYPE),
  sentAt: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  title: z.string().max(MAX_TITLE_LENGTH).nullable(),
  /** What the conversation was created as; absent in rosters from clients before kinds existed. */
  kind: z.enum(['direct', 'group']).optional(),
  /** A 1:1 group opened for Moments: listed as a chat only once a message is sent in it. */
  quiet: z.literal(true).optional(),
  members: z
    .array(z.object({ userId: UserIdSchema, username: z.string().min(1).max(128) }))
    .min(1)
    .max(5000),
  /**
   * The disappearing-message setting in force as the sender knows it: the
   * settings message's seq and its timer (settings/disappearing.ts). New
   * members and new devices join after that message, so they learn it here.
   * Absent: none known (or a client from before disappearing messages).
   */
  disappearing: z
    .object({
      seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
      ms: z
        .number()
        .int()
        .refine((ms) => (DISAPPEAR_TIMERS_MS as readonly number[]).includes(ms), 'not an allowed timer')
        .nullable(),
    })
    .optional(),
});
export type ConversationMeta = z.output<typeof MetaSchema>;

export function encodeMeta(meta: {
  title: string | null;
  kind?: 'direct' | 'group' | undefined;
  quiet?: true | undefined;
  members: ReadonlyArray<{ userId: UserId; username: string }>;
  disappearing?: { seq: number; ms: number | null } | undefined;
}): Uint8Array {
  const wire = {
    v: 1,
    type: META_TYPE,
    sentAt: Date.now(),
    title: meta.title,
    ...(meta.kind !== undefined ? { kind: meta.kind } : {}),
    ...(meta.quiet === true ? { quiet: true } : {}),
    members: meta.members.map((m) => ({ userId: m.userId, username: m.username })),
    ...(meta.disappearing !== undefined ? { disappearing: { seq: meta.disappearing.seq, ms: meta.disappearing.ms } } : {}),
  };
  return new TextEncoder().encode(JSON.stringify(wire));
}

export type MetaDecodeResult = { kind: 'meta'; meta: ConversationMeta } | { kind: 'not_meta' } | { kind: 'invalid'; reason: string };

/** Never throws. `not_meta` means: decode it as message content. */
export function decodeMeta(plaintext: Uint8Array): MetaDecodeResult {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plaintext));
  } catch {
    return { kind: 'not_meta' };
  }
  if (typeof json !== 'object' || json === null || (json as { type?: unknown }).type !== META_TYPE) return { kind: 'not_meta' };
  const r = MetaSchema.safeParse(json);
  if (!r.success) return { kind: 'invalid', reason: r.error.issues.map((i) => `${i.path.join('.')}: ${i.code}`).join('; ') };
  return { kind: 'meta', meta: r.data };
}
