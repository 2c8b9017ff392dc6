import { createHash } from 'node:crypto';
import { DatabaseError, Pool } from 'pg';
import type { PoolClient, QueryConfig } from 'pg';
import type { GroupId } from '@parley/protocol';
import { POSTGRES_MIGRATIONS } from './migrations.js';
import { num, type Row } from './rows.js';

export interface PostgresStorageOptions {
  connectionString: string;
  /** Schema holding the tables (created by migrate()); the server's default search_path when absent. */
  schema?: string;
  /** Pool size. */
  max?: number;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]*$/;

export async function rows(c: PoolClient, sql: string, params: readonly unknown[] = []): Promise<Row[]> {
  return (await c.query<Row>(sql, [...params])).rows;
}

export async function changes(c: PoolClient, sql: string, params: readonly unknown[] = []): Promise<number> {
  return (await c.query(sql, [...params])).rowCount ?? 0;
}

/** What every part of the PostgreSQL adapter shares: the pool and how a transaction or a single statement runs. */
export class PgCore {
  private readonly pool: Pool;
  readonly schema: string | undefined;
  private readonly prepared = new WeakSet<PoolClient>();
  private readonly guarded = new WeakSet<PoolClient>();
  private closed = false;

  constructor(options: PostgresStorageOptions) {
    if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
      throw new Error('postgres storage: schema must match /^[a-z_][a-z0-9_]*$/');
    }
    this.schema = options.schema;
    this.pool = new Pool({ connectionString: options.connectionString, ...(options.max !== undefined ? { max: options.max } : {}) });
    // An idle connection that drops is removed by the pool; the next query reports
    // the outage. Without a listener the error would crash the process.
    this.pool.on('error', () => undefined);
  }

  /**
   * Checks out a connection, pointing it at the schema the first time it is
   * seen: done here, awaited, so a failure surfaces as the caller's error
   * instead of leaving a connection that silently writes to another schema.
   */
  async checkout(): Promise<PoolClient> {
    const client = await this.pool.connect();
    if (!this.guarded.has(client)) {
      // The pool listens for errors only on IDLE connections: one that drops while
      // checked out (between two statements of a transaction) would otherwise emit
      // an unhandled 'error' and crash the process. The statement in flight fails
      // with the outage either way, which the caller reports as `unavailable`.
      client.on('error', () => undefined);
      this.guarded.add(client);
    }
    if (this.schema !== undefined && !this.prepared.has(client)) {
      try {
        await client.query(`SET search_path TO "${this.schema}"`);
      } catch (err) {
        client.release(true);
        throw err;
      }
      this.prepared.add(client);
    }
    return client;
  }

  async tx<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.checkout();
    let discard = false;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        discard = true;
      }
      throw err;
    } finally {
      client.release(discard);
    }
  }

  /** A single statement is its own transaction; no BEGIN/COMMIT round trips needed. */
  async one(query: string | QueryConfig, params: readonly unknown[] = []): Promise<{ rows: Row[]; rowCount: number }> {
    const client = await this.checkout();
    let discard = false;
    try {
      const res = typeof query === 'string' ? await client.query<Row>(query, [...params]) : await client.query<Row>(query);
      return { rows: res.rows, rowCount: res.rowCount ?? 0 };
    } catch (err) {
      // A server-reported error leaves the connection usable; anything else may not.
      discard = !(err instanceof DatabaseError);
      throw err;
    } finally {
      client.release(discard);
    }
  }

  async read(sql: string, params: readonly unknown[]): Promise<Row[]> {
    return (await this.one(sql, params)).rows;
  }

  /** Trims groups (see `parley_trim_group`): each locked in id order, its log cut below every cursor. */
  async trimGroups(c: PoolClient | undefined, groupIds: readonly GroupId[]): Promise<number> {
    if (groupIds.length === 0) return 0;
    const sql = 'SELECT parley_trim_groups($1::text[]) AS n';
    const result = c ? await rows(c, sql, [[...groupIds]]) : await this.read(sql, [[...groupIds]]);
    const row = result[0];
    return row ? num(row, 'n') : 0;
  }

  async migrate(): Promise<void> {
    // Keyed by schema so test schemas in one database migrate independently.
    const lockKey = createHash('sha256')
      .update(`parley:migrate:${this.schema ?? ''}`)
      .digest()
      .readBigInt64BE(0)
      .toString();
    await this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKey]);
      if (this.schema !== undefined) await c.query(`CREATE SCHEMA IF NOT EXISTS "${this.schema}"`);
      await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)');
      const applied = new Set((await rows(c, 'SELECT version FROM schema_migrations')).map((r) => num(r, 'version')));
      for (const m of POSTGRES_MIGRATIONS) {
        if (applied.has(m.version)) continue;
        await c.query(m.sql);
        await c.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
