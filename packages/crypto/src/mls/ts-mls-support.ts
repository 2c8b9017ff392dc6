import { decodeMlsMessage, encodeMlsMessage } from 'ts-mls';
import type { AuthenticationService, Credential, KeyPackage, KeyRetentionConfig, MLSMessage, RatchetTree } from 'ts-mls';
import { CodecError, CryptoError, CryptoVerificationError, MlsError, UsageError, ValidationError } from 'ts-mls/mlsError.js';
import { decodeRatchetTree } from 'ts-mls/ratchetTree.js';
import { bytesEqual, toHex } from '@parley/protocol';
import { CredentialRejectedError } from '../authentication.js';
import type { DeviceAuthenticator } from '../authentication.js';
import { ByteDecodeError, ByteReader, ByteWriter } from '../byte-codec.js';
import { parseCredentialIdentity } from '../identity.js';
import type { DeviceRef } from '../identity.js';
import type { MemberDevice } from './engine.js';
import { MlsOperationError } from './errors.js';
import type { MlsErrorCode } from './errors.js';

/*
 * What the ts-mls engine and its groups share: limits and key retention,
 * typed errors from ts-mls failures, message and tree decoding, member lists
 * from a ratchet tree (credential identities parsed once), the per-operation
 * credential check (AuthCollector), and the stored key-package bundle and
 * group-state envelope formats.
 */

/** last_resort KeyPackage extension (MLS extensions registry). */
export const LAST_RESORT_EXTENSION = 0x000a;
export const DEFAULT_KEY_PACKAGE_LIFETIME = 90 * 24 * 3600;
/** Key packages are valid from a day ago, so a committer whose clock is behind still accepts them. */
export const CLOCK_SKEW_ALLOWANCE = 24 * 3600;
/** The protocol's KeyPackageIn.expiresAt bound. */
export const MAX_EXPIRES_AT = 2 ** 40;

/**
 * ts-mls 1.6.4 keeps EVERY old epoch when retainKeysForEpochs is 0 (it does
 * slice(-0)). 2 keeps the previous two epochs' receiver keys: enough to read
 * application messages sent just before a commit, and no more.
 */
export const KEY_RETENTION: KeyRetentionConfig = {
  retainKeysForGenerations: 10,
  retainKeysForEpochs: 2,
  maximumForwardRatchetSteps: 200,
};

export const ALLOWED_PROPOSALS = new Set(['add', 'remove', 'update']);

/* ---------- small helpers ---------- */

export function fail(code: MlsErrorCode, message: string, cause?: unknown): never {
  throw new MlsOperationError(code, message, cause === undefined ? undefined : { cause });
}

/** Turns any failure inside ts-mls into a typed error. Our own typed errors pass through. */
export function toTypedError(err: unknown, fallback: MlsErrorCode = 'invalid_message'): Error {
  if (err instanceof MlsOperationError || err instanceof CredentialRejectedError) return err;
  if (err instanceof CryptoVerificationError || err instanceof CryptoError) return new MlsOperationError('decrypt_failed', err.message, { cause: err });
  if (err instanceof CodecError) return new MlsOperationError('malformed_message', err.message, { cause: err });
  if (err instanceof UsageError) return new MlsOperationError('invalid_state', err.message, { cause: err });
  if (err instanceof ValidationError) return new MlsOperationError(fallback, err.message, { cause: err });
  if (err instanceof MlsError) return new MlsOperationError('internal', err.message, { cause: err });
  // WebCrypto reports a failed AEAD tag as a DOMException (OperationError).
  if (err instanceof Error && err.name === 'OperationError') return new MlsOperationError('decrypt_failed', 'authenticated decryption failed', { cause: err });
  return new MlsOperationError('internal', err instanceof Error ? err.message : 'unexpected failure', { cause: err });
}

export function decodeMessage(bytes: Uint8Array): MLSMessage {
  let decoded: [MLSMessage, number] | undefined;
  try {
    decoded = decodeMlsMessage(bytes, 0);
  } catch (err) {
    fail('malformed_message', 'not an MLS message', err);
  }
  if (decoded === undefined || decoded[1] !== bytes.length) fail('malformed_message', 'not an MLS message');
  return decoded[0];
}

export function decodeTree(bytes: Uint8Array): RatchetTree {
  let decoded: [RatchetTree, number] | undefined;
  try {
    decoded = decodeRatchetTree(bytes, 0);
  } catch (err) {
    fail('invalid_ratchet_tree', 'not a ratchet tree', err);
  }
  if (decoded === undefined || decoded[1] !== bytes.length) fail('invalid_ratchet_tree', 'not a ratchet tree');
  return decoded[0];
}

export function encodeKeyPackageMessage(keyPackage: KeyPackage): Uint8Array {
  return encodeMlsMessage({ version: 'mls10', wireformat: 'mls_key_package', keyPackage });
}

export function hasLastResort(keyPackage: KeyPackage): boolean {
  return keyPackage.extensions.some((e) => e.extensionType === LAST_RESORT_EXTENSION);
}

export function expiresAtOf(keyPackage: KeyPackage): number {
  const notAfter = keyPackage.leafNode.lifetime.notAfter;
  return notAfter > BigInt(MAX_EXPIRES_AT) ? MAX_EXPIRES_AT : Number(notAfter);
}

export function credentialIdentityBytes(credential: Credential): Uint8Array | undefined {
  return credential.credentialType === 'basic' ? credential.identity : undefined;
}

/**
 * Parsed credential identities, keyed by their exact bytes: the parse is a
 * pure function of them, so a hit is what a fresh parse would return (a
 * failed parse is not kept). Saves a UTF-8 decode and two schema checks per
 * leaf for every message, as the tree is read for each sender.
 */
export const parsedIdentities = new Map<string, DeviceRef>();
export const PARSED_IDENTITIES_MAX = 4096;

export function deviceRefOf(identity: Uint8Array): DeviceRef {
  const key = toHex(identity);
  const hit = parsedIdentities.get(key);
  if (hit !== undefined) return hit;
  const ref = parseCredentialIdentity(identity);
  if (parsedIdentities.size >= PARSED_IDENTITIES_MAX) parsedIdentities.clear();
  parsedIdentities.set(key, ref);
  return ref;
}

export function membersOf(tree: RatchetTree): MemberDevice[] {
  const out: MemberDevice[] = [];
  tree.forEach((node, nodeIndex) => {
    if (node?.nodeType !== 'leaf' || nodeIndex % 2 !== 0) return;
    const identity = credentialIdentityBytes(node.leaf.credential);
    if (identity === undefined) fail('internal', 'group contains a non-basic credential');
    let ref;
    try {
      ref = deviceRefOf(identity);
    } catch (err) {
      fail('internal', 'group contains a credential that is not a Parley identity', err);
    }
    out.push({ userId: ref.userId, deviceId: ref.deviceId, signaturePublicKey: node.leaf.signaturePublicKey, leafIndex: nodeIndex / 2 });
  });
  return out;
}

export function memberKey(m: MemberDevice): string {
  return `${m.deviceId}/${toHex(m.signaturePublicKey)}`;
}

export function diffMembers(before: readonly MemberDevice[], after: readonly MemberDevice[]): { added: MemberDevice[]; removed: MemberDevice[] } {
  const b = new Set(before.map(memberKey));
  const a = new Set(after.map(memberKey));
  return { added: after.filter((m) => !b.has(memberKey(m))), removed: before.filter((m) => !a.has(memberKey(m))) };
}

/**
 * A per-operation bridge from our DeviceAuthenticator to ts-mls's boolean
 * AuthenticationService. ts-mls only reports "Could not validate credential";
 * the collector remembers which credential failed and why, so the caller gets
 * a CredentialRejectedError instead.
 */
export class AuthCollector {
  rejection: CredentialRejectedError | undefined;
  /**
   * The signature key of the first credential validated in this operation.
   * In ts-mls's joinGroup that is the GroupInfo signer's leaf (checked before
   * the rest of the tree): the device whose commit made the Welcome.
   */
  firstKey: Uint8Array | undefined;
  constructor(private readonly authenticator: DeviceAuthenticator) {}

  service(): AuthenticationService {
    return {
      validateCredential: async (credential, signaturePublicKey) => {
        this.firstKey ??= signaturePublicKey.slice();
        try {
          await this.authenticator.authenticate({ credentialType: credential.credentialType, identity: credentialIdentityBytes(credential) }, signaturePublicKey);
          return true;
        } catch (err) {
          if (!(err instanceof CredentialRejectedError)) throw err;
          this.rejection ??= err;
          return false;
        }
      },
    };
  }

  /** The error to throw for a failed operation. */
  explain(err: unknown, fallback?: MlsErrorCode): Error {
    return this.rejection ?? toTypedError(err, fallback);
  }

  /** Call after a successful operation: a rejected credential must never be ignored. */
  check(): void {
    if (this.rejection !== undefined) throw this.rejection;
  }
}

/* ---------- stored key package bundle ---------- */

export const BUNDLE_MAGIC = Uint8Array.from([0x50, 0x4b, 0x50]); // "PKP"
export const BUNDLE_VERSION = 1;

export interface KeyPackageBundle {
  keyPackage: KeyPackage;
  initPrivateKey: Uint8Array;
  hpkePrivateKey: Uint8Array;
  lastResort: boolean;
}

export function encodeBundle(keyPackageMessage: Uint8Array, initPrivateKey: Uint8Array, hpkePrivateKey: Uint8Array, lastResort: boolean): Uint8Array {
  return new ByteWriter()
    .raw(BUNDLE_MAGIC)
    .u8(BUNDLE_VERSION)
    .u8(lastResort ? 1 : 0)
    .bytes(keyPackageMessage)
    .bytes(initPrivateKey)
    .bytes(hpkePrivateKey)
    .finish();
}

export function decodeBundle(bytes: Uint8Array): KeyPackageBundle {
  try {
    const r = new ByteReader(bytes);
    const magic = r.raw(BUNDLE_MAGIC.length);
    if (!bytesEqual(magic, BUNDLE_MAGIC)) throw new ByteDecodeError('not a key package bundle');
    if (r.u8() !== BUNDLE_VERSION) throw new ByteDecodeError('unsupported key package bundle version');
    const lastResort = r.u8() === 1;
    const message = decodeMessage(r.bytes(64 * 1024));
    const initPrivateKey = r.bytes(4096);
    const hpkePrivateKey = r.bytes(4096);
    r.end();
    if (message.wireformat !== 'mls_key_package') throw new ByteDecodeError('bundle holds no key package');
    return { keyPackage: message.keyPackage, initPrivateKey, hpkePrivateKey, lastResort };
  } catch (err) {
    if (err instanceof MlsOperationError) throw err;
    fail('invalid_state', 'stored key package bundle is corrupt', err);
  }
}

/* ---------- stored group state envelope ---------- */

export const STATE_MAGIC = Uint8Array.from([0x50, 0x47, 0x53]); // "PGS"
export const STATE_VERSION = 1;
export const MAX_STATE_BYTES = 256 * 1024 * 1024;
