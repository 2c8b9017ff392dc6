import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { PostgresStorage } from '../../server/src/storage/postgres/postgres-storage.js';
import { ClientNetwork } from './helpers/network.js';
import { filesUnder, needles, seizureWorkload } from './helpers/seizure.js';

/**
 * The seizure test on PostgreSQL: the same workload, then every row of every
 * table of the server's schema is dumped (text as UTF-8, bytea as raw bytes)
 * and searched, together with blob files and every log line.
 */
const PG_URL = process.env['PARLEY_TEST_PG_URL'] ?? process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

async function dumpSchema(schema: string): Promise<Buffer> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    const tables = await c.query<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = $1', [schema]);
    const parts: Buffer[] = [];
    for (const { table_name } of tables.rows) {
      const rows = await c.query<Record<string, unknown>>(`SELECT * FROM "${schema}"."${table_name}"`);
      for (const row of rows.rows) {
        for (const v of Object.values(row)) {
          if (v instanceof Uint8Array) parts.push(Buffer.from(v));
          else if (Array.isArray(v)) parts.push(Buffer.from(JSON.stringify(v), 'utf8'));
          else if (v !== null && v !== undefined) parts.push(Buffer.from(String(v), 'utf8'));
          parts.push(Buffer.from('\n'));
        }
      }
    }
    assert.ok(tables.rows.length >= 8, `dumped ${tables.rows.length} tables`);
    return Buffer.concat(parts);
  } finally {
    await c.end();
  }
}

/** Group messages and Welcomes stored for a group. */
async function storedMessages(schema: string, groupId: string): Promise<number> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    const r = await c.query<{ n: string }>(
      `SELECT (SELECT COUNT(*) FROM "${schema}".group_messages WHERE group_id = $1) + (SELECT COUNT(*) FROM "${schema}".welcomes WHERE group_id = $1) AS n`,
      [groupId],
    );
    return Number(r.rows[0]?.n);
  } finally {
    await c.end();
  }
}

/** Rows of one table of the schema (a name from this file, never from input). */
async function countRows(schema: string, table: string): Promise<number> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    const r = await c.query<{ n: string }>(`SELECT COUNT(*) AS n FROM "${schema}"."${table}"`);
    return Number(r.rows[0]?.n);
  } finally {
    await c.end();
  }
}

describe('client: seizure on PostgreSQL', () => {
  it('leaves no plaintext (device names, profile names, about lines, pictures, contact nicknames and Moments — post text, location, photos, comments, list names — included) in any table, blob or log line, and no message of a delivered conversation', async () => {
    const schema = `parley_seizure_${randomBytes(6).toString('hex')}`;
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-seizure-pg-'));
    const storage = new PostgresStorage({ connectionString: PG_URL, schema });
    try {
      const net = await ClientNetwork.start({ dataDir, storage });
      const markers: string[] = [];
      let delivered = '';
      try {
        const result = await seizureWorkload(net, { storedMessages: (groupId) => storedMessages(schema, groupId) });
        markers.push(...result.markers);
        delivered = result.delivered;
      } finally {
        await net.close();
      }
      assert.equal(await storedMessages(schema, delivered), 0, 'the fully delivered 1:1 left no stored message');
      assert.equal(await countRows(schema, 'profiles'), 2, 'two encrypted profiles stored');
      const dump = await dumpSchema(schema);
      assert.ok(dump.length > 1000, 'the dump holds the workload');
      const logs = Buffer.from(net.server.logs.join('\n'), 'utf8');
      const haystacks = [{ where: `schema ${schema}`, bytes: dump }, { where: 'server log', bytes: logs }, ...filesUnder(dataDir).map((f) => ({ where: f, bytes: readFileSync(f) }))];
      const found: string[] = [];
      for (const m of markers) for (const n of needles(m)) for (const h of haystacks) if (h.bytes.includes(n.bytes)) found.push(`${m} as ${n.how} in ${h.where}`);
      assert.deepEqual(found, []);
    } finally {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
