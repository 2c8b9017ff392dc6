/**
 * Typed MLS failures. Callers switch on `code`; the library's own error is
 * kept as `cause` for diagnostics. Messages never contain key material or
 * plaintext.
 */
export type MlsErrorCode =
  /** Not a well-formed MLSMessage of the expected kind. */
  | 'malformed_message'
  /** A message for a different group. */
  | 'wrong_group'
  /** A commit or proposal for an epoch we have already left (e.g. the loser of a commit race). */
  | 'stale_epoch'
  /** A message for an epoch we have not reached: a commit is missing; fetch and apply it first. */
  | 'future_epoch'
  /** An application message from an epoch whose keys are no longer retained. */
  | 'epoch_expired'
  /** Decryption or signature/confirmation verification failed. */
  | 'decrypt_failed'
  /** Our own message coming back from the server (MLS cannot decrypt its own sends). */
  | 'own_message'
  /** A commit or proposal our policy refuses (external commits, reinit, PSKs, extension changes). */
  | 'rejected_by_policy'
  /** The message is valid MLS but breaks a protocol rule (RFC 9420 validation). */
  | 'invalid_message'
  /** This device was removed from the group. */
  | 'not_member'
  | 'pending_commit'
  | 'no_pending_commit'
  /** encrypt() while received proposals await a commit. */
  | 'pending_proposals'
  /** removeMembers named a device that is not in the group, or addMembers one that is. */
  | 'membership'
  | 'invalid_key_package'
  /** No stored key package matches the Welcome. */
  | 'welcome_not_for_us'
  /** The separately supplied ratchet tree / group info does not fit the Welcome or state. */
  | 'invalid_ratchet_tree'
  | 'invalid_state'
  | 'internal';

export class MlsOperationError extends Error {
  constructor(
    readonly code: MlsErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MlsOperationError';
  }
}
