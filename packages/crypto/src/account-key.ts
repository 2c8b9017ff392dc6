import { DeviceNameSchema, toBase64Url } from '@parley/protocol';
import type { DeviceId, UserId } from '@parley/protocol';

/**
 * The account key: 32 random bytes that only one user's own devices hold.
 * It travels between them only inside MLS (their "self" group, see the
 * client's self/ folder) and encrypts what the server keeps for the user but
 * must not read — device names today. Nothing here is hand-rolled: HKDF-SHA-256
 * derives one AES-256-GCM key per purpose ("parley <purpose> v1"), WebCrypto
 * does both.
 *
 * Sealed value: format byte (1) ‖ key id (8) ‖ nonce (12) ‖ AES-GCM ciphertext
 * with its 16-byte tag. The key id (HKDF of the key, not the key) tells which
 * of the user's keys sealed it, so a device holding several (after a rotation)
 * picks the right one. The associated data is the format byte, the key id and
 * `parley <purpose> v1\n<context>` — for a device name the user and device
 * ids — so a sealed value cannot be moved to another device or purpose.
 */

export const ACCOUNT_KEY_BYTES = 32;
/** Bytes of a key id; as text (base64url) 11 characters. */
export const ACCOUNT_KEY_ID_BYTES = 8;
const FORMAT = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + ACCOUNT_KEY_ID_BYTES;
/**
 * A device name is padded to this many bytes before sealing (length byte,
 * UTF-8, zeros), so every sealed name has the same size whatever it says:
 * 64 UTF-16 units are at most 192 bytes of UTF-8.
 */
const NAME_BLOCK_BYTES = 256;
/** Size of every sealed device name. */
export const SEALED_DEVICE_NAME_BYTES = HEADER_BYTES + NONCE_BYTES + NAME_BLOCK_BYTES + TAG_BYTES;

/** What a sealed value is for: each has its own derived key and label. */
export type AccountSealPurpose = 'device name';

export type AccountKeyErrorCode = 'invalid_parameters' | 'malformed' | 'unknown_key' | 'decrypt_failed';

export class AccountKeyError extends Error {
  constructor(
    readonly code: AccountKeyErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AccountKeyError';
  }
}

const encoder = new TextEncoder();

/** WebCrypto's DOM typings want ArrayBuffer-backed views; ours always are. */
function buffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes as Uint8Array<ArrayBuffer>;
}

function checkKey(key: Uint8Array): void {
  if (key.length !== ACCOUNT_KEY_BYTES) throw new AccountKeyError('invalid_parameters', 'an account key is 32 bytes');
}

function hkdfParams(info: string) {
  // The account key is uniformly random: no salt is needed (RFC 5869 §3.1), so it is empty.
  return { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: encoder.encode(info) };
}

type WebCryptoKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

async function hkdfBase(key: Uint8Array): Promise<WebCryptoKey> {
  checkKey(key);
  return crypto.subtle.importKey('raw', buffer(key), 'HKDF', false, ['deriveBits', 'deriveKey']);
}

/** A fresh account key. */
export function generateAccountKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(ACCOUNT_KEY_BYTES));
}

async function keyIdBytes(key: Uint8Array): Promise<Uint8Array> {
  const bits = await crypto.subtle.deriveBits(hkdfParams('parley account key id v1'), await hkdfBase(key), ACCOUNT_KEY_ID_BYTES * 8);
  return new Uint8Array(bits);
}

/** The key's id (base64url, 11 characters): names the key in sealed values without revealing it. */
export async function accountKeyId(key: Uint8Array): Promise<string> {
  return toBase64Url(await keyIdBytes(key));
}

/** The id of the key that sealed `sealed` (base64url), or undefined if it is not a sealed value of this format. */
export function sealedKeyId(sealed: Uint8Array): string | undefined {
  if (sealed.length < HEADER_BYTES + NONCE_BYTES + TAG_BYTES || sealed[0] !== FORMAT) return undefined;
  return toBase64Url(sealed.subarray(1, HEADER_BYTES));
}

async function aesKey(key: Uint8Array, purpose: AccountSealPurpose, usage: 'encrypt' | 'decrypt'): Promise<WebCryptoKey> {
  return crypto.subtle.deriveKey(hkdfParams(`parley ${purpose} v1`), await hkdfBase(key), { name: 'AES-GCM', length: 256 }, false, [usage]);
}

function associatedData(header: Uint8Array, purpose: AccountSealPurpose, context: string): Uint8Array {
  const label = encoder.encode(`parley ${purpose} v1\n${context}`);
  const out = new Uint8Array(header.length + label.length);
  out.set(header, 0);
  out.set(label, header.length);
  return out;
}

/** Seals `plaintext` under `key` for `purpose`, bound to `context` (which the opener must name again). */
export async function sealWithAccountKey(key: Uint8Array, purpose: AccountSealPurpose, context: string, plaintext: Uint8Array): Promise<Uint8Array> {
  const header = new Uint8Array(HEADER_BYTES);
  header[0] = FORMAT;
  header.set(await keyIdBytes(key), 1);
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  const ciphertext = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv: buffer(nonce), additionalData: buffer(associatedData(header, purpose, context)) },
      await aesKey(key, purpose, 'encrypt'),
      buffer(plaintext),
    ),
  );
  const out = new Uint8Array(HEADER_BYTES + NONCE_BYTES + ciphertext.length);
  out.set(header, 0);
  out.set(nonce, HEADER_BYTES);
  out.set(ciphertext, HEADER_BYTES + NONCE_BYTES);
  return out;
}

/**
 * Opens a value sealed by sealWithAccountKey with whichever of `keys` sealed
 * it. Throws AccountKeyError: `malformed` (not this format), `unknown_key`
 * (none of `keys` sealed it: this device does not hold that key yet),
 * `decrypt_failed` (tampered with, or sealed for another context or purpose).
 */
export async function openWithAccountKey(keys: Iterable<Uint8Array>, purpose: AccountSealPurpose, context: string, sealed: Uint8Array): Promise<Uint8Array> {
  const id = sealedKeyId(sealed);
  if (id === undefined) throw new AccountKeyError('malformed', 'not a sealed value of a known format');
  let key: Uint8Array | undefined;
  for (const k of keys) {
    if ((await accountKeyId(k)) === id) {
      key = k;
      break;
    }
  }
  if (key === undefined) throw new AccountKeyError('unknown_key', 'sealed under an account key this device does not hold');
  const header = sealed.subarray(0, HEADER_BYTES);
  try {
    return new Uint8Array(
      await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: buffer(sealed.slice(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES)), additionalData: buffer(associatedData(header, purpose, context)) },
        await aesKey(key, purpose, 'decrypt'),
        buffer(sealed.slice(HEADER_BYTES + NONCE_BYTES)),
      ),
    );
  } catch (err) {
    throw new AccountKeyError('decrypt_failed', 'the sealed value failed authentication', { cause: err });
  }
}

/** A device's own context: the name of one device of one user, nowhere else. */
function deviceContext(device: { userId: UserId; deviceId: DeviceId }): string {
  return `${device.userId}\n${device.deviceId}`;
}

/**
 * Seals a device name (1-64 characters after trimming, as DeviceNameSchema)
 * for one device of one user, padded so every sealed name has
 * SEALED_DEVICE_NAME_BYTES whatever its length.
 */
export async function sealDeviceName(key: Uint8Array, device: { userId: UserId; deviceId: DeviceId }, name: string): Promise<Uint8Array> {
  const parsed = DeviceNameSchema.safeParse(name);
  if (!parsed.success) throw new AccountKeyError('invalid_parameters', 'a device name is 1-64 characters');
  const utf8 = encoder.encode(parsed.data);
  const block = new Uint8Array(NAME_BLOCK_BYTES);
  block[0] = utf8.length;
  block.set(utf8, 1);
  return sealWithAccountKey(key, 'device name', deviceContext(device), block);
}

/**
 * Opens a sealed device name of `device`. Throws AccountKeyError: the codes
 * of openWithAccountKey, and `malformed` when it decrypts but is not a
 * padded, valid name (only a holder of the key could have made it).
 */
export async function openDeviceName(keys: Iterable<Uint8Array>, device: { userId: UserId; deviceId: DeviceId }, sealed: Uint8Array): Promise<string> {
  const block = await openWithAccountKey(keys, 'device name', deviceContext(device), sealed);
  const length = block[0] ?? 0;
  if (block.length !== NAME_BLOCK_BYTES || length + 1 > NAME_BLOCK_BYTES || block.subarray(length + 1).some((b) => b !== 0)) {
    throw new AccountKeyError('malformed', 'the sealed device name is not padded as expected');
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(block.subarray(1, length + 1));
  } catch (err) {
    throw new AccountKeyError('malformed', 'the sealed device name is not UTF-8', { cause: err });
  }
  const parsed = DeviceNameSchema.safeParse(text);
  if (!parsed.success || parsed.data !== text) throw new AccountKeyError('malformed', 'the sealed device name is not a valid name');
  return text;
}

