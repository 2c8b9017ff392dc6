import { createPublicKey, verify, type KeyObject } from 'node:crypto';

/**
 * Verifies Ed25519 signatures by a device's registered public key: the only
 * signature scheme of the MLS ciphersuites Parley accepts. Verification of
 * public data only; the server holds no private key.
 */

/** The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE { AlgorithmIdentifier id-Ed25519, BIT STRING }. */
const ED25519_SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);
export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;

/** Ciphersuites whose signature scheme is Ed25519 (RFC 9420 §17.1): 1 and 3. */
export const ED25519_CIPHERSUITES: ReadonlySet<number> = new Set([1, 3]);

function publicKey(raw: Uint8Array): KeyObject | undefined {
  if (raw.length !== ED25519_PUBLIC_KEY_BYTES) return undefined;
  const der = new Uint8Array(ED25519_SPKI_PREFIX.length + raw.length);
  der.set(ED25519_SPKI_PREFIX);
  der.set(raw, ED25519_SPKI_PREFIX.length);
  try {
    return createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
  } catch {
    return undefined;
  }
}

/**
 * True only when `signature` is a valid Ed25519 signature of `message` under
 * the raw 32-byte `rawPublicKey`. Any malformed input is simply false.
 */
export function verifyEd25519(rawPublicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== ED25519_SIGNATURE_BYTES) return false;
  const key = publicKey(rawPublicKey);
  if (!key) return false;
  try {
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
}
