import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { httpStatusFor, ParleyError, type DeviceId, type UserId } from '@parley/protocol';
import { addressKey, clientAddress, trustedProxiesOf } from '../address.js';
import { tokenHash } from '../auth/credentials.js';
import type { AppContext } from '../context.js';
import { errorLogFields, toApiError } from '../errors.js';

/**
 * Every HTTP call passes the same steps, in order:
 * match route + parse params → rate-limit by client address (unauthenticated
 * routes) → authenticate (a client address with too many bad tokens is
 * refused before the lookup) → rate-limit by account → parse body →
 * rate-limit by subject (the username being tried) → handler → (when
 * configured, in tests) validate the response against its schema.
 * No body is read, and no password hashed, before the first limits.
 */

export interface Caller {
  userId: UserId;
  deviceId: DeviceId;
  token: string;
  /** Pending devices (linked, not yet approved) reach only routes marked `allowPending`. */
  pending: boolean;
}

export type RateClass = 'auth' | 'account' | 'public';

export interface RouteCall<P, B> {
  ctx: AppContext;
  params: P;
  body: B;
  caller: Caller | undefined;
  req: IncomingMessage;
  res: ServerResponse;
}

export interface Route<P = unknown, B = unknown> {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path with `:name` segments, e.g. /v1/devices/:deviceId */
  path: string;
  params?: z.ZodType<P>;
  auth: boolean;
  /** The route also serves sessions of pending devices (only the link status and sign-out do). */
  allowPending?: boolean;
  /** JSON body schema; routes that stream their body (blobs) set `stream: true` instead. */
  body?: z.ZodType<B>;
  /** A tighter limit than config.maxBodyBytes for this route's JSON body (payload_too_large past it). */
  maxBodyBytes?: number;
  stream?: boolean;
  rate: RateClass;
  /** Key for per-subject auth limits (e.g. the username being tried). */
  rateSubject?: (body: B) => string | undefined;
  response?: z.ZodType;
  status?: number;
  /** Chooses the status from the result, when it depends on it (health: 503 while degraded). */
  statusOf?: (result: unknown) => number;
  /** Returns a JSON-able result, or undefined when the handler wrote the response itself. */
  handler(call: RouteCall<P, B>): Promise<unknown>;
}

export function route<P, B>(r: Route<P, B>): Route<unknown, unknown> {
  return r as unknown as Route<unknown, unknown>;
}

interface CompiledRoute {
  route: Route<unknown, unknown>;
  segments: string[];
}

export class Router {
  private readonly routes: CompiledRoute[];

  constructor(routes: Route<unknown, unknown>[]) {
    this.routes = routes.map((r) => ({ route: r, segments: r.path.split('/').filter(Boolean) }));
  }

  match(method: string, pathname: string): { route: Route<unknown, unknown>; params: Record<string, string> } | 'method' | undefined {
    const parts = pathname.split('/').filter(Boolean);
    let pathMatched = false;
    for (const c of this.routes) {
      if (c.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length; i++) {
        const seg = c.segments[i] ?? '';
        const part = parts[i] ?? '';
        if (seg.startsWith(':')) {
          try {
            params[seg.slice(1)] = decodeURIComponent(part);
          } catch {
            ok = false;
            break;
          }
        } else if (seg !== part) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      pathMatched = true;
      if (c.route.method === method) return { route: c.route, params };
    }
    return pathMatched ? 'method' : undefined;
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(text);
}

export function sendError(ctx: AppContext, res: ServerResponse, err: unknown, routeName: string): void {
  const api = toApiError(err);
  ctx.metrics.authFailed(api.code, 'http');
  if (api.code === 'internal') ctx.logger.error({ event: 'http.error', route: routeName, ...errorLogFields(api) }, 'request failed');
  else ctx.logger.debug({ event: 'http.error', route: routeName, code: api.code }, 'request refused');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string> = {};
  if (api.code === 'rate_limited') headers['retry-after'] = '60';
  res.setHeader('connection', 'close');
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  sendJson(res, httpStatusFor(api.code), api.toBody());
}

async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw new ParleyError('payload_too_large', `bodies are limited to ${maxBytes} bytes`);
  const type = String(req.headers['content-type'] ?? '');
  if (!type.startsWith('application/json')) throw new ParleyError('bad_request', 'content-type must be application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new ParleyError('payload_too_large', `bodies are limited to ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch (cause) {
    throw new ParleyError('bad_request', 'body is not valid JSON', { cause });
  }
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string' || !h.startsWith('Bearer ')) return undefined;
  const t = h.slice(7).trim();
  return t.length > 0 && t.length <= 256 ? t : undefined;
}

/**
 * Resolves a bearer token to its session. Sessions of pending devices are
 * refused (device_pending) unless `allowPending`.
 */
export async function authenticate(ctx: AppContext, token: string | undefined, options: { allowPending?: boolean } = {}): Promise<Caller> {
  if (!token) throw new ParleyError('unauthenticated', 'a bearer token is required');
  const session = await ctx.storage.getSession(tokenHash(token), ctx.clock.now());
  if (!session) throw new ParleyError('unauthenticated', 'session unknown, expired or revoked');
  const pending = session.deviceStatus === 'pending';
  if (pending && options.allowPending !== true) throw new ParleyError('device_pending', 'this device is waiting for approval by an existing device');
  return { userId: session.userId, deviceId: session.deviceId, token, pending };
}

function issues(err: z.ZodError): string {
  return z.prettifyError(err).slice(0, 500);
}

/** The client's address as an in-memory rate-limit key (never stored or logged; see address.ts). */
export function peerKey(ctx: AppContext, req: IncomingMessage): string {
  return addressKey(clientAddress(req, trustedProxiesOf(ctx.config)));
}

/**
 * Limits a client address's requests with missing or bad tokens: an address
 * over the limit is refused before its token is even looked up.
 */
export async function authenticateLimited(ctx: AppContext, token: string | undefined, peer: () => string, options: { allowPending?: boolean } = {}): Promise<Caller> {
  const limits = ctx.config.rateLimits;
  const perMinute = limits.badTokenPerAddressPerMinute;
  const key = limits.enabled ? `bad-token:${peer()}` : undefined;
  if (key !== undefined && !ctx.limiter.peek(key, perMinute / 60, perMinute)) throw new ParleyError('rate_limited', 'too many failed sign-ins from this address, slow down');
  try {
    return await authenticate(ctx, token, options);
  } catch (err) {
    if (key !== undefined && err instanceof ParleyError && err.code === 'unauthenticated') ctx.limiter.take(key, perMinute / 60, perMinute);
    throw err;
  }
}

export async function runRoute(ctx: AppContext, r: Route<unknown, unknown>, rawParams: Record<string, string>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const name = `${r.method} ${r.path}`;
  try {
    let params: unknown = rawParams;
    if (r.params) {
      const p = r.params.safeParse(rawParams);
      if (!p.success) throw new ParleyError('bad_request', `invalid path: ${issues(p.error)}`);
      params = p.data;
    }
    const limits = ctx.config.rateLimits;
    let peer: string | undefined;
    const peerOf = () => (peer ??= peerKey(ctx, req));
    const limit = (key: string, perMinute: number) => {
      if (limits.enabled && !ctx.limiter.take(key, perMinute / 60, perMinute)) throw new ParleyError('rate_limited', 'too many requests, slow down');
    };
    // Unauthenticated routes: per client address, before anything else is done for the request.
    if (r.rate === 'auth') limit(`auth-addr:${peerOf()}`, limits.authPerAddressPerMinute);
    else if (!r.auth) limit(`public:${peerOf()}`, limits.httpPerMinute);
    let caller: Caller | undefined;
    if (r.auth) {
      caller = await authenticateLimited(ctx, bearer(req), peerOf, { allowPending: r.allowPending === true });
      limit(`http:${caller.userId}`, limits.httpPerMinute);
    }
    let body: unknown;
    if (r.body) {
      const raw = await readJsonBody(req, Math.min(r.maxBodyBytes ?? Infinity, ctx.config.maxBodyBytes));
      const b = r.body.safeParse(raw);
      if (!b.success) throw new ParleyError('bad_request', `invalid body: ${issues(b.error)}`);
      body = b.data;
    } else if (!r.stream && (req.method === 'POST' || req.method === 'PUT')) {
      req.resume();
    }
    // Per subject (the username being tried), once the body names it, still before any password is hashed.
    const subject = r.rate === 'auth' ? r.rateSubject?.(body) : undefined;
    if (subject) limit(`auth:${subject}`, limits.authPerMinute);
    const result = await r.handler({ ctx, params, body, caller, req, res });
    if (result === undefined) {
      if (!res.writableEnded && !res.headersSent) res.writeHead(r.status ?? 204).end();
      return;
    }
    if (r.response && ctx.config.validateResponses) {
      const check = r.response.safeParse(result);
      if (!check.success) throw new Error(`response of ${name} violates its schema: ${issues(check.error)}`);
    }
    sendJson(res, r.statusOf?.(result) ?? r.status ?? 200, result);
  } catch (err) {
    sendError(ctx, res, err, name);
  }
}
