import type { DeviceId, UserId } from '@parley/protocol';
import { IdentityError, parseCredentialIdentity } from './identity.js';
import type { DeviceRef } from './identity.js';

/**
 * The MLS authentication service (RFC 9420 §5.3.1). MLS proves that a member
 * holds the private key for its leaf; this decides whether that key really is
 * the named user's device. The answer comes from a caller-supplied directory,
 * which the client backs with the server's device lists (and, once users have
 * compared safety numbers, with what they verified).
 *
 * Every credential entering a group goes through here: each KeyPackage in an
 * Add (when we commit it and when we process it), each leaf in an Update or a
 * commit path, and every leaf of the tree when joining from a Welcome.
 */

/** True when the device exists, belongs to userId, is not revoked and has this signature key. */
export type DeviceDirectory = (userId: UserId, deviceId: DeviceId, signaturePublicKey: Uint8Array) => boolean | Promise<boolean>;

export type CredentialRejectionReason = 'unsupported_credential_type' | 'malformed_credential' | 'unknown_device' | 'directory_error';

export class CredentialRejectedError extends Error {
  constructor(
    readonly reason: CredentialRejectionReason,
    /** The device the credential names, when it could be parsed. */
    readonly device: DeviceRef | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CredentialRejectedError';
  }
}

/** The shape of an MLS credential as far as we care: basic credentials carry identity bytes. */
export interface CredentialInput {
  readonly credentialType: string;
  readonly identity?: Uint8Array | undefined;
}

export interface AuthenticatedDevice extends DeviceRef {
  readonly signaturePublicKey: Uint8Array;
}

export interface DeviceAuthenticator {
  /** Resolves with the device the credential names, or throws CredentialRejectedError. */
  authenticate(credential: CredentialInput, signaturePublicKey: Uint8Array): Promise<AuthenticatedDevice>;
}

export function createDeviceAuthenticator(directory: DeviceDirectory): DeviceAuthenticator {
  return {
    async authenticate(credential, signaturePublicKey) {
      if (credential.credentialType !== 'basic' || credential.identity === undefined) {
        throw new CredentialRejectedError('unsupported_credential_type', undefined, `credential type ${credential.credentialType} is not accepted`);
      }
      let ref: DeviceRef;
      try {
        ref = parseCredentialIdentity(credential.identity);
      } catch (err) {
        if (err instanceof IdentityError) throw new CredentialRejectedError('malformed_credential', undefined, err.message, { cause: err });
        throw err;
      }
      let known: boolean;
      try {
        known = await directory(ref.userId, ref.deviceId, signaturePublicKey);
      } catch (err) {
        throw new CredentialRejectedError('directory_error', ref, 'device directory lookup failed', { cause: err });
      }
      if (known !== true) {
        throw new CredentialRejectedError('unknown_device', ref, `device ${ref.deviceId} of user ${ref.userId} is not in the directory with this key`);
      }
      return { userId: ref.userId, deviceId: ref.deviceId, signaturePublicKey };
    },
  };
}
