import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { freePort, ServerProcess } from './helpers/processes.js';
import { groupAt, registerAt, streamSends } from './helpers/remote.js';
import { mlsMessage, TestSocket } from './helpers/test-network.js';

/**
 * Cluster mode: three server processes sharing one PostgreSQL database and one
 * NATS server. Devices connect to different processes; delivery, ordering,
 * resumption and crash safety must not depend on which process a device uses.
 */
const PG_URL = process.env['PARLEY_TEST_PG_URL'] ?? process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const NATS_URL = process.env['PARLEY_TEST_NATS_URL'] ?? process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

describe('cluster: 3 processes on PostgreSQL + NATS', () => {
  const dbName = `parley_cluster_${randomBytes(6).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'parley-cluster-'));
  const nodes: ServerProcess[] = [];
  const node = (i: number): ServerProcess => {
    const n = nodes[i];
    if (!n) throw new Error(`no node ${i}`);
    return n;
  };

  before(async () => {
    await admin((c) => c.query(`CREATE DATABASE ${dbName}`));
    const url = new URL(PG_URL);
    url.pathname = `/${dbName}`;
    for (let i = 0; i < 3; i++) {
      // Blobs live on a shared directory here; in production, a shared volume or object store.
      nodes.push(new ServerProcess(await freePort(), { DATABASE_URL: url.toString(), NATS_URL, PARLEY_DATA_DIR: dir, PARLEY_RATE_LIMITS: 'off' }));
    }
    // All three start at once: migrations must cope (advisory lock).
    await Promise.all(nodes.map((n) => n.start()));
  });

  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await admin((c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`));
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports PostgreSQL and NATS on /health of every node', async () => {
    for (const n of nodes) {
      const h = (await (await fetch(`${n.url}/health`)).json()) as { status: string; storage: { kind: string }; bus: { kind: string; ok: boolean } };
      assert.equal(h.status, 'ok');
      assert.equal(h.storage.kind, 'postgres');
      assert.deepEqual(h.bus, { kind: 'nats', ok: true });
    }
  });

  it('delivers 1:1 and group messages live and in order across processes, and resumes a device that moves', async () => {
    const alice = await registerAt(node(0).url);
    const bob = await registerAt(node(1).url);
    const carol = await registerAt(node(2).url);
    const a = await TestSocket.open(node(0).wsUrl, alice.token);
    const b = await TestSocket.open(node(1).wsUrl, bob.token);
    const c = await TestSocket.open(node(2).wsUrl, carol.token);

    // 1:1, created on node 0; bob's welcome arrives live on node 1
    const direct = await groupAt(node(0).url, alice, [bob.deviceId]);
    await b.waitFor((r) => r.frame.t === 'msg' && r.frame.group === direct && r.frame.kind === 'welcome');
    for (let i = 0; i < 10; i++) {
      assert.equal((await a.send(direct, 1)).t, 'ok');
      assert.equal((await b.send(direct, 1)).t, 'ok');
    }
    await a.waitFor(() => a.messages(direct).length === 10);
    await b.waitFor(() => b.messages(direct).filter((m) => m.kind === 'application').length === 10);
    assert.deepEqual(a.messages(direct).map((m) => m.seq), Array.from({ length: 10 }, (_, i) => 2 * i + 3));

    // group of three, created on node 2
    const group = await groupAt(node(2).url, carol, [alice.deviceId, bob.deviceId]);
    await Promise.all([a, b].map((s) => s.waitFor((r) => r.frame.t === 'msg' && r.frame.group === group && r.frame.kind === 'welcome')));
    const sends = await Promise.all(Array.from({ length: 30 }, (_, i) => [a, b, c][i % 3]?.send(group, 1)));
    assert.ok(sends.every((r) => r?.t === 'ok'));
    const carolsOwn = sends.filter((_, i) => i % 3 === 2).map((r) => (r?.t === 'ok' ? (r.seq ?? 0) : 0));
    const ownSeqs = [0, 1, 2].map((k) => new Set(sends.filter((_, i) => i % 3 === k).map((r) => (r?.t === 'ok' ? (r.seq ?? 0) : 0))));
    for (const [k, s] of [a, b, c].entries()) {
      // A device may also be handed its own messages (the protocol allows it); count the others'.
      const fromOthers = () => new Set(s.messages(group).filter((m) => m.kind === 'application' && !ownSeqs[k]?.has(m.seq)).map((m) => m.seq));
      await s.waitFor(() => fromOthers().size === 20);
      const seqs = s.messages(group).filter((m) => m.kind === 'application').map((m) => m.seq);
      assert.deepEqual(seqs, [...new Set(seqs)].sort((x, y) => x - y), 'in order, without repeats, on every node');
    }

    // carol acknowledges, leaves node 2, misses five messages, and resumes on node 0
    const lastSeen = c.messages(group).at(-1)?.seq ?? 0;
    c.ack(group, lastSeen);
    await c.request({ t: 'ping' });
    c.close();
    const missed: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await a.send(group, 1);
      assert.ok(r.t === 'ok' && r.seq !== undefined);
      missed.push(r.seq);
    }
    const c2 = await TestSocket.open(node(0).wsUrl, carol.token);
    await c2.waitFor((r) => r.frame.t === 'synced');
    // everything after her cursor: the five she missed, and any of her own sent after what she acknowledged —
    // except those right after it, which her acknowledgement covered (a device has what it sent)
    let covered = lastSeen;
    while (carolsOwn.includes(covered + 1)) covered++;
    const expected = [...carolsOwn.filter((seq) => seq > covered), ...missed].sort((x, y) => x - y);
    assert.deepEqual(c2.messages(group).map((m) => m.seq), expected);
    // and receives live there, from a sender on node 1
    const r = await b.send(group, 1);
    assert.ok(r.t === 'ok');
    await c2.waitFor((x) => x.frame.t === 'msg' && x.frame.group === group && x.frame.seq === r.seq);
    for (const s of [a, b, c2]) s.close();
  });

  it('forwards typing frames across processes to live members only, and stores none of them', async () => {
    const alice = await registerAt(node(0).url);
    const bob = await registerAt(node(1).url);
    const carol = await registerAt(node(2).url);
    const a = await TestSocket.open(node(0).wsUrl, alice.token);
    const b = await TestSocket.open(node(1).wsUrl, bob.token);
    const group = await groupAt(node(0).url, alice, [bob.deviceId, carol.deviceId]);
    await b.waitFor((r) => r.frame.t === 'synced');
    await b.waitFor((r) => r.frame.t === 'msg' && r.frame.group === group && r.frame.kind === 'welcome');
    const payload = mlsMessage(group, 1, 'application', randomBytes(120));
    a.sendFrame({ t: 'typing', group }, [payload]);
    const got = await b.waitFor((r) => r.frame.t === 'typing');
    assert.deepEqual(got.frame, { t: 'typing', group, epoch: 1 });
    assert.deepEqual(got.payload, payload);
    // carol (offline while it was sent) connects to node 2: her Welcome, no typing frame.
    const c = await TestSocket.open(node(2).wsUrl, carol.token);
    await c.waitFor((r) => r.frame.t === 'synced');
    await c.request({ t: 'ping' });
    assert.equal(c.received.filter((r) => r.frame.t === 'typing').length, 0);
    const url = new URL(PG_URL);
    url.pathname = `/${dbName}`;
    const db = new pg.Client({ connectionString: url.toString() });
    await db.connect();
    const stored = (await db.query('SELECT count(*)::int AS n FROM group_messages WHERE payload = $1', [Buffer.from(payload)]).finally(() => db.end())).rows[0] as { n: number };
    assert.equal(stored.n, 0, 'the typing message is stored nowhere');
    for (const s of [a, b, c]) s.close();
  });

  it('numbers concurrent sends through all three processes without gaps or duplicates', async () => {
    const users = await Promise.all([0, 1, 2].map((i) => registerAt(node(i).url)));
    const [u0, u1, u2] = users;
    assert.ok(u0 && u1 && u2);
    const group = await groupAt(node(0).url, u0, [u1.deviceId, u2.deviceId]);
    const socks = await Promise.all(users.map((u, i) => TestSocket.open(node(i).wsUrl, u.token)));
    const results = await Promise.all(Array.from({ length: 90 }, (_, i) => socks[i % 3]?.send(group, 1)));
    const seqs = results.map((x) => (x?.t === 'ok' ? (x.seq ?? 0) : -1)).sort((x, y) => x - y);
    assert.deepEqual(seqs, Array.from({ length: 90 }, (_, i) => i + 2));
    for (const s of socks) s.close();
  });

  for (const [run, killAfterMs] of [350, 900].entries()) {
    it(`loses no acknowledged message when a process is killed after ${killAfterMs} ms and its devices move (run ${run + 1})`, async (t) => {
      const alice = await registerAt(node(0).url);
      const bob = await registerAt(node(1).url);
      const group = await groupAt(node(0).url, alice, [bob.deviceId]);
      const a = await TestSocket.open(node(0).wsUrl, alice.token);
      const b = await TestSocket.open(node(1).wsUrl, bob.token);
      const acked = streamSends(a, group);
      await new Promise((r) => setTimeout(r, killAfterMs));
      await node(1).kill();
      await b.waitClosed();
      await new Promise((r) => setTimeout(r, 200));
      a.close();
      await a.waitClosed();
      const received = new Set<number>();
      let duplicates = 0;
      const take = (s: TestSocket) => {
        for (const m of s.messages(group)) {
          if (m.kind !== 'application') continue;
          if (received.has(m.seq)) duplicates++;
          else received.add(m.seq);
        }
      };
      take(b);
      const b2 = await TestSocket.open(node(2).wsUrl, bob.token);
      await b2.waitFor((r) => r.frame.t === 'synced', 15_000);
      take(b2);
      const missing = acked.filter((s) => !received.has(s));
      assert.deepEqual(missing, []);
      t.diagnostic(`acknowledged ${acked.length}, delivered ${received.size}, duplicates removed ${duplicates}`);
      b2.close();
      await node(1).start();
    });
  }
});
