import { fromBase64Url, toBase64Url } from './bytes.js';
import { DeviceIdSchema, UserIdSchema, type DeviceId, type GroupId, type UserId } from './ids.js';

/**
 * The byte strings a device signs with its MLS signature key (Ed25519 in every
 * suite Parley accepts) to prove it is that device, and the link code and QR
 * payload of device linking. Client and server build the signed messages with
 * the same functions, so they cannot drift apart. Each message starts with its
 * own label, so a signature made for one purpose is never valid for another
 * (and none of them can be confused with an MLS SignWithLabel content, whose
 * labels start with "MLS 1.0 ").
 */

const encoder = new TextEncoder();

/** Signed to open a session on an existing device: the server's single-use challenge, bound to the device. */
export function sessionChallengeMessage(deviceId: DeviceId, challenge: string): Uint8Array {
  return encoder.encode(`parley-session-v1\n${deviceId}\n${challenge}`);
}

/**
 * What a device signs to delete its account (POST /v1/account/deletion): a
 * domain of its own, so a sign-in signature never deletes an account.
 */
export function accountDeletionMessage(userId: string, deviceId: DeviceId, challenge: string): Uint8Array {
  return encoder.encode(`parley-delete-account-v1\n${userId}\n${deviceId}\n${challenge}`);
}

/**
 * Signed by an existing device to approve a new one: names the user, the new
 * device and the exact key it will use, so an approval can never activate
 * another key under the same device id.
 */
export function linkApprovalMessage(userId: UserId, newDeviceId: DeviceId, newSignatureKey: Uint8Array): Uint8Array {
  return encoder.encode(`parley-link-approve-v1\n${userId}\n${newDeviceId}\n${toBase64Url(newSignatureKey)}`);
}

/**
 * Signed by a device whose state for a group is broken, to be re-added: names
 * the group, the user and the device, with the device's clock (ms) and a
 * fresh random nonce, so a request cannot be replayed for long, moved to
 * another group or device, or made by anyone without the device's key.
 */
export function rejoinRequestMessage(groupId: GroupId, userId: UserId, deviceId: DeviceId, at: number, nonce: string): Uint8Array {
  return encoder.encode(`parley-rejoin-v1\n${groupId}\n${userId}\n${deviceId}\n${at}\n${nonce}`);
}

/* ---------- link codes ---------- */

/** Crockford base32: no I, L, O, U, so a code read aloud or typed is hard to get wrong. */
const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** 10 characters = 50 bits; with a 10-minute lifetime and rate-limited lookups, not guessable. */
export const LINK_CODE_LENGTH = 10;
export const LINK_TTL_SECONDS = 10 * 60;

/** A fresh random link code, unformatted (the server issues these). */
export function newLinkCode(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(LINK_CODE_LENGTH));
  let out = '';
  for (const b of bytes) out += CODE_ALPHABET.charAt(b & 31);
  return out;
}

/**
 * Canonical form of a typed code: upper case, separators and spaces dropped,
 * the look-alike letters folded (O→0, I/L→1). Undefined when it cannot be a code.
 */
export function normalizeLinkCode(input: string): string | undefined {
  if (typeof input !== 'string' || input.length > 64) return undefined;
  const s = input
    .toUpperCase()
    .replace(/[\s\-_.]/g, '')
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1');
  if (s.length !== LINK_CODE_LENGTH) return undefined;
  for (const ch of s) if (!CODE_ALPHABET.includes(ch)) return undefined;
  return s;
}

/** "ABCDE-FGHJK": how a code is shown. */
export function formatLinkCode(code: string): string {
  return `${code.slice(0, 5)}-${code.slice(5)}`;
}

/* ---------- QR payload ---------- */

/** What the new device's QR code carries: the code, and the exact key the approving device must find. */
export interface LinkUri {
  code: string;
  userId: UserId;
  deviceId: DeviceId;
  signatureKey: Uint8Array;
}

const LINK_URI_PREFIX = 'parley-link:v1?';

export function encodeLinkUri(link: LinkUri): string {
  const q = new URLSearchParams({ c: link.code, u: link.userId, d: link.deviceId, k: toBase64Url(link.signatureKey) });
  return LINK_URI_PREFIX + q.toString();
}

/** Strict inverse of encodeLinkUri; undefined for anything else (a typed code is parsed with normalizeLinkCode). */
export function parseLinkUri(text: string): LinkUri | undefined {
  if (typeof text !== 'string' || text.length > 512 || !text.startsWith(LINK_URI_PREFIX)) return undefined;
  const q = new URLSearchParams(text.slice(LINK_URI_PREFIX.length));
  const code = normalizeLinkCode(q.get('c') ?? '');
  const userId = UserIdSchema.safeParse(q.get('u'));
  const deviceId = DeviceIdSchema.safeParse(q.get('d'));
  const key = fromBase64Url(q.get('k') ?? '');
  if (code === undefined || !userId.success || !deviceId.success || key === undefined || key.length < 32 || key.length > 1024) return undefined;
  return { code, userId: userId.data, deviceId: deviceId.data, signatureKey: key };
}
