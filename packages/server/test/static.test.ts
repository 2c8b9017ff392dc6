import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { CONTENT_SECURITY_POLICY, StaticSite } from '../src/http/static.js';
import { createAppContext, createLogger, defaultConfig, startServer } from '../src/index.js';
import { TestNetwork } from './helpers/test-network.js';

const INDEX = '<!doctype html><html><head><script type="module" src="/assets/app-abc123.js"></script></head><body><div id="root"></div></body></html>\n';
const APP_JS = `// app bundle\n${Array.from({ length: 200 }, (_, i) => `export const value${i} = ${i} * 2;`).join('\n')}\n`;
const SW_JS = 'self.addEventListener("fetch", () => {});\n';
const MANIFEST = '{"name":"Parley","start_url":"/"}\n';
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]);
const SECRET = 'root:x:0:0:this-must-never-be-served';

function makeSite(withIndex = true): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-web-'));
  mkdirSync(join(dir, 'assets'));
  mkdirSync(join(dir, 'icons'));
  if (withIndex) writeFileSync(join(dir, 'index.html'), INDEX);
  writeFileSync(join(dir, 'assets', 'app-abc123.js'), APP_JS);
  writeFileSync(join(dir, 'sw.js'), SW_JS);
  writeFileSync(join(dir, 'manifest.webmanifest'), MANIFEST);
  writeFileSync(join(dir, 'icons', 'x.png'), PNG);
  writeFileSync(join(dir, '.env'), SECRET);
  return dir;
}

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A request without fetch's automatic decompression, so the bytes on the wire can be checked. */
function raw(base: string, path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method: options.method ?? 'GET', headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Sends the request line byte for byte (no client-side path normalisation) and returns the whole response. */
function rawSocket(base: string, target: string): Promise<string> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = connect(Number(url.port), url.hostname, () => {
      s.write(`GET ${target} HTTP/1.1\r\nhost: ${url.host}\r\nconnection: close\r\n\r\n`);
    });
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    s.on('error', reject);
  });
}

function assertIndex(r: RawResponse, what: string): void {
  assert.equal(r.status, 200, what);
  assert.equal(r.headers['content-type'], 'text/html; charset=utf-8', what);
  assert.equal(r.body.toString('utf8'), INDEX, what);
}

function assertJsonError(r: RawResponse, status: number, code: string, what: string): void {
  assert.equal(r.status, status, what);
  assert.match(String(r.headers['content-type']), /^application\/json/, what);
  const body = JSON.parse(r.body.toString('utf8')) as { code: string; message: string };
  assert.equal(body.code, code, what);
  assert.equal(typeof body.message, 'string', what);
}

describe('serving the web app', () => {
  let dir: string;
  let net: TestNetwork;
  before(async () => {
    dir = makeSite();
    net = await TestNetwork.start({ config: { webDir: dir } });
  });
  after(async () => {
    await net.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves index.html at / and at app routes with CSP, nosniff and no-cache', async () => {
    for (const path of ['/', '/some/app/route', '/index.html', '/conversations/abc?x=1']) {
      const r = await raw(net.url, path);
      assertIndex(r, path);
      const csp = String(r.headers['content-security-policy']);
      assert.equal(csp, CONTENT_SECURITY_POLICY, path);
      for (const directive of ["default-src 'self'", "script-src 'self'", "connect-src 'self'", "worker-src 'self'", "base-uri 'none'"]) assert.ok(csp.split('; ').includes(directive), `${path}: ${directive}`);
      assert.ok(!/unsafe-eval|script-src[^;]*unsafe-inline|\*/.test(csp), `${path}: no inline or eval scripts, no wildcards`);
      assert.match(csp, /default-src 'self'/, path);
      assert.match(csp, /frame-ancestors 'none'/, path);
      assert.match(csp, /object-src 'none'/, path);
      assert.equal(r.headers['x-content-type-options'], 'nosniff', path);
      assert.equal(r.headers['referrer-policy'], 'no-referrer', path);
      assert.equal(r.headers['cache-control'], 'no-cache', path);
      assert.equal(r.headers['x-frame-options'], 'DENY', path);
      assert.equal(r.headers['content-encoding'], undefined, 'small files are never compressed');
    }
  });

  it('serves hashed assets as immutable JavaScript, gzipped when asked', async () => {
    const plain = await raw(net.url, '/assets/app-abc123.js');
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.match(String(plain.headers['cache-control']), /\bimmutable\b/);
    assert.match(String(plain.headers['cache-control']), /max-age=31536000/);
    assert.equal(plain.headers['x-content-type-options'], 'nosniff');
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.body.toString('utf8'), APP_JS);
    assert.equal(plain.headers['content-security-policy'], undefined, 'CSP is for documents');

    const gz = await raw(net.url, '/assets/app-abc123.js', { headers: { 'accept-encoding': 'br, gzip, deflate' } });
    assert.equal(gz.status, 200);
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.match(String(gz.headers.vary), /accept-encoding/i);
    assert.equal(Number(gz.headers['content-length']), gz.body.length);
    assert.ok(gz.body.length < Buffer.byteLength(APP_JS), 'compressed is smaller');
    assert.equal(gunzipSync(gz.body).toString('utf8'), APP_JS);

    const refused = await raw(net.url, '/assets/app-abc123.js', { headers: { 'accept-encoding': 'gzip;q=0, identity' } });
    assert.equal(refused.headers['content-encoding'], undefined, 'gzip;q=0 means not gzip');
    assert.equal(refused.body.toString('utf8'), APP_JS);
  });

  it('serves the service worker, manifest and icons with their types and cache rules', async () => {
    const sw = await raw(net.url, '/sw.js');
    assert.equal(sw.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(sw.headers['cache-control'], 'no-cache');
    assert.equal(sw.body.toString('utf8'), SW_JS);
    const manifest = await raw(net.url, '/manifest.webmanifest');
    assert.equal(manifest.headers['content-type'], 'application/manifest+json');
    assert.equal(manifest.headers['cache-control'], 'no-cache');
    assert.equal(manifest.body.toString('utf8'), MANIFEST);
    const icon = await raw(net.url, '/icons/x.png');
    assert.equal(icon.headers['content-type'], 'image/png');
    assert.equal(icon.headers['cache-control'], 'public, max-age=3600');
    assert.deepEqual(icon.body, PNG);
  });

  it('answers 304 to a matching If-None-Match and HEAD without a body', async () => {
    const first = await raw(net.url, '/assets/app-abc123.js');
    const etag = String(first.headers.etag);
    assert.match(etag, /^"[^"]+"$/);
    const again = await raw(net.url, '/assets/app-abc123.js', { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    assert.equal(again.headers.etag, etag);
    assert.equal((await raw(net.url, '/assets/app-abc123.js', { headers: { 'if-none-match': `"other", W/${etag}` } })).status, 304, 'lists and weak tags');
    assert.equal((await raw(net.url, '/assets/app-abc123.js', { headers: { 'if-none-match': '"other"' } })).status, 200);
    const indexTag = (await raw(net.url, '/')).headers.etag;
    assert.notEqual(indexTag, etag);
    assert.equal((await raw(net.url, '/another/route', { headers: { 'if-none-match': String(indexTag) } })).status, 304, 'app routes share index.html’s tag');

    const head = await raw(net.url, '/assets/app-abc123.js', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(Number(head.headers['content-length']), Buffer.byteLength(APP_JS));
    const headIndex = await raw(net.url, '/', { method: 'HEAD' });
    assert.equal(headIndex.status, 200);
    assert.equal(headIndex.body.length, 0);
  });

  it('answers missing files with a typed JSON 404, not index.html', async () => {
    for (const path of ['/assets/missing.js', '/nope.png', '/assets/no-extension', '/icons/y.png', '/.env']) {
      assertJsonError(await raw(net.url, path), 404, 'not_found', path);
    }
  });

  it('leaves the API alone: unknown API routes are JSON 404s, /health is JSON, POST / is not the site', async () => {
    assertJsonError(await raw(net.url, '/v1/unknown'), 404, 'not_found', '/v1/unknown');
    assertJsonError(await raw(net.url, '/v1'), 404, 'not_found', '/v1');
    const health = await raw(net.url, '/health');
    assert.equal(health.status, 200);
    assert.match(String(health.headers['content-type']), /^application\/json/);
    assert.equal((JSON.parse(health.body.toString('utf8')) as { status: string }).status, 'ok');
    const post = await raw(net.url, '/', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    assert.notEqual(post.status, 200);
    assert.match(String(post.headers['content-type']), /^application\/json/);
    assert.ok(!post.body.toString('utf8').includes('<html'), 'POST / does not get the page');
    const put = await raw(net.url, '/assets/app-abc123.js', { method: 'PUT', body: 'x' });
    assert.ok(!put.body.toString('utf8').includes('export const'), 'PUT does not get the file');
  });

  it('never serves anything outside the directory, whatever the path', async () => {
    // Through the URL parser these normalise or decode to paths that are not in the build: index.html or a 404.
    for (const path of ['/%2e%2e/%2e%2e/etc/passwd', '/%00', '/..%2f..%2fetc%2fpasswd', '/assets/..%2f..%2f.env', '/%2e%2e%2f.env', '/%E0%A4%A', '//etc/passwd']) {
      const r = await raw(net.url, path);
      const text = r.body.toString('utf8');
      assert.ok(!text.includes(SECRET) && !text.includes('root:'), path);
      if (r.status === 200) assertIndex(r, path);
      else assertJsonError(r, 404, 'not_found', path);
    }
    // The request line as sent, dot segments included.
    for (const path of ['/etc/passwd', '/%2fetc%2fpasswd', '/..%5c..%5c.env', '/assets/%2e%2e/%2e%2e/.env', '/assets/app-abc123.js%00.png', '/index.html%00', `/${encodeURIComponent(dir)}/.env`]) {
      const r = await raw(net.url, path);
      const text = r.body.toString('utf8');
      assert.ok(!text.includes(SECRET) && !text.includes('root:'), path);
      if (r.status === 200) assertIndex(r, path);
      else assertJsonError(r, 404, 'not_found', path);
    }
    // Absolute-form request targets, backslashes and raw dot segments, as sent on the wire.
    for (const target of ['/../../etc/passwd', '/assets/../../.env', '/../.env', '../../etc/passwd', '/.%2e/.%2e/etc/passwd', 'http://parley.test/../../etc/passwd', `http://parley.test/${dir}/.env`, '/..\\..\\.env', '/assets/..\\..\\.env']) {
      const response = await rawSocket(net.url, target);
      const [head = '', body = ''] = response.split('\r\n\r\n', 2);
      assert.ok(!response.includes(SECRET) && !response.includes('root:'), target);
      const status = Number(head.split(' ')[1]);
      if (status === 200) {
        assert.match(head, /content-type: text\/html/i, target);
        assert.ok(body.includes('<div id="root">'), target);
      } else {
        assert.ok(status === 404 || status === 400, `${target}: ${head}`);
      }
    }
  });
});

describe('content types', () => {
  it('serves css, svg, json, ico and woff2 with their types, nosniff and the default cache rule', async () => {
    const dir = makeSite();
    const files: Array<[string, string, string]> = [
      ['/assets/index-4f2a9c.css', 'body{color:#111}\n', 'text/css; charset=utf-8'],
      ['/icons/icon.svg', '<svg xmlns="http://www.w3.org/2000/svg"/>\n', 'image/svg+xml'],
      ['/data.json', '{"a":1}\n', 'application/json'],
      ['/favicon.ico', '\u0000\u0000\u0001\u0000', 'image/x-icon'],
      ['/assets/inter-9d1e.woff2', 'wOF2fake', 'font/woff2'],
      ['/UPPER.PNG', 'png', 'image/png'],
      ['/readme', 'no extension', 'application/octet-stream'],
    ];
    for (const [path, body] of files) writeFileSync(join(dir, ...path.slice(1).split('/')), body);
    try {
      await using net = await TestNetwork.start({ config: { webDir: dir } });
      for (const [path, body, type] of files) {
        const r = await raw(net.url, path);
        assert.equal(r.status, 200, path);
        assert.equal(r.headers['content-type'], type, path);
        assert.equal(r.headers['x-content-type-options'], 'nosniff', path);
        assert.equal(r.headers['referrer-policy'], 'no-referrer', path);
        assert.equal(r.headers['cache-control'], path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'public, max-age=3600', path);
        assert.equal(r.body.toString('utf8'), body, path);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('loading the web app directory', () => {
  it('refuses a directory without index.html, and one that does not exist, with a clear error', async () => {
    const dir = makeSite(false);
    try {
      assert.throws(() => StaticSite.load(dir), /no index\.html/);
      assert.throws(() => StaticSite.load(join(dir, 'missing')), /does not exist/);
      const dataDir = mkdtempSync(join(tmpdir(), 'parley-net-'));
      const ctx = await createAppContext({ ...defaultConfig(), port: 0, dataDir, webDir: dir }, { logger: createLogger('silent') });
      try {
        await assert.rejects(startServer(ctx), /no index\.html/);
      } finally {
        await ctx.storage.close();
        await ctx.bus.close();
        rmSync(dataDir, { recursive: true, force: true });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('skips dotfiles and gives files with equal size and mtime but different content different ETags', async () => {
    const a = makeSite();
    const b = makeSite();
    try {
      // Same length, different asset hash: what a rebuild of index.html looks like.
      writeFileSync(join(b, 'index.html'), INDEX.replace('abc123', 'def456'));
      const when = new Date('2020-01-01T00:00:00Z');
      utimesSync(join(a, 'index.html'), when, when);
      utimesSync(join(b, 'index.html'), when, when);
      const siteA = StaticSite.load(a);
      assert.equal(StaticSite.load(b).size, 5);
      assert.equal(siteA.size, 5, 'index, app js, sw, manifest, icon; not .env');
      await using netA = await TestNetwork.start({ config: { webDir: a } });
      await using netB = await TestNetwork.start({ config: { webDir: b } });
      const tagA = (await raw(netA.url, '/')).headers.etag;
      const tagB = (await raw(netB.url, '/')).headers.etag;
      assert.notEqual(tagA, tagB);
      assert.equal((await raw(netB.url, '/', { headers: { 'if-none-match': String(tagA) } })).status, 200, 'a stale index.html is not revalidated as fresh');
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  });

  it('without a web directory, / is a JSON 404', async () => {
    await using net = await TestNetwork.start();
    assertJsonError(await raw(net.url, '/'), 404, 'not_found', '/');
    assertJsonError(await raw(net.url, '/some/app/route'), 404, 'not_found', '/some/app/route');
  });
});
