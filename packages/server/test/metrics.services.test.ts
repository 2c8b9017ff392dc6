import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PromMetrics } from '../src/metrics/prom-metrics.js';
import { PostgresStorage } from '../src/storage/postgres/postgres-storage.js';
import { parseExposition, sampleValue, type Family } from './helpers/prometheus-text.js';
import { dropSchema, freshSchema, PG_URL } from './storage-postgres-helpers.js';
import { newGroupId, TestNetwork } from './helpers/test-network.js';

const NATS_URL = process.env['PARLEY_TEST_NATS_URL'] ?? process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';

async function scrape(net: TestNetwork): Promise<Map<string, Family>> {
  const res = await fetch(net.server.metricsUrl ?? '');
  assert.equal(res.status, 200);
  return parseExposition(await res.text());
}

describe('metrics in cluster mode (PostgreSQL + NATS)', () => {
  it('time deliveries across processes, count the shared backlog, and report NATS health and failed publishes', async () => {
    const schema = freshSchema();
    const config = { natsUrl: NATS_URL, metricsAddr: { host: '127.0.0.1', port: 0 } };
    try {
      // Two servers on one database schema and one NATS: stand-ins for two processes.
      await using one = await TestNetwork.start({ config, storage: new PostgresStorage({ connectionString: PG_URL, schema }) });
      await using two = await TestNetwork.start({ config, storage: new PostgresStorage({ connectionString: PG_URL, schema }) });
      const alice = await one.register();
      const bob = await two.register();
      const carol = await two.register();
      const a = await alice.connect();
      const b = await bob.connect();
      const g = newGroupId();
      assert.equal((await alice.post('/v1/groups', { groupId: g.id })).status, 201);
      assert.equal((await a.commit(g.id, 0, [alice.deviceId, bob.deviceId, carol.deviceId], [bob.deviceId, carol.deviceId])).t, 'ok');
      // Bob's connection learns the group from its Welcome (read from storage, so untimed); only the
      // messages after it are live deliveries with a store time. Sent before it is in, some would be
      // read from storage with it and not timed.
      await b.waitFor((r) => r.frame.t === 'msg' && r.frame.group === g.id && r.frame.kind === 'welcome');
      await new Promise((r) => setTimeout(r, 100));
      const SENT = 5;
      for (let i = 0; i < SENT; i++) assert.equal((await a.send(g.id, 1)).t, 'ok');
      await b.waitFor(() => b.messages(g.id).filter((m) => m.kind === 'application').length === SENT);

      const atTwo = await scrape(two);
      // Stored on one process, pushed over NATS, written to bob's socket on the other: timed across processes.
      assert.ok(sampleValue(atTwo, 'parley_delivery_latency_seconds_count') >= SENT);
      assert.ok(sampleValue(atTwo, 'parley_delivery_latency_seconds_sum') < SENT, 'the store time survives the trip (converted clocks)');
      assert.ok(sampleValue(atTwo, 'parley_messages_delivered_total', { path: 'live' }) >= SENT);
      assert.equal(sampleValue(atTwo, 'parley_messages_stored_total', { kind: 'message' }), 0, 'stored by the other process');
      assert.equal(sampleValue(atTwo, 'parley_bus_up'), 1);
      assert.equal(sampleValue(atTwo, 'parley_bus_publish_errors_total'), 0);
      // The backlog is the whole database's: carol has read nothing, and both processes see it.
      assert.ok(sampleValue(atTwo, 'parley_backlog_messages') >= SENT);

      let atOne = await scrape(one);
      assert.equal(sampleValue(atOne, 'parley_messages_stored_total', { kind: 'message' }), SENT);
      assert.ok(sampleValue(atOne, 'parley_storage_write_batch_seconds_count') > 0, 'PostgreSQL append batches are timed');
      assert.ok(sampleValue(atOne, 'parley_storage_batched_writes_total') >= SENT);
      assert.equal(sampleValue(atOne, 'parley_backlog_messages'), sampleValue(atTwo, 'parley_backlog_messages'));
      assert.ok(sampleValue(atOne, 'parley_backlog_bytes') >= SENT * 300);
      assert.equal(sampleValue(atOne, 'parley_storage_up'), 1);

      // NATS gone from the first process: sends are still stored and acknowledged, the publishes fail and are counted.
      await one.ctx.bus.close();
      assert.equal((await a.send(g.id, 1)).t, 'ok');
      (one.ctx.metrics as PromMetrics).expireBacklog();
      atOne = await scrape(one);
      assert.equal(sampleValue(atOne, 'parley_bus_up'), 0);
      assert.equal(sampleValue(atOne, 'parley_bus_publish_errors_total'), 1);
      assert.ok(sampleValue(atOne, 'parley_backlog_messages') >= SENT + 1);
    } finally {
      await dropSchema(schema);
    }
  });
});
