import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { httpStatusFor, ParleyError, type DeviceId, type UserId } from '@parley/protocol';
import { tokenHash } from '../auth/credentials.js';
import type { AppContext } from '../context.js';
import { errorLogFields, toApiError } from '../errors.js';

/**
 * Every HTTP call passes the same steps, in order:
 * match route + parse params → authenticate → parse body → rate-limit → handler
 * → (when configured, in tests) validate the response against its schema.
 */

export interface Caller {
  userId: UserId;
  deviceId: DeviceId;
  token: string;
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
  /** JSON body schema; routes that stream their body (blobs) set `stream: true` instead. */
  body?: z.ZodType<B>;
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
  });
  res.end(text);
}

export function sendError(ctx: AppContext, res: ServerResponse, err: unknown, routeName: string): void {
  const api = toApiError(err);
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

export async function authenticate(ctx: AppContext, token: string | undefined): Promise<Caller> {
  if (!token) throw new ParleyError('unauthenticated', 'a bearer token is required');
  const session = await ctx.storage.getSession(tokenHash(token), ctx.clock.now());
  if (!session) throw new ParleyError('unauthenticated', 'session unknown, expired or revoked');
  return { userId: session.userId, deviceId: session.deviceId, token };
}

function issues(err: z.ZodError): string {
  return z.prettifyError(err).slice(0, 500);
}

/**
 * Address of the client, used only as an in-memory rate-limit key; never
 * stored or logged. Behind a reverse proxy every request comes from the proxy,
 * so with `trustProxy` the first X-Forwarded-For entry is used instead.
 */
function peerKey(ctx: AppContext, req: IncomingMessage): string {
  if (ctx.config.trustProxy) {
    const fwd = req.headers['x-forwarded-for'];
    const first = (Array.isArray(fwd) ? fwd[0] : fwd)?.split(',')[0]?.trim();
    if (first) return first;
  }
  return req.socket.remoteAddress ?? 'unknown';
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
    const caller = r.auth ? await authenticate(ctx, bearer(req)) : undefined;
    let body: unknown;
    if (r.body) {
      const raw = await readJsonBody(req, ctx.config.maxBodyBytes);
      const b = r.body.safeParse(raw);
      if (!b.success) throw new ParleyError('bad_request', `invalid body: ${issues(b.error)}`);
      body = b.data;
    } else if (!r.stream && (req.method === 'POST' || req.method === 'PUT')) {
      req.resume();
    }
    const limits = ctx.config.rateLimits;
    if (limits.enabled) {
      let allowed = true;
      if (r.rate === 'auth') {
        allowed = ctx.limiter.take(`auth-addr:${peerKey(ctx, req)}`, limits.authPerAddressPerMinute / 60, limits.authPerAddressPerMinute);
        const subject = r.rateSubject?.(body);
        if (allowed && subject) allowed = ctx.limiter.take(`auth:${subject}`, limits.authPerMinute / 60, limits.authPerMinute);
      } else if (caller) {
        allowed = ctx.limiter.take(`http:${caller.userId}`, limits.httpPerMinute / 60, limits.httpPerMinute);
      } else {
        allowed = ctx.limiter.take(`public:${peerKey(ctx, req)}`, limits.httpPerMinute / 60, limits.httpPerMinute);
      }
      if (!allowed) throw new ParleyError('rate_limited', 'too many requests, slow down');
    }
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
