import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { freePort, ServerProcess } from './helpers/processes.js';
import { groupAt, registerAt } from './helpers/remote.js';
import { TcpProxy } from './helpers/tcp-proxy.js';
import { TestSocket } from './helpers/test-network.js';

/**
 * Graceful degradation: the server reaches PostgreSQL and NATS through proxies
 * that the test cuts and restores. While a service is down /health says so
 * (503, degraded) and sends are refused with a retryable `unavailable` error;
 * when it returns, the server recovers by itself.
 */
const PG_URL = process.env['PARLEY_TEST_PG_URL'] ?? process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const NATS_URL = process.env['PARLEY_TEST_NATS_URL'] ?? process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';

async function health(url: string): Promise<{ code: number; body: { status: string; storage: { ok: boolean }; bus: { ok: boolean } } }> {
  const r = await fetch(`${url}/health`);
  return { code: r.status, body: (await r.json()) as { status: string; storage: { ok: boolean }; bus: { ok: boolean } } };
}

async function eventually(check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('graceful degradation when PostgreSQL or NATS goes away', () => {
  const dbName = `parley_degrade_${randomBytes(6).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'parley-degrade-'));
  let pgProxy: TcpProxy;
  let natsProxy: TcpProxy;
  let server: ServerProcess;

  before(async () => {
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const pgUrl = new URL(PG_URL);
    const natsUrl = new URL(NATS_URL);
    pgProxy = await TcpProxy.start({ host: pgUrl.hostname, port: Number(pgUrl.port || 5432) });
    natsProxy = await TcpProxy.start({ host: natsUrl.hostname, port: Number(natsUrl.port || 4222) });
    pgUrl.host = `127.0.0.1:${pgProxy.port}`;
    pgUrl.pathname = `/${dbName}`;
    server = new ServerProcess(await freePort(), { DATABASE_URL: pgUrl.toString(), NATS_URL: `nats://127.0.0.1:${natsProxy.port}`, PARLEY_DATA_DIR: dir, PARLEY_RATE_LIMITS: 'off' });
    await server.start();
  });

  after(async () => {
    await server.stop();
    await pgProxy.restore();
    await natsProxy.cut();
    await pgProxy.cut();
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses sends with a retryable error while PostgreSQL is down, and recovers when it returns', async () => {
    const alice = await registerAt(server.url);
    const bob = await registerAt(server.url);
    const group = await groupAt(server.url, alice, [bob.deviceId]);
    const a = await TestSocket.open(server.wsUrl, alice.token);
    assert.equal((await a.send(group, 1)).t, 'ok');
    assert.equal((await health(server.url)).code, 200);

    await pgProxy.cut();
    await eventually(async () => (await health(server.url)).code === 503);
    const h = await health(server.url);
    assert.equal(h.body.status, 'degraded');
    assert.equal(h.body.storage.ok, false);
    const refused = await a.send(group, 1);
    assert.ok(refused.t === 'error');
    assert.equal(refused.code, 'unavailable');
    assert.equal(refused.retryable, true);
    assert.equal(a.closed, undefined, 'the connection stays open');

    await pgProxy.restore();
    await eventually(async () => (await health(server.url)).code === 200);
    const ok = await a.send(group, 1);
    assert.ok(ok.t === 'ok');
    assert.equal(ok.seq, 3, 'the refused send left nothing behind');
    a.close();
  });

  it('reports NATS down, keeps storing, and recovers live delivery when it returns', async () => {
    const alice = await registerAt(server.url);
    const bob = await registerAt(server.url);
    const group = await groupAt(server.url, alice, [bob.deviceId]);
    const a = await TestSocket.open(server.wsUrl, alice.token);
    const b = await TestSocket.open(server.wsUrl, bob.token);
    await natsProxy.cut();
    await eventually(async () => (await health(server.url)).body.bus.ok === false);
    assert.equal((await health(server.url)).code, 503);
    // stored even though live delivery is down: it reaches bob from his backlog
    const stored = await a.send(group, 1);
    assert.ok(stored.t === 'ok');
    await natsProxy.restore();
    await eventually(async () => (await health(server.url)).code === 200);
    const live = await a.send(group, 1);
    assert.ok(live.t === 'ok');
    await b.waitFor((r) => r.frame.t === 'msg' && r.frame.seq === live.seq, 10_000);
    b.close();
    const b2 = await TestSocket.open(server.wsUrl, bob.token);
    await b2.waitFor((r) => r.frame.t === 'synced');
    assert.ok(b2.messages(group).some((m) => m.seq === stored.seq), 'the message sent during the outage was delivered');
    a.close();
    b2.close();
  });
});
