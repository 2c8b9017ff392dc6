import type { Bus } from '../bus/bus.js';
import type { Storage } from '../storage/storage.js';

/**
 * What the server tells its metrics, as small calls from where things happen
 * (ws/, http/, the rate limiter). Every label value comes from one of the
 * closed sets below — never from a request, a user, a device, a group, a
 * token or an address. With metrics off (the default) every call is a no-op.
 */

/** Frames a connection reads: the client frame types, plus frames that did not decode and frames refused unread (rate limit). */
export const FRAME_IN_TYPES = ['hello', 'ping', 'send', 'commit', 'ack', 'leave', 'typing', 'rejoin', 'invalid', 'unread'] as const;
/** Frames a connection writes (`notice` covers key_packages_low and devices_changed). */
export const FRAME_OUT_TYPES = ['ready', 'synced', 'pong', 'ok', 'error', 'msg', 'notice', 'typing'] as const;
/** What a device stored: a group message (application or proposal), or a commit. */
export const STORED_KINDS = ['message', 'commit'] as const;
/** How a message reached a device's socket: pushed while it was connected, or read from its backlog on connect. */
export const DELIVERY_PATHS = ['live', 'backlog'] as const;
/** Rate limits, by the prefix of their limiter key (rate-limit.ts keys are "<prefix>:<subject>"; the subject is never used). */
export const RATE_LIMIT_PREFIXES = {
  public: 'public_address',
  'auth-addr': 'auth_address',
  auth: 'auth_username',
  http: 'http_account',
  'bad-token': 'bad_token_address',
  password: 'password',
  'link-code': 'link_code',
  claim: 'claim_account',
  'claim-target': 'claim_target_device',
  'claim-last-resort': 'claim_last_resort',
  ws: 'ws_frames',
  typing: 'typing_frames',
} as const;
export const RATE_LIMIT_NAMES = [...Object.values(RATE_LIMIT_PREFIXES), 'other'] as const;
/** Refusals counted as authentication failures (error codes of the protocol). */
export const AUTH_FAILURE_REASONS = ['unauthenticated', 'invalid_credentials', 'device_pending'] as const;
export const TRANSPORTS = ['http', 'ws'] as const;
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'other'] as const;
/** Responses by status class; `aborted` when the connection closed before a response was sent. */
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'aborted'] as const;

export type FrameInType = (typeof FRAME_IN_TYPES)[number];
export type FrameOutType = (typeof FRAME_OUT_TYPES)[number];
export type StoredKind = (typeof STORED_KINDS)[number];
export type DeliveryPath = (typeof DELIVERY_PATHS)[number];
export type Transport = (typeof TRANSPORTS)[number];

/** What the metrics read when scraped (never on the message path). */
export interface MetricSources {
  storage: Storage;
  bus: Bus;
  /** Web Push results counted by the notifier (push/notifier.ts), read when scraped. */
  push?: { readonly counters: Readonly<Record<PushResult, number>> };
}

/** Results of a Web Push wake-up: `parley_push_total{result}`. */
export const PUSH_RESULTS = ['sent', 'gone', 'failed', 'dropped', 'live'] as const;
export type PushResult = (typeof PUSH_RESULTS)[number];

export interface Metrics {
  readonly enabled: boolean;
  /** Storage and bus: their health and the backlog are read when scraped; write batches are reported as they commit. */
  watch(sources: MetricSources): void;
  /** Reads connection counts from the server when scraped. */
  watchConnections(count: () => number): void;
  /** Route templates (`"GET /v1/groups/:groupId"`) that `httpRequest` may name; anything else is counted as `other`. */
  declareRoutes(templates: readonly string[]): void;
  connectionOpened(): void;
  frameIn(type: FrameInType): void;
  frameOut(type: FrameOutType): void;
  stored(kind: StoredKind): void;
  /** A message was written to a device's socket; `storedAt` (this process's `performance.now()`) when known. */
  delivered(path: DeliveryPath, storedAt: number | undefined): void;
  /** A rate limit refused; `key` is the limiter key, of which only the prefix is used. */
  rateLimited(key: string): void;
  /** A request or hello was refused with `code`; only the codes in AUTH_FAILURE_REASONS are counted. */
  authFailed(code: string, transport: Transport): void;
  /** An HTTP response finished (`status` undefined: the connection closed first). */
  httpRequest(method: string, template: string, status: number | undefined): void;
  /** The Prometheus text exposition of every metric. */
  scrape(): Promise<string>;
  readonly contentType: string;
}

/** Metrics off: every hook does nothing. */
export class NoMetrics implements Metrics {
  readonly enabled = false;
  readonly contentType = 'text/plain; charset=utf-8';
  watch(): void {}
  watchConnections(): void {}
  declareRoutes(): void {}
  connectionOpened(): void {}
  frameIn(): void {}
  frameOut(): void {}
  stored(): void {}
  delivered(): void {}
  rateLimited(): void {}
  authFailed(): void {}
  httpRequest(): void {}
  async scrape(): Promise<string> {
    return '';
  }
}

/** Index of each value of a closed set, for array-backed counters. */
export function indexOf<T extends string>(values: readonly T[]): Record<T, number> {
  return Object.fromEntries(values.map((v, i) => [v, i])) as Record<T, number>;
}
