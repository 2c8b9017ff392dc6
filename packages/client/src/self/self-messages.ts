import { z } from 'zod';
import { fromBase64Url, toBase64Url } from '@parley/protocol';

/**
 * What the self group (an MLS group of one user's own devices, see
 * self-group.ts) carries, as MLS application messages: never chat content.
 *
 * - `account_keys`: every account key the sender holds, oldest first. Sent by
 *   the device that adds devices to the group (after its commit), by the one
 *   that rotates the key (after removing a device), and in answer to a request.
 * - `key_request`: a member without keys (or missing one) asks the others.
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

const SelfMessageSchema = z.discriminatedUnion('kind', [
  z.object({ type: z.literal(SELF_MESSAGE_TYPE), v: z.literal(1), kind: z.literal('account_keys'), keys: z.array(KeyText).min(1).max(MAX_KEYS) }),
  z.object({ type: z.literal(SELF_MESSAGE_TYPE), v: z.literal(1), kind: z.literal('key_request') }),
]);

export type SelfMessage = { kind: 'account_keys'; keys: Uint8Array[] } | { kind: 'key_request' };

export function encodeSelfMessage(message: SelfMessage): Uint8Array {
  const wire =
    message.kind === 'account_keys'
      ? { type: SELF_MESSAGE_TYPE, v: 1, kind: message.kind, keys: message.keys.slice(-MAX_KEYS).map((k) => toBase64Url(k)) }
      : { type: SELF_MESSAGE_TYPE, v: 1, kind: message.kind };
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
  return { ok: true, message: r.data.kind === 'account_keys' ? { kind: 'account_keys', keys: r.data.keys } : { kind: 'key_request' } };
}
