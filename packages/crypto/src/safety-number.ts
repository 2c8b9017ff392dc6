import { sha512 } from '@noble/hashes/sha2.js';
import type { UserId } from '@parley/protocol';
import { ByteWriter } from './byte-codec.js';

/**
 * Safety numbers: a 60-digit code two people compare (in person, or by
 * scanning) to confirm that the devices the server lists for each of them
 * are really theirs. Modelled on Signal's numeric fingerprint, extended to
 * many devices per user:
 *
 *   per user:  E = version ‖ len‖userId ‖ count ‖ (len‖key)* over the user's
 *              device signature keys, sorted bytewise, duplicates dropped
 *              h = SHA-512(E), then 5200 × h = SHA-512(h ‖ E)
 *              30 digits = the first 30 bytes of h as six 40-bit big-endian
 *              numbers, each mod 100000, zero-padded to 5 digits
 *   combined:  the two users' 30-digit halves ordered by user id, rendered
 *              as 12 groups of 5 digits
 *
 * The iteration count makes it expensive to search for a key set whose
 * number collides with a given one. Sorting makes the result independent of
 * device order and of which of the two users computes it.
 */

export const SAFETY_NUMBER_VERSION = 1;
const ITERATIONS = 5200;

export class SafetyNumberError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetyNumberError';
  }
}

export interface SafetyNumberParty {
  userId: UserId;
  /** Signature public keys of all of the user's current devices. */
  signatureKeys: readonly Uint8Array[];
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

function sortedUniqueKeys(keys: readonly Uint8Array[]): Uint8Array[] {
  const sorted = [...keys].sort(compareBytes);
  return sorted.filter((k, i) => i === 0 || compareBytes(k, sorted[i - 1] ?? new Uint8Array()) !== 0);
}

function encodeParty(party: SafetyNumberParty): Uint8Array {
  const keys = sortedUniqueKeys(party.signatureKeys);
  const w = new ByteWriter().u16(SAFETY_NUMBER_VERSION).string(party.userId).u32(keys.length);
  for (const key of keys) w.bytes(key);
  return w.finish();
}

function partyDigits(party: SafetyNumberParty): string {
  if (party.signatureKeys.length === 0) throw new SafetyNumberError(`user ${party.userId} has no device keys`);
  const encoded = encodeParty(party);
  let hash = sha512(encoded);
  const buf = new Uint8Array(hash.length + encoded.length);
  buf.set(encoded, hash.length);
  for (let i = 0; i < ITERATIONS; i++) {
    buf.set(hash, 0);
    hash = sha512(buf);
  }
  let digits = '';
  for (let chunk = 0; chunk < 6; chunk++) {
    let n = 0;
    // 40-bit numbers stay exact in a double.
    for (let j = 0; j < 5; j++) n = n * 256 + (hash[chunk * 5 + j] ?? 0);
    digits += String(n % 100000).padStart(5, '0');
  }
  return digits;
}

/**
 * The safety number of two users' device sets, as 12 space-separated groups
 * of 5 digits. Symmetric: safetyNumber(a, b) === safetyNumber(b, a).
 */
export function safetyNumber(a: SafetyNumberParty, b: SafetyNumberParty): string {
  if (a.userId === b.userId) throw new SafetyNumberError('a safety number compares two different users');
  const [first, second] = a.userId < b.userId ? [a, b] : [b, a];
  const digits = partyDigits(first) + partyDigits(second);
  const groups: string[] = [];
  for (let i = 0; i < digits.length; i += 5) groups.push(digits.slice(i, i + 5));
  return groups.join(' ');
}
