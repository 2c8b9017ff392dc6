import { z } from 'zod';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { parseAddressRange } from './address.js';

/** Server configuration, read once from the environment and validated. */
const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().default('127.0.0.1'),
  PARLEY_DATA_DIR: z.string().default('./data'),
  DATABASE_URL: z.string().url().optional(),
  NATS_URL: z.string().url().optional(),
  PARLEY_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  PARLEY_RETENTION_DAYS: z.coerce.number().min(1).max(3650).default(30),
  PARLEY_MAX_FRAME_BYTES: z.coerce.number().int().min(1024).default(1024 * 1024),
  PARLEY_MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(2 * 1024 * 1024),
  PARLEY_MAX_BLOB_BYTES: z.coerce.number().int().min(1024).default(100 * 1024 * 1024),
  PARLEY_SESSION_DAYS: z.coerce.number().min(1).max(3650).default(90),
  PARLEY_USERNAME_HOLD_DAYS: z.coerce.number().min(1).max(3650).default(30),
  PARLEY_RATE_LIMITS: z.enum(['on', 'off']).default('on'),
  PARLEY_TRUST_PROXY: z.enum(['on', 'off']).default('off'),
  /** Comma-separated addresses and CIDR ranges of reverse proxies whose X-Forwarded-For hop is believed. */
  PARLEY_TRUSTED_PROXIES: z
    .string()
    .max(4096)
    .refine((v) => v.split(',').every((p) => parseAddressRange(p.trim()) !== undefined), 'must be a comma-separated list of IP addresses or CIDR ranges (e.g. 10.0.0.0/8,::1)')
    .optional(),
  PARLEY_QUOTA_QUEUED_BYTES: z.coerce.number().int().min(1024 * 1024).max(2 ** 50).default(256 * 1024 * 1024),
  PARLEY_QUOTA_BLOB_BYTES: z.coerce.number().int().min(1024 * 1024).max(2 ** 50).default(2 * 1024 * 1024 * 1024),
  PARLEY_MAX_SOCKETS_PER_ACCOUNT: z.coerce.number().int().min(1).max(10_000).default(16),
  PARLEY_WEB_DIR: z.string().optional(),
  /** SQLite durability: full (fsync at every commit, the default) or normal (see docs/operations.md). */
  PARLEY_SQLITE_SYNCHRONOUS: z.enum(['full', 'normal']).default('full'),
  /** host:port of the admin listener serving /metrics; unset = no metrics. */
  PARLEY_METRICS_ADDR: z
    .string()
    .max(300)
    .refine((v) => parseListenAddress(v) !== undefined, 'must be host:port, e.g. 127.0.0.1:9464 or [::1]:9464 (port 0 picks a free one)')
    .optional(),
  /** VAPID contact (mailto: or https: URL) the push services may reach the operator at (docs/operations.md). */
  PARLEY_VAPID_SUBJECT: z
    .string()
    .max(300)
    .regex(/^(mailto:|https:\/\/)\S+$/, 'must be a mailto: or https:// URL')
    .optional(),
});

export interface RateLimitConfig {
  enabled: boolean;
  /** Login/register attempts per username per minute. */
  authPerMinute: number;
  /** Login/register attempts per client address per minute (kept in memory only). */
  authPerAddressPerMinute: number;
  /** HTTP requests per account per minute; also unauthenticated requests per client address. */
  httpPerMinute: number;
  /** Requests with a missing, unknown or expired token (and WebSocket hellos with one) per client address per minute. */
  badTokenPerAddressPerMinute: number;
  /** Link-code lookups and approvals per account per minute (a code is guessed only at this pace). */
  linkCodePerMinute: number;
  /** KeyPackages handed out per target device per minute, whoever claims them. */
  claimsPerDevicePerMinute: number;
  /** Devices an account may claim KeyPackages for, per 10 minutes (at least MAX_CLAIM_DEVICES). */
  claimDevicesPer10Minutes: number;
  /** Times a device's last-resort KeyPackage is handed out per minute. */
  lastResortPerDevicePerMinute: number;
  /** WebSocket frames per connection per second (sustained) and burst. */
  framesPerSecond: number;
  frameBurst: number;
}

export interface ServerConfig {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  /** When set, live fan-out goes over NATS so several server processes can share the work. */
  natsUrl: string | undefined;
  logLevel: string;
  version: string;
  /** Seconds an unacknowledged message is kept. */
  retentionSeconds: number;
  /** Seconds a blob is kept after its upload or its latest reference, even once no stored message refers to it. */
  blobGraceSeconds: number;
  sessionSeconds: number;
  maxFrameBytes: number;
  maxBodyBytes: number;
  maxBlobBytes: number;
  maxKeyPackages: number;
  keyPackageLowWatermark: number;
  /** Bytes queued on a socket before a slow reader is disconnected (it resumes from its mailbox). */
  maxSocketBufferBytes: number;
  helloTimeoutMs: number;
  /** How often a live connection re-validates its session. */
  sessionRecheckMs: number;
  maintenanceIntervalMs: number;
  /** How soon acknowledged messages are deleted. */
  trimIntervalMs: number;
  argon2: { memoryCost: number; timeCost: number; parallelism: number };
  rateLimits: RateLimitConfig;
  /** Shorthand: trust reverse proxies on the loopback addresses (127.0.0.0/8, ::1). */
  trustProxy: boolean;
  /**
   * Addresses and CIDR ranges of trusted reverse proxies. For a request from
   * one of them the client address is the right-most X-Forwarded-For hop
   * that is not itself trusted (see address.ts).
   */
  trustedProxies: string[];
  quotas: {
    /** Bytes of undelivered group messages an account may have queued (sum over its groups). */
    queuedBytes: number;
    /** Bytes of blobs an account may upload within retention + blob grace. */
    blobBytes: number;
  };
  /** Live WebSocket connections per account on this process; the one over it is closed with 4009. */
  maxSocketsPerAccount: number;
  /** Seconds a sign-in challenge stays valid. */
  challengeSeconds: number;
  /** Seconds a deleted account's name stays unavailable (its last rows are purged then too). */
  usernameHoldSeconds: number;
  /** Validate every response against its schema (on in tests). */
  validateResponses: boolean;
  /** The web app's static build to serve at `/`; unset = API only. */
  webDir: string | undefined;
  /** SQLite's PRAGMA synchronous: 'full' (no acknowledged write lost to a power failure) or 'normal' (faster). */
  sqliteSynchronous: 'full' | 'normal';
  /** Where the admin listener serves `/metrics` (Prometheus text format); unset = metrics off. Never the public port. */
  metricsAddr: ListenAddress | undefined;
  push: PushConfig;
}

/** Web Push (docs/protocol.md, Push). The VAPID keys live in the data directory (vapid.json). */
export interface PushConfig {
  /** VAPID `sub` claim: the operator's contact for the push services. */
  subject: string;
  /** At most one push per device per this many ms. */
  coalesceMs: number;
  concurrency: number;
  maxQueued: number;
  timeoutMs: number;
  ttlSeconds: number;
  /** Accept http://127.0.0.1 subscription endpoints (tests' local push service only; never from the environment). */
  allowLocalHttp: boolean;
}

export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * `host:port` with an IPv4 address, a bracketed IPv6 address (`[::1]:9464`)
 * or a host name (`localhost:9464`); port 0 picks a free port.
 */
export function parseListenAddress(value: string): ListenAddress | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(value.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port > 65535) return undefined;
  const v6 = m[1];
  if (v6 !== undefined) return isIP(v6) === 6 ? { host: v6, port } : undefined;
  const host = m[2] ?? '';
  if (isIP(host) === 4) return { host, port };
  // A name: letters, digits, dots and hyphens, as DNS allows (no bare number like "9464").
  if (/^\d+(\.\d+)*$/.test(host) || host.startsWith('-') || host.startsWith('.') || host.length > 253) return undefined;
  return { host, port };
}

export const SERVER_VERSION = '0.1.0';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function configFromEnv(env: Record<string, string | undefined> = process.env): ServerConfig {
  // An empty variable means "not set", as in most shells' `VAR= command`.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) throw new ConfigError(`invalid configuration: ${z.prettifyError(parsed.error)}`);
  const e = parsed.data;
  return {
    ...defaultConfig(),
    port: e.PORT,
    host: e.HOST,
    dataDir: resolve(e.PARLEY_DATA_DIR),
    databaseUrl: e.DATABASE_URL,
    natsUrl: e.NATS_URL,
    logLevel: e.PARLEY_LOG_LEVEL,
    retentionSeconds: Math.round(e.PARLEY_RETENTION_DAYS * 86400),
    maxFrameBytes: e.PARLEY_MAX_FRAME_BYTES,
    maxBodyBytes: e.PARLEY_MAX_BODY_BYTES,
    maxBlobBytes: e.PARLEY_MAX_BLOB_BYTES,
    sessionSeconds: Math.round(e.PARLEY_SESSION_DAYS * 86400),
    usernameHoldSeconds: Math.round(e.PARLEY_USERNAME_HOLD_DAYS * 86400),
    rateLimits: { ...defaultConfig().rateLimits, enabled: e.PARLEY_RATE_LIMITS === 'on' },
    trustProxy: e.PARLEY_TRUST_PROXY === 'on',
    trustedProxies: e.PARLEY_TRUSTED_PROXIES === undefined ? [] : e.PARLEY_TRUSTED_PROXIES.split(',').map((p) => p.trim()),
    quotas: { queuedBytes: e.PARLEY_QUOTA_QUEUED_BYTES, blobBytes: e.PARLEY_QUOTA_BLOB_BYTES },
    maxSocketsPerAccount: e.PARLEY_MAX_SOCKETS_PER_ACCOUNT,
    webDir: e.PARLEY_WEB_DIR === undefined ? undefined : resolve(e.PARLEY_WEB_DIR),
    sqliteSynchronous: e.PARLEY_SQLITE_SYNCHRONOUS,
    metricsAddr: metricsAddress(e.PARLEY_METRICS_ADDR, e.PORT),
    push: { ...defaultConfig().push, ...(e.PARLEY_VAPID_SUBJECT === undefined ? {} : { subject: e.PARLEY_VAPID_SUBJECT }) },
  };
}

function metricsAddress(value: string | undefined, publicPort: number): ListenAddress | undefined {
  if (value === undefined) return undefined;
  const addr = parseListenAddress(value);
  if (addr === undefined) throw new ConfigError('invalid configuration: PARLEY_METRICS_ADDR must be host:port');
  if (addr.port !== 0 && addr.port === publicPort) {
    throw new ConfigError('invalid configuration: PARLEY_METRICS_ADDR must not use the public port (PORT): metrics are served on a separate admin listener');
  }
  return addr;
}

export function defaultConfig(): ServerConfig {
  return {
    port: 8080,
    host: '127.0.0.1',
    dataDir: resolve('./data'),
    databaseUrl: undefined,
    natsUrl: undefined,
    logLevel: 'info',
    version: SERVER_VERSION,
    retentionSeconds: 30 * 86400,
    blobGraceSeconds: 3 * 86400,
    sessionSeconds: 90 * 86400,
    maxFrameBytes: 1024 * 1024,
    maxBodyBytes: 2 * 1024 * 1024,
    maxBlobBytes: 100 * 1024 * 1024,
    maxKeyPackages: 500,
    keyPackageLowWatermark: 10,
    maxSocketBufferBytes: 8 * 1024 * 1024,
    helloTimeoutMs: 10_000,
    sessionRecheckMs: 60_000,
    maintenanceIntervalMs: 60_000,
    trimIntervalMs: 1000,
    webDir: undefined,
    sqliteSynchronous: 'full',
    metricsAddr: undefined,
    argon2: { memoryCost: 19_456, timeCost: 2, parallelism: 1 },
    rateLimits: {
      enabled: true,
      authPerMinute: 10,
      authPerAddressPerMinute: 60,
      httpPerMinute: 600,
      badTokenPerAddressPerMinute: 60,
      linkCodePerMinute: 10,
      claimsPerDevicePerMinute: 30,
      claimDevicesPer10Minutes: 2000,
      lastResortPerDevicePerMinute: 3,
      framesPerSecond: 200,
      frameBurst: 1000,
    },
    trustProxy: false,
    trustedProxies: [],
    quotas: { queuedBytes: 256 * 1024 * 1024, blobBytes: 2 * 1024 * 1024 * 1024 },
    maxSocketsPerAccount: 16,
    challengeSeconds: 60,
    usernameHoldSeconds: 30 * 86400,
    validateResponses: false,
    push: {
      subject: DEFAULT_VAPID_SUBJECT,
      coalesceMs: 5000,
      concurrency: 32,
      maxQueued: 10_000,
      timeoutMs: 10_000,
      ttlSeconds: 86_400,
      allowLocalHttp: false,
    },
  };
}

/** Used when PARLEY_VAPID_SUBJECT is unset: some push services refuse it, so operators set their own (docs/operations.md). */
export const DEFAULT_VAPID_SUBJECT = 'mailto:postmaster@localhost';
