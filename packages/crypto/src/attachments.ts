import { toHex } from '@parley/protocol';
import type { BlobDigest } from '@parley/protocol';

/**
 * Attachment encryption: every file gets a fresh random AES-256-GCM key, so
 * a key never encrypts two files and a nonce can never repeat under one key.
 * The server stores the ciphertext under its SHA-256 digest; key, nonce and
 * digest travel to recipients inside the (MLS-encrypted) message content.
 * Decryption checks the digest first (is this the blob the sender meant?)
 * and then the GCM tag (was it produced with this key?).
 */

export const ATTACHMENT_KEY_BYTES = 32;
export const ATTACHMENT_NONCE_BYTES = 12;
const DIGEST_HEX = /^[0-9a-f]{64}$/;

export type AttachmentErrorCode = 'digest_mismatch' | 'decrypt_failed' | 'invalid_parameters';

export class AttachmentError extends Error {
  constructor(
    readonly code: AttachmentErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AttachmentError';
  }
}

export interface AttachmentSecrets {
  /** Raw AES-256 key. */
  key: Uint8Array;
  nonce: Uint8Array;
  /** Lower-case hex SHA-256 of the ciphertext: the blob's name on the server. */
  digest: BlobDigest;
}

export interface EncryptedAttachment extends AttachmentSecrets {
  ciphertext: Uint8Array;
}

/**
 * WebCrypto's DOM typings want ArrayBuffer-backed views; ours always are
 * (never SharedArrayBuffer), so this only narrows the type.
 */
function buffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes as Uint8Array<ArrayBuffer>;
}

/** Lower-case hex SHA-256, as the server names blobs. */
export async function blobDigest(bytes: Uint8Array): Promise<BlobDigest> {
  const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', buffer(bytes)));
  return toHex(hash) as BlobDigest;
}

export async function encryptAttachment(plaintext: Uint8Array): Promise<EncryptedAttachment> {
  const key = crypto.getRandomValues(new Uint8Array(ATTACHMENT_KEY_BYTES));
  const nonce = crypto.getRandomValues(new Uint8Array(ATTACHMENT_NONCE_BYTES));
  const cryptoKey = await crypto.subtle.importKey('raw', buffer(key), 'AES-GCM', false, ['encrypt']);
  const ciphertext = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: buffer(nonce) }, cryptoKey, buffer(plaintext)));
  return { ciphertext, key, nonce, digest: await blobDigest(ciphertext) };
}

/** Throws AttachmentError on a digest mismatch, a bad tag, or malformed key/nonce/digest. */
export async function decryptAttachment(ciphertext: Uint8Array, secrets: AttachmentSecrets): Promise<Uint8Array> {
  if (secrets.key.length !== ATTACHMENT_KEY_BYTES) throw new AttachmentError('invalid_parameters', 'attachment key must be 32 bytes');
  if (secrets.nonce.length !== ATTACHMENT_NONCE_BYTES) throw new AttachmentError('invalid_parameters', 'attachment nonce must be 12 bytes');
  if (!DIGEST_HEX.test(secrets.digest)) throw new AttachmentError('invalid_parameters', 'attachment digest must be 64 lower-case hex digits');
  const actual = await blobDigest(ciphertext);
  if (actual !== secrets.digest) throw new AttachmentError('digest_mismatch', 'blob does not match the digest in the message');
  let cryptoKey: Awaited<ReturnType<typeof crypto.subtle.importKey>>;
  try {
    cryptoKey = await crypto.subtle.importKey('raw', buffer(secrets.key), 'AES-GCM', false, ['decrypt']);
  } catch (err) {
    throw new AttachmentError('invalid_parameters', 'attachment key rejected', { cause: err });
  }
  try {
    return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: buffer(secrets.nonce) }, cryptoKey, buffer(ciphertext)));
  } catch (err) {
    throw new AttachmentError('decrypt_failed', 'attachment failed authentication', { cause: err });
  }
}
