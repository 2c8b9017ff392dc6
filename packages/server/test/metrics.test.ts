import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { GroupId } from '@parley/protocol';
import type { PromMetrics } from '../src/metrics/prom-metrics.js';
import { parseExposition, sampleValue, type Family } from './helpers/prometheus-text.js';
import { newGroupId, TestNetwork, type TestAccount, type TestSocket } from './helpers/test-network.js';

const METRICS_ON = { metricsAddr: { host: '127.0.0.1', port: 0 } };

/** Every label name a metric may carry: Parley's closed sets, and prom-client's process metrics. */
const ALLOWED_LABELS = new Set([
  // parley_*
  'type',
  'kind',
  'path',
  'limit',
  'reason',
  'transport',
  'method',
  'route',
  'status',
  'result',
  'version',
  'le',
  // process and Node.js metrics (prom-client defaults)
  'space',
  'major',
  'minor',
  'patch',
]);

async function scrape(net: TestNetwork): Promise<{ text: string; families: Map<string, Family> }> {
  const url = net.server.metricsUrl;
  assert.ok(url, 'metrics are on');
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return { text, families: parseExposition(text) };
}

/** A web app build whose fallback page would answer any unknown path (so /metrics must be refused before it). */
function webApp(): { dir: string; [Symbol.dispose](): void } {
  const dir = mkdtempSync(join(tmpdir(), 'parley-web-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Parley</title>');
  return { dir, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

const value = (families: Map<string, Family>, name: string, labels: Record<string, string> = {}) => sampleValue(families, name, labels);

async function groupWith(creator: TestAccount, sock: TestSocket, members: TestAccount[]): Promise<GroupId> {
  const g = newGroupId();
  assert.equal((await creator.post('/v1/groups', { groupId: g.id })).status, 201);
  const r = await sock.commit(
    g.id,
    0,
    [creator.deviceId, ...members.map((m) => m.deviceId)],
    members.map((m) => m.deviceId),
  );
  assert.equal(r.t, 'ok', JSON.stringify(r));
  return g.id;
}

describe('metrics', () => {
  it('are off by default: no admin listener, no /metrics on the public port, hooks that do nothing', async () => {
    using web = webApp();
    await using net = await TestNetwork.start({ config: { webDir: web.dir } });
    assert.equal(net.server.metricsUrl, undefined);
    assert.equal(net.ctx.metrics.enabled, false);
    assert.equal(await net.ctx.metrics.scrape(), '');
    assert.equal((await net.http('GET', '/some/app/page')).status, 200, 'the web app answers unknown paths');
    const res = await net.http('GET', '/metrics');
    assert.equal(res.status, 404);
    assert.equal(res.body.code, 'not_found');
  });

  it('count real traffic, parse as Prometheus text, and never carry a user, device, group, username, token or address', async () => {
    using web = webApp();
    await using net = await TestNetwork.start({ config: { ...METRICS_ON, webDir: web.dir, rateLimits: { ...(await defaultLimits()), badTokenPerAddressPerMinute: 3 } } });
    const metricsUrl = new URL(net.server.metricsUrl ?? '');
    assert.equal(metricsUrl.hostname, '127.0.0.1');
    assert.notEqual(Number(metricsUrl.port), net.server.port, 'a separate listener');

    // Never on the public port, whatever the method; only /metrics on the admin port.
    for (const method of ['GET', 'HEAD', 'POST']) {
      const res = await fetch(`${net.url}/metrics`, { method });
      assert.equal(res.status, 404, method);
      assert.doesNotMatch(await res.text(), /parley_|# TYPE/);
    }
    assert.equal((await fetch(`${net.url}/`)).status, 200, 'the web app is served');
    assert.equal((await fetch(new URL('/', metricsUrl))).status, 404);
    assert.equal((await fetch(new URL('/v1/groups', metricsUrl))).status, 404);
    assert.equal((await fetch(metricsUrl, { method: 'POST' })).status, 405);
    const head = await fetch(metricsUrl, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');

    const before = (await scrape(net)).families;
    assert.equal(value(before, 'parley_messages_stored_total', { kind: 'message' }), 0);
    assert.equal(value(before, 'parley_storage_up'), 1);

    // Traffic: three accounts, a group, live messages to two connected devices, a backlog for one offline.
    const alice = await net.register(`alice${randomBytes(3).toString('hex')}`);
    const bob = await net.register(`bob${randomBytes(3).toString('hex')}`);
    const carol = await net.register(`carol${randomBytes(3).toString('hex')}`);
    const a = await alice.connect();
    const b = await bob.connect();
    const group = await groupWith(alice, a, [bob, carol]);
    const SENT = 12;
    for (let i = 0; i < SENT; i++) assert.equal((await a.send(group, 1)).t, 'ok');
    await b.waitFor(() => b.messages(group).filter((m) => m.kind === 'application').length === SENT);
    const last = b.messages(group).at(-1);
    assert.ok(last);
    b.ack(group, last.seq);
    assert.equal((await b.request({ t: 'ping' })).t, 'pong');
    b.sendRaw('not a binary frame');
    await b.waitFor((r) => r.frame.t === 'error' && r.frame.code === 'bad_request');

    // The backlog is counted with carol's messages still stored.
    (net.ctx.metrics as PromMetrics).expireBacklog();
    const queued = (await scrape(net)).families;
    assert.ok(value(queued, 'parley_backlog_messages') >= SENT, 'carol has not read them');
    assert.ok(value(queued, 'parley_backlog_bytes') >= SENT * 300);

    const c = await carol.connect();
    await c.waitFor((r) => r.frame.t === 'synced');
    assert.equal(c.messages(group).filter((m) => m.kind === 'application').length, SENT);

    // Refusals: bad tokens over HTTP and WebSocket (the last over the per-address limit), a wrong password.
    const badToken = randomBytes(24).toString('base64url');
    assert.equal((await net.http('GET', '/v1/groups', { token: badToken })).status, 401);
    const refusedHello = await net.hello(badToken);
    assert.ok(refusedHello.reply.t === 'error' && refusedHello.reply.code === 'unauthenticated');
    const wrong = await net.http('POST', '/v1/sessions/challenge', { body: { username: alice.username, deviceId: alice.deviceId } });
    const signIn = await net.http('POST', '/v1/sessions', {
      body: { username: alice.username, password: 'not the password', device: { deviceId: alice.deviceId, challenge: wrong.body.challenge, signature: randomBytes(64).toString('base64url') } },
    });
    assert.equal(signIn.body.code, 'invalid_credentials');
    assert.equal((await net.http('GET', '/v1/groups', { token: badToken })).status, 401);
    const limited = await net.http('GET', '/v1/groups', { token: badToken });
    assert.equal(limited.body.code, 'rate_limited');
    assert.equal((await net.http('GET', `/v1/no/such/${alice.userId}`)).status, 404);

    const { text, families } = await scrape(net);

    // Connections and frames.
    assert.ok(value(families, 'parley_ws_connections') >= 3, 'alice, bob and carol are connected');
    assert.ok(value(families, 'parley_ws_connections_opened_total') >= 4);
    assert.equal(value(families, 'parley_ws_frames_received_total', { type: 'send' }), SENT);
    assert.equal(value(families, 'parley_ws_frames_received_total', { type: 'commit' }), 1);
    assert.ok(value(families, 'parley_ws_frames_received_total', { type: 'hello' }) >= 4);
    assert.equal(value(families, 'parley_ws_frames_received_total', { type: 'ping' }), 1);
    assert.equal(value(families, 'parley_ws_frames_received_total', { type: 'ack' }), 1);
    assert.equal(value(families, 'parley_ws_frames_received_total', { type: 'invalid' }), 1);
    assert.equal(value(families, 'parley_ws_frames_sent_total', { type: 'pong' }), 1);
    assert.equal(value(families, 'parley_ws_frames_sent_total', { type: 'ok' }), SENT + 1);
    assert.ok(value(families, 'parley_ws_frames_sent_total', { type: 'ready' }) >= 3);
    assert.ok(value(families, 'parley_ws_frames_sent_total', { type: 'error' }) >= 2);

    // Messages: stored once each, delivered live to bob and from the backlog to carol (with the Welcomes).
    assert.equal(value(families, 'parley_messages_stored_total', { kind: 'message' }), SENT);
    assert.equal(value(families, 'parley_messages_stored_total', { kind: 'commit' }), 1);
    assert.ok(value(families, 'parley_messages_delivered_total', { path: 'live' }) >= SENT + 1, 'bob: the Welcome and every message');
    assert.ok(value(families, 'parley_messages_delivered_total', { path: 'backlog' }) >= SENT + 1, 'carol: the Welcome and every message');
    assert.equal(
      value(families, 'parley_ws_frames_sent_total', { type: 'msg' }),
      value(families, 'parley_messages_delivered_total', { path: 'live' }) + value(families, 'parley_messages_delivered_total', { path: 'backlog' }),
    );
    const latencyCount = value(families, 'parley_delivery_latency_seconds_count');
    assert.ok(latencyCount >= SENT, `live deliveries are timed (${latencyCount})`);
    assert.ok(value(families, 'parley_delivery_latency_seconds_sum') < latencyCount * 1, 'in one process, well under a second each');
    assert.equal(value(families, 'parley_delivery_latency_seconds_bucket', { le: '+Inf' }), latencyCount);

    // Storage: batches were timed and none failed; the database is up.
    assert.ok(value(families, 'parley_storage_write_batch_seconds_count') > 0);
    assert.ok(value(families, 'parley_storage_last_write_batch_seconds') > 0);
    assert.ok(value(families, 'parley_storage_batched_writes_total') >= SENT + 1);
    assert.equal(value(families, 'parley_storage_write_batch_failures_total'), 0);
    assert.equal(value(families, 'parley_storage_up'), 1);
    assert.equal(families.get('parley_bus_up'), undefined, 'bus health only in cluster mode');

    // Refusals and authentication failures, by closed names.
    assert.equal(value(families, 'parley_rate_limit_refusals_total', { limit: 'bad_token_address' }), 1);
    assert.equal(value(families, 'parley_rate_limit_refusals_total', { limit: 'ws_frames' }), 0);
    assert.equal(value(families, 'parley_auth_failures_total', { reason: 'unauthenticated', transport: 'http' }), 2);
    assert.equal(value(families, 'parley_auth_failures_total', { reason: 'unauthenticated', transport: 'ws' }), 1);
    assert.equal(value(families, 'parley_auth_failures_total', { reason: 'invalid_credentials', transport: 'http' }), 1);

    // HTTP by route template and status class.
    assert.equal(value(families, 'parley_http_requests_total', { method: 'POST', route: '/v1/accounts', status: '2xx' }), 3);
    assert.equal(value(families, 'parley_http_requests_total', { method: 'POST', route: '/v1/groups', status: '2xx' }), 1);
    assert.equal(value(families, 'parley_http_requests_total', { method: 'GET', route: '/v1/groups', status: '4xx' }), 3);
    // The unknown path and the three tries at /metrics on the public port, by no name of their own.
    assert.equal(value(families, 'parley_http_requests_total', { method: 'other', route: 'other', status: '4xx' }), 4);
    const routeTemplates = new Set(['other', 'static', ...(await import('../src/http/routes.js')).ROUTES.map((r) => r.path)]);
    for (const s of families.get('parley_http_requests_total')?.samples ?? []) assert.ok(routeTemplates.has(s.labels['route'] ?? ''), `route label ${s.labels['route']}`);

    // Process: CPU, RSS, event-loop lag (prom-client's defaults, with the lag monitor).
    assert.ok(value(families, 'process_cpu_seconds_total') > 0);
    assert.ok(value(families, 'process_resident_memory_bytes') > 10 * 1024 * 1024);
    assert.ok(families.has('nodejs_eventloop_lag_p99_seconds'));
    assert.ok(families.has('nodejs_heap_size_used_bytes'));
    assert.equal(value(families, 'parley_build_info', { version: net.ctx.config.version }), 1);

    // Privacy: label names from the allowed set; no label value, and nothing anywhere in the text,
    // names a user, device, group, username, token or address used above.
    const personal = [
      ...[alice, bob, carol].flatMap((x) => [x.userId, x.deviceId, x.username, x.token]),
      group,
      badToken,
      '127.0.0.1',
      '::1',
      '::ffff:127.0.0.1',
    ];
    for (const family of families.values()) {
      for (const s of family.samples) {
        for (const [label, v] of Object.entries(s.labels)) {
          assert.ok(ALLOWED_LABELS.has(label), `${s.name}: label ${label} is not in the allowed set`);
          for (const p of personal) assert.ok(v !== p && !(p.length >= 8 && v.includes(p)), `${s.name}{${label}="${v}"} names ${p}`);
        }
      }
    }
    for (const p of personal.filter((x) => x.length >= 8)) assert.ok(!text.includes(p), `the exposition contains ${p}`);
    assert.ok(!text.includes('127.0.0.1') && !text.includes('::1'), 'no address anywhere');
    for (const p of [alice.username, bob.username, carol.username]) assert.ok(!text.includes(p), `the exposition contains ${p}`);
    for (const s of families.get('parley_rate_limit_refusals_total')?.samples ?? []) assert.ok(!/[:/]/.test(s.labels['limit'] ?? ''), 'a limit name, never its key');

    // Once everything is acknowledged and trimmed, the backlog shrinks (counted again when expired).
    for (const [sock, who] of [
      [a, alice],
      [c, carol],
    ] as const) {
      const mine = sock.messages(group).at(-1);
      if (mine) sock.ack(group, mine.seq);
      void who;
    }
    await waitUntil(async () => {
      (net.ctx.metrics as PromMetrics).expireBacklog();
      return value((await scrape(net)).families, 'parley_backlog_messages') < value(queued, 'parley_backlog_messages');
    });
  });

  it('keep one registry per server: two servers in one process count only their own traffic', async () => {
    await using one = await TestNetwork.start({ config: METRICS_ON });
    await using two = await TestNetwork.start({ config: METRICS_ON });
    assert.notEqual(one.server.metricsUrl, two.server.metricsUrl);
    const alice = await one.register();
    const a = await alice.connect();
    const g = newGroupId();
    assert.equal((await alice.post('/v1/groups', { groupId: g.id })).status, 201);
    assert.equal((await a.commit(g.id, 0, [alice.deviceId])).t, 'ok');
    for (let i = 0; i < 3; i++) assert.equal((await a.send(g.id, 1)).t, 'ok');
    assert.equal(value((await scrape(one)).families, 'parley_messages_stored_total', { kind: 'message' }), 3);
    const other = (await scrape(two)).families;
    assert.equal(value(other, 'parley_messages_stored_total', { kind: 'message' }), 0);
    assert.equal(other.get('parley_http_requests_total')?.samples.length, 0, 'no request reached the second server');
  });

  it('are checked by a parser strict enough to fail (the exposition format, histograms, label syntax)', () => {
    const ok = '# HELP x_total Things.\n# TYPE x_total counter\nx_total{a="1",b="q\\"\\\\\\n"} 2\n# TYPE h histogram\nh_bucket{le="0.1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 0.3\nh_count 2\n';
    const parsed = parseExposition(ok);
    assert.equal(sampleValue(parsed, 'x_total', { a: '1' }), 2);
    assert.equal(parsed.get('x_total')?.samples[0]?.labels['b'], 'q"\\\n');
    for (const bad of [
      'x 1\n', // no TYPE or HELP
      '# TYPE x counter\nx 1', // no final newline
      '# TYPE x counter\n# TYPE x counter\nx 1\n',
      '# TYPE x counter\nx 1\nx 2\n', // the same series twice
      '# TYPE x counter\nx -1\n',
      '# TYPE x gauge\nx Nan\n',
      '# TYPE x gauge\nx{a="\\q"} 1\n',
      '# TYPE x gauge\nx{a="1",a="2"} 1\n',
      '# TYPE x gauge\nx{1a="1"} 1\n',
      '# TYPE x gauge\nx{a=1} 1\n',
      '# TYPE x gauge\nx{a="1"}1\n',
      '# TYPE x wobble\nx 1\n',
      '# TYPE h histogram\nh_bucket{le="0.1"} 3\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n', // not cumulative
      '# TYPE h histogram\nh_bucket{le="0.1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n', // +Inf is not the count
      '# TYPE h histogram\nh_bucket{le="0.1"} 1\nh_sum 1\nh_count 1\n', // no +Inf
    ]) {
      assert.throws(() => parseExposition(bad), Error, JSON.stringify(bad));
    }
  });

  it('the Grafana dashboard is valid JSON and every query names a metric the server exposes', async () => {
    const dashboard = JSON.parse(readFileSync(new URL('../../../docs/grafana-dashboard.json', import.meta.url), 'utf8')) as { panels?: unknown[]; title?: unknown };
    assert.equal(typeof dashboard.title, 'string');
    await using net = await TestNetwork.start({ config: METRICS_ON });
    // Every family the server exposes, with a histogram's series names.
    const { families } = await scrape(net);
    const exposed = new Set<string>();
    for (const f of families.values()) {
      exposed.add(f.name);
      if (f.type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exposed.add(f.name + suffix);
    }
    // Cluster-only families are declared but exposed only on the NATS bus.
    for (const name of ['parley_bus_up', 'parley_bus_publish_errors_total']) exposed.add(name);
    const exprs: string[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node !== null && typeof node === 'object') {
        for (const [k, v] of Object.entries(node)) {
          if (k === 'expr' && typeof v === 'string') exprs.push(v);
          else walk(v);
        }
      }
    };
    walk(dashboard.panels);
    assert.ok(exprs.length >= 10, `${exprs.length} queries`);
    const PROMQL_WORDS = new Set(['rate', 'irate', 'increase', 'sum', 'by', 'without', 'histogram_quantile', 'max', 'min', 'avg', 'clamp_min', 'le', 'or', 'and', 'on', 'vector', 'count', 'topk']);
    for (const expr of exprs) {
      const withoutStrings = expr.replace(/"[^"]*"/g, '""').replace(/\[[^\]]*\]/g, '').replace(/\{[^}]*\}/g, '');
      const names = (withoutStrings.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? []).filter((w) => !PROMQL_WORDS.has(w) && !/^(type|kind|path|limit|reason|transport|method|route|status|instance|job)$/.test(w));
      assert.ok(names.length > 0, `no metric in ${expr}`);
      for (const n of names) assert.ok(exposed.has(n), `${expr}: ${n} is not a metric the server exposes`);
    }
    // The panels an operator needs: connections, frames, messages, latency, backlog, refusals, errors, CPU, RSS, event-loop lag.
    for (const needed of [
      'parley_ws_connections',
      'parley_ws_frames_received_total',
      'parley_messages_stored_total',
      'parley_messages_delivered_total',
      'parley_delivery_latency_seconds_bucket',
      'parley_backlog_messages',
      'parley_rate_limit_refusals_total',
      'parley_auth_failures_total',
      'parley_storage_write_batch_failures_total',
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_p99_seconds',
    ]) {
      assert.ok(exprs.some((e) => new RegExp(`\\b${needed}\\b`).test(e)), `no panel shows ${needed}`);
    }
  });
});

async function defaultLimits() {
  const { defaultConfig } = await import('../src/config.js');
  return defaultConfig().rateLimits;
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
