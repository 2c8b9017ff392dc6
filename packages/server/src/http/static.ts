import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Serves the web app's static build (apps/web/dist) from the same origin as
 * the API. Every file is read into memory once at startup and looked up by
 * its exact path, so no request path ever reaches the file system (no
 * traversal, no symlink surprises) and a rebuild needs a restart. Unknown
 * paths that are not files get index.html (the app routes in the browser).
 */

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  json: 'application/json',
  webmanifest: 'application/manifest+json',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
  woff2: 'font/woff2',
  txt: 'text/plain; charset=utf-8',
};

const COMPRESSIBLE = new Set(['html', 'js', 'mjs', 'css', 'json', 'webmanifest', 'svg', 'txt']);

/** The page may load only its own scripts, talk only to its own origin, and never be framed. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' blob: data:",
  // Voice messages play from object URLs of the audio decrypted in the browser.
  "media-src 'self' blob:",
  "connect-src 'self'",
  "worker-src 'self'",
  "manifest-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

interface StaticFile {
  readonly body: Buffer;
  readonly gzip: Buffer | undefined;
  readonly type: string;
  readonly cacheControl: string;
  readonly etag: string;
}

const MAX_FILES = 2000;
const MAX_TOTAL_BYTES = 64 * 1024 * 1024;

export class StaticSite {
  private constructor(private readonly files: ReadonlyMap<string, StaticFile>) {}

  /** Loads every regular file under `dir`; throws when there is no index.html. */
  static load(dir: string): StaticSite {
    const files = new Map<string, StaticFile>();
    let total = 0;
    const walk = (d: string) => {
      for (const name of readdirSync(d)) {
        if (name.startsWith('.')) continue;
        const path = join(d, name);
        const st = statSync(path);
        if (st.isDirectory()) {
          walk(path);
          continue;
        }
        if (!st.isFile()) continue;
        total += st.size;
        if (files.size >= MAX_FILES || total > MAX_TOTAL_BYTES) throw new Error(`web app directory is too large (over ${MAX_FILES} files or ${MAX_TOTAL_BYTES} bytes)`);
        const urlPath = `/${relative(dir, path).split(sep).join('/')}`;
        const ext = name.includes('.') ? (name.split('.').pop() ?? '').toLowerCase() : '';
        const body = readFileSync(path);
        const gz = COMPRESSIBLE.has(ext) && body.length > 1024 ? gzipSync(body, { level: 9 }) : undefined;
        files.set(urlPath, {
          body,
          gzip: gz !== undefined && gz.length < body.length ? gz : undefined,
          type: TYPES[ext] ?? 'application/octet-stream',
          cacheControl: cacheControlFor(urlPath),
          // From the content, not size + mtime: a rebuild keeps index.html's size (hashed asset names have a fixed
          // length) and reproducible builds or copies can keep mtimes, so a stale index.html would revalidate as fresh.
          etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
        });
      }
    };
    let root;
    try {
      root = statSync(dir);
    } catch {
      root = undefined;
    }
    if (root?.isDirectory() !== true) throw new Error(`web app directory ${dir} does not exist or is not a directory`);
    walk(dir);
    if (!files.has('/index.html')) throw new Error('web app directory has no index.html (build it with `npm run build -w @parley/web`)');
    return new StaticSite(files);
  }

  get size(): number {
    return this.files.size;
  }

  /** Handles GET/HEAD for a path outside the API; returns false when the caller should answer instead. */
  serve(req: IncomingMessage, res: ServerResponse, pathname: string): boolean {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    if (pathname === '/v1' || pathname.startsWith('/v1/') || pathname === '/health') return false;
    let path: string;
    try {
      path = decodeURIComponent(pathname);
    } catch {
      return false;
    }
    let file = this.files.get(path);
    if (file === undefined) {
      // A path that looks like a file (has an extension) and is missing is a real 404; anything else is an app route.
      const last = path.slice(path.lastIndexOf('/') + 1);
      if (last.includes('.') || path.startsWith('/assets/')) return false;
      file = this.files.get('/index.html');
    }
    if (file === undefined) return false;
    req.resume();
    const headers: Record<string, string> = {
      'content-type': file.type,
      'cache-control': file.cacheControl,
      etag: file.etag,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      vary: 'accept-encoding',
    };
    if (file.type.startsWith('text/html')) {
      headers['content-security-policy'] = CONTENT_SECURITY_POLICY;
      headers['x-frame-options'] = 'DENY';
      // The app records voice messages and scans link QR codes itself (same origin only); nothing embedded may.
      headers['permissions-policy'] = 'camera=(self), microphone=(self), geolocation=(), interest-cohort=()';
    }
    if (matchesEtag(req.headers['if-none-match'], file.etag)) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    const gzip = file.gzip !== undefined && acceptsGzip(req.headers['accept-encoding']);
    const body = gzip && file.gzip !== undefined ? file.gzip : file.body;
    if (gzip) headers['content-encoding'] = 'gzip';
    headers['content-length'] = String(body.length);
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }
}

/** If-None-Match uses weak comparison and may list several tags or `*` (RFC 9110 §13.1.2). */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || tag === etag || tag === `W/${etag}`;
  });
}

/** True when Accept-Encoding lists gzip (or `*`) without `q=0`. */
function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  let gzip: boolean | undefined;
  let star = false;
  for (const item of header.split(',')) {
    const [name = '', ...params] = item.split(';').map((x) => x.trim());
    const q = params.find((p) => /^q=/i.test(p));
    const ok = q === undefined || Number(q.slice(2)) > 0;
    if (name.toLowerCase() === 'gzip') gzip = ok;
    else if (name === '*') star = ok;
  }
  return gzip ?? star;
}

function cacheControlFor(path: string): string {
  // Vite names everything under /assets/ by content hash: it never changes.
  if (path.startsWith('/assets/')) return 'public, max-age=31536000, immutable';
  if (path === '/index.html' || path === '/sw.js' || path.endsWith('.webmanifest')) return 'no-cache';
  return 'public, max-age=3600';
}
