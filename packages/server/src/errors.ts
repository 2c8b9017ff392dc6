import { ParleyError, type ErrorCode } from '@parley/protocol';
import { BlobDigestMismatchError, BlobTooLargeError } from './blobs/blob-store.js';
import { StorageError } from './storage/storage.js';

export { ParleyError as ApiError };

const STORAGE_CODES: Record<StorageError['kind'], ErrorCode> = {
  username_taken: 'username_taken',
  device_exists: 'bad_request',
  group_exists: 'group_exists',
  not_found: 'not_found',
  not_member: 'not_member',
  epoch_conflict: 'epoch_conflict',
  device_revoked: 'device_revoked',
  too_many_key_packages: 'too_many_key_packages',
  invalid_membership: 'bad_request',
};

/**
 * Turns anything thrown into an API error. Unknown errors become `internal`
 * with a generic message; their details go only to the log (never to clients).
 */
export function toApiError(err: unknown): ParleyError {
  if (err instanceof ParleyError) return err;
  if (err instanceof StorageError) {
    return new ParleyError(STORAGE_CODES[err.kind], err.message, err.detail ? { cause: err, detail: err.detail } : { cause: err });
  }
  if (err instanceof BlobTooLargeError) return new ParleyError('payload_too_large', 'blob too large', { cause: err });
  if (err instanceof BlobDigestMismatchError) return new ParleyError('digest_mismatch', 'blob does not match its digest', { cause: err });
  return new ParleyError('internal', 'internal error', { cause: err });
}

/** Fields safe to log for an error: code and, for internal errors, the error's class and message. */
export function errorLogFields(err: ParleyError): Record<string, unknown> {
  if (err.code !== 'internal') return { code: err.code };
  const cause = err.cause;
  return {
    code: err.code,
    error: cause instanceof Error ? { type: cause.name, message: cause.message, stack: cause.stack } : String(cause),
  };
}
