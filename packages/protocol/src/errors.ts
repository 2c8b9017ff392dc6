/**
 * The closed table of error codes. Every error the server sends, over HTTP or
 * WebSocket, carries exactly one of these codes. Clients switch on the code,
 * never on the message text.
 */
export const ERROR_CODES = {
  bad_request: { http: 400, retryable: false },
  payload_too_large: { http: 413, retryable: false },
  unsupported_version: { http: 400, retryable: false },
  invalid_username: { http: 400, retryable: false },
  weak_password: { http: 400, retryable: false },
  username_taken: { http: 409, retryable: false },
  invalid_credentials: { http: 401, retryable: false },
  unauthenticated: { http: 401, retryable: false },
  forbidden: { http: 403, retryable: false },
  not_found: { http: 404, retryable: false },
  not_member: { http: 403, retryable: false },
  group_exists: { http: 409, retryable: false },
  epoch_conflict: { http: 409, retryable: true },
  invalid_mls_message: { http: 400, retryable: false },
  digest_mismatch: { http: 400, retryable: false },
  device_revoked: { http: 401, retryable: false },
  too_many_key_packages: { http: 409, retryable: false },
  /** A KeyPackage whose credential or signature key is not the uploading device's registered one. */
  key_package_mismatch: { http: 400, retryable: false },
  /** PUT /v1/profile with a version another account's profile holds (see docs/protocol.md, Profiles). */
  profile_version_taken: { http: 409, retryable: false },
  /** The device is linked but no existing device has approved it yet. */
  device_pending: { http: 403, retryable: false },
  /** A per-account storage limit (undelivered message bytes, blob bytes) is reached; detail.quota names it. */
  quota_exceeded: { http: 507, retryable: false },
  /** The account already holds as many live connections as it may. */
  too_many_connections: { http: 429, retryable: true },
  rate_limited: { http: 429, retryable: true },
  overloaded: { http: 503, retryable: true },
  unavailable: { http: 503, retryable: true },
  internal: { http: 500, retryable: true },
} as const satisfies Record<string, { http: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as ErrorCode[];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

export function httpStatusFor(code: ErrorCode): number {
  return ERROR_CODES[code].http;
}

export function isRetryable(code: ErrorCode): boolean {
  return ERROR_CODES[code].retryable;
}

/**
 * WebSocket close codes (4000-4999 is the application range). A socket is
 * closed only when continuing is unsafe or pointless; otherwise an error frame
 * is sent and the connection stays open.
 */
export const WS_CLOSE = {
  normal: 1000,
  goingAway: 1001,
  unauthenticated: 4001,
  unsupportedVersion: 4002,
  protocolViolation: 4003,
  tooSlow: 4008,
  rateLimited: 4029,
  tooManyConnections: 4009,
  deviceRevoked: 4010,
} as const;

/** Body of every HTTP error response and payload of every WS error frame. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  retryable: boolean;
  /** Extra machine-readable detail, e.g. the current epoch on epoch_conflict. */
  detail?: Record<string, unknown>;
}

/** An error carrying a protocol code; thrown by the server, the client SDK rethrows it. */
export class ParleyError extends Error {
  readonly code: ErrorCode;
  readonly detail: Record<string, unknown> | undefined;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; detail?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ParleyError';
    this.code = code;
    this.detail = options?.detail;
  }

  get retryable(): boolean {
    return isRetryable(this.code);
  }

  toBody(): ErrorBody {
    const body: ErrorBody = { code: this.code, message: this.message, retryable: this.retryable };
    if (this.detail !== undefined) body.detail = this.detail;
    return body;
  }
}
