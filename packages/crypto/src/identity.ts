import { DeviceIdSchema, UserIdSchema } from '@parley/protocol';
import type { DeviceId, UserId } from '@parley/protocol';
import { ByteDecodeError, ByteReader, ByteWriter } from './byte-codec.js';
import { DEFAULT_CIPHERSUITE, generateSignatureKeyPair, isSupportedCiphersuite, signatureKeysMatch, signBytes, verifyBytes } from './mls/suite.js';
import type { MlsCiphersuiteId } from './mls/suite.js';

/**
 * A device's identity: its MLS signature key pair and the basic credential
 * that binds it to (userId, deviceId). The private key never appears on the
 * objects handed out — it lives in a module-private WeakMap, so logging or
 * JSON-serialising an identity cannot leak it. The only way out is
 * exportDeviceIdentity, for the client's local store.
 */

export type IdentityErrorCode = 'malformed_credential' | 'malformed_export' | 'unsupported_ciphersuite' | 'key_mismatch';

export class IdentityError extends Error {
  constructor(
    readonly code: IdentityErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'IdentityError';
  }
}

/** Who a credential names. */
export interface DeviceRef {
  readonly userId: UserId;
  readonly deviceId: DeviceId;
}

/** A signature key pair not yet bound to a device id (the server issues the id at registration). */
export interface DeviceKey {
  readonly ciphersuite: MlsCiphersuiteId;
  readonly signaturePublicKey: Uint8Array;
}

export interface DeviceIdentity extends DeviceRef, DeviceKey {
  /** The basic credential's identity bytes (see encodeCredentialIdentity). */
  readonly credentialIdentity: Uint8Array;
}

const privateKeys = new WeakMap<DeviceKey, Uint8Array>();

/* ---------- credential identity encoding ---------- */

const CREDENTIAL_PREFIX = 'parley1';
/** "parley1:" + 22 + ":" + 22; anything longer is rejected before decoding. */
const MAX_CREDENTIAL_BYTES = 64;

/** UTF-8 of "parley1:<userId>:<deviceId>". The "1" versions the format. */
export function encodeCredentialIdentity(ref: DeviceRef): Uint8Array {
  // Validate on the way out too: an identity that cannot be parsed back is a bug.
  const userId = UserIdSchema.safeParse(ref.userId);
  const deviceId = DeviceIdSchema.safeParse(ref.deviceId);
  if (!userId.success || !deviceId.success) throw new IdentityError('malformed_credential', 'invalid user or device id');
  return new TextEncoder().encode(`${CREDENTIAL_PREFIX}:${userId.data}:${deviceId.data}`);
}

/** Strict inverse of encodeCredentialIdentity; throws IdentityError('malformed_credential'). */
export function parseCredentialIdentity(bytes: Uint8Array): DeviceRef {
  if (bytes.length > MAX_CREDENTIAL_BYTES) throw new IdentityError('malformed_credential', 'credential identity too long');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (err) {
    throw new IdentityError('malformed_credential', 'credential identity is not UTF-8', { cause: err });
  }
  const parts = text.split(':');
  if (parts.length !== 3 || parts[0] !== CREDENTIAL_PREFIX) {
    throw new IdentityError('malformed_credential', 'credential identity is not a parley1 identity');
  }
  const userId = UserIdSchema.safeParse(parts[1]);
  const deviceId = DeviceIdSchema.safeParse(parts[2]);
  if (!userId.success || !deviceId.success) throw new IdentityError('malformed_credential', 'invalid user or device id in credential');
  return { userId: userId.data, deviceId: deviceId.data };
}

/* ---------- key generation and binding ---------- */

/** A fresh signature key pair; its public key is what a device registers with the server. */
export async function generateDeviceKey(ciphersuite: MlsCiphersuiteId = DEFAULT_CIPHERSUITE): Promise<DeviceKey> {
  const pair = await generateSignatureKeyPair(ciphersuite);
  const key: DeviceKey = Object.freeze({ ciphersuite, signaturePublicKey: pair.publicKey });
  privateKeys.set(key, pair.privateKey);
  return key;
}

/** Binds a key to the device id the server issued for it. */
export function createDeviceIdentity(key: DeviceKey, ref: DeviceRef): DeviceIdentity {
  const privateKey = privateKeys.get(key);
  if (privateKey === undefined) throw new IdentityError('key_mismatch', 'device key was not created by this package');
  const credentialIdentity = encodeCredentialIdentity(ref);
  const identity: DeviceIdentity = Object.freeze({
    userId: ref.userId,
    deviceId: ref.deviceId,
    ciphersuite: key.ciphersuite,
    signaturePublicKey: key.signaturePublicKey,
    credentialIdentity,
  });
  privateKeys.set(identity, privateKey);
  return identity;
}

/**
 * The signature private key. Package-internal: used by the MLS engine only,
 * and deliberately not re-exported from index.ts.
 */
export function signingKeyOf(identity: DeviceKey): Uint8Array {
  const key = privateKeys.get(identity);
  if (key === undefined) throw new IdentityError('key_mismatch', 'identity was not created by this package');
  return key;
}

/* ---------- signatures outside MLS ---------- */

/**
 * Signs `message` with the device's signature key (the suite's scheme:
 * Ed25519). For the byte strings a device signs to prove it is that device
 * (a sign-in challenge, a link approval: see @parley/protocol identity.ts),
 * each of which starts with its own label, so such a signature can never pass
 * for an MLS signature (whose labels start with "MLS 1.0 ") or vice versa.
 */
export async function signWithDevice(identity: DeviceKey, message: Uint8Array): Promise<Uint8Array> {
  return signBytes(identity.ciphersuite, signingKeyOf(identity), message);
}

/** Checks a signWithDevice signature against a device's public key; false for anything that does not verify. */
export async function verifyDeviceSignature(ciphersuite: MlsCiphersuiteId, signaturePublicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  return verifyBytes(ciphersuite, signaturePublicKey, message, signature);
}

/* ---------- export / import for the local store ---------- */

const EXPORT_MAGIC = Uint8Array.from([0x50, 0x49, 0x44]); // "PID"
const EXPORT_VERSION = 1;
const MAX_KEY_BYTES = 4096;

/**
 * Serialises the identity INCLUDING its private key, for the client's local
 * store only. Never send these bytes anywhere.
 */
export function exportDeviceIdentity(identity: DeviceIdentity): Uint8Array {
  return new ByteWriter()
    .raw(EXPORT_MAGIC)
    .u8(EXPORT_VERSION)
    .u16(identity.ciphersuite)
    .string(identity.userId)
    .string(identity.deviceId)
    .bytes(identity.signaturePublicKey)
    .bytes(signingKeyOf(identity))
    .finish();
}

/** Inverse of exportDeviceIdentity; verifies the key pair by signing a probe. */
export async function importDeviceIdentity(bytes: Uint8Array): Promise<DeviceIdentity> {
  let ciphersuite: number;
  let userIdText: string;
  let deviceIdText: string;
  let publicKey: Uint8Array;
  let privateKey: Uint8Array;
  try {
    const r = new ByteReader(bytes);
    const magic = r.raw(EXPORT_MAGIC.length);
    if (!magic.every((b, i) => b === EXPORT_MAGIC[i])) throw new ByteDecodeError('not a Parley identity export');
    const version = r.u8();
    if (version !== EXPORT_VERSION) throw new ByteDecodeError(`unsupported identity export version ${version}`);
    ciphersuite = r.u16();
    userIdText = r.string(64);
    deviceIdText = r.string(64);
    publicKey = r.bytes(MAX_KEY_BYTES);
    privateKey = r.bytes(MAX_KEY_BYTES);
    r.end();
  } catch (err) {
    throw new IdentityError('malformed_export', err instanceof Error ? err.message : 'malformed identity export', { cause: err });
  }
  if (!isSupportedCiphersuite(ciphersuite)) throw new IdentityError('unsupported_ciphersuite', `ciphersuite ${ciphersuite} is not supported`);
  const userId = UserIdSchema.safeParse(userIdText);
  const deviceId = DeviceIdSchema.safeParse(deviceIdText);
  if (!userId.success || !deviceId.success) throw new IdentityError('malformed_export', 'invalid user or device id');
  if (!(await signatureKeysMatch(ciphersuite, { publicKey, privateKey }))) {
    throw new IdentityError('key_mismatch', 'stored private key does not match its public key');
  }
  const key: DeviceKey = Object.freeze({ ciphersuite, signaturePublicKey: publicKey });
  privateKeys.set(key, privateKey);
  return createDeviceIdentity(key, { userId: userId.data, deviceId: deviceId.data });
}
