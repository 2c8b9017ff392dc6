import type { ErrorCode } from '@parley/protocol';

/**
 * Errors the client raises. Server errors keep their protocol code
 * (`server: true`); the rest are the client's own codes.
 */
export type ClientErrorCode =
  | ErrorCode
  /** The connection dropped before the server answered; the outcome is unknown. */
  | 'disconnected'
  /** The server's reply did not match the protocol schema. */
  | 'bad_response'
  | 'network'
  | 'not_logged_in'
  | 'already_logged_in'
  | 'unknown_conversation'
  | 'not_active'
  | 'unknown_user'
  | 'no_key_packages'
  | 'commit_failed'
  /**
   * setVerified: the safety number is no longer the one the user compared.
   * send: a member the user verified has a new safety number (detail.users); pass confirmSafetyNumberChange.
   */
  | 'safety_number_changed'
  /** login() on a store without this account's device: link it (linkDevice) or start over (resetIdentity). */
  | 'new_device'
  /** The link code expired before an existing device approved it. */
  | 'link_expired'
  /** An existing device rejected the link (or the pending device was revoked). */
  | 'link_rejected'
  /** No pending link with this code for this user (unknown, expired, or not a code). */
  | 'link_not_found'
  /** The QR code's key is not the key the server holds for the pending device: do not approve. */
  | 'link_key_mismatch'
  /** One of this account's devices has no approval that verifies: it is not added to conversations. */
  | 'device_unapproved'
  /** The self group or its account key could not be used (see self/self-group.ts); detail says why. */
  | 'account_key'
  /** A device name that cannot be read: tampered with, moved from another device, or not a valid name. */
  | 'device_name'
  /** An attachment or voice message this device does not keep and the server no longer has (its blob was deleted). */
  | 'blob_gone'
  /** Refused before anything was uploaded: over a limit (a voice message's size or duration, see @parley/crypto). */
  | 'too_large'
  /** A request to re-add a device was ignored (healing/); detail.reason says why. */
  | 'rejoin_refused'
  /** contacts.add: the contact code's user id is not the id the directory gives for its username (a wrong or forged code). */
  | 'contact_mismatch'
  | 'closed';

export class ClientError extends Error {
  constructor(
    readonly code: ClientErrorCode,
    message: string,
    options?: { cause?: unknown; detail?: Record<string, unknown> | undefined; server?: boolean },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ClientError';
    this.detail = options?.detail;
    this.server = options?.server ?? false;
  }
  readonly detail: Record<string, unknown> | undefined;
  /** True when the server reported this error. */
  readonly server: boolean;
}
