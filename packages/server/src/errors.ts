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
  device_pending: 'device_pending',
  too_many_key_packages: 'too_many_key_packages',
  invalid_membership: 'bad_request',
  quota_exceeded: 'quota_exceeded',
  profile_version_taken: 'profile_version_taken',
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
  if (isOutage(err)) return new ParleyError('unavailable', 'storage is unavailable, try again shortly', { cause: err });
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

/** Network errors and PostgreSQL "connection exception" / "operator intervention" states. */
const OUTAGE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', '57P01', '57P02', '57P03']);

/** True when an error means a backing service cannot be reached (as opposed to a bug or bad input). */
export function isOutage(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (OUTAGE_CODES.has(code) || code.startsWith('08'))) return true;
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect/i.test(err.message);
}
