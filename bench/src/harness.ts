import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { connectAll, ParleyLoadDevice } from './clients.js';
import { startParley, type Proc } from './processes.js';
import { openStorage, seedDevices, seedGroup, type SeedDevice, type SeedGroup } from './seed.js';

export type StorageKind = 'sqlite' | 'postgres';

export interface Result {
  scenario: string;
  storage: StorageKind | 'none';
  params: Record<string, unknown>;
  delivered: number;
  seconds: number;
  deliveredPerS: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  cpuMsPer1000: number;
  peakRssMB: number;
  lost: number;
  duplicated: number;
  extra?: Record<string, unknown>;
}

export const PG_ADMIN_URL = process.env['PARLEY_TEST_PG_URL'] ?? process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A throwaway database: a temp data dir, and for PostgreSQL a fresh database dropped afterwards. */
export async function freshDatabase(kind: StorageKind): Promise<{ dataDir: string; databaseUrl: string | undefined; drop(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-bench-'));
  if (kind === 'sqlite') {
    return { dataDir, databaseUrl: undefined, drop: async () => rmSync(dataDir, { recursive: true, force: true }) };
  }
  const name = `parley_bench_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    dataDir,
    databaseUrl: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface World {
  /** The first server process (all of them: `servers`). */
  server: Proc;
  servers: Proc[];
  wsUrl: string;
  groups: SeedGroup[];
  devices: Map<string, ParleyLoadDevice>;
  close(): Promise<void>;
}

/**
 * Seeds `groupSizes` groups (plus `loners` devices in no group), starts Parley
 * on them and connects every device (unless connect is false).
 */
export const NATS_URL = process.env['PARLEY_TEST_NATS_URL'] ?? process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';

export async function world(kind: StorageKind, groupSizes: number[], options: { connect?: boolean; loners?: number; nodes?: number } = {}): Promise<World> {
  const db = await freshDatabase(kind);
  const storage = await openStorage(db.dataDir, db.databaseUrl);
  const total = groupSizes.reduce((a, b) => a + b, 0) + (options.loners ?? 0);
  const seeded = await seedDevices(storage, total);
  const groups: SeedGroup[] = [];
  let at = 0;
  for (const size of groupSizes) {
    groups.push(await seedGroup(storage, seeded.slice(at, at + size)));
    at += size;
  }
  await storage.close();
  const env: Record<string, string> = { PARLEY_DATA_DIR: db.dataDir };
  if (db.databaseUrl) env['DATABASE_URL'] = db.databaseUrl;
  // Cluster mode: several processes on the same database, fanning out over NATS.
  if (options.nodes !== undefined) env['NATS_URL'] = NATS_URL;
  const servers = await Promise.all(Array.from({ length: options.nodes ?? 1 }, () => startParley(env)));
  const server = servers[0] as Proc;
  const wsUrl = `ws://127.0.0.1:${server.port}/v1/ws`;
  const devices = new Map<string, ParleyLoadDevice>();
  seeded.forEach((d: SeedDevice, i) => devices.set(d.deviceId, new ParleyLoadDevice(i, d.token)));
  if (options.connect !== false) {
    // Device i connects to node i mod N, so the two sides of a conversation sit on different nodes.
    const byNode = servers.map((s, n) => ({ url: `ws://127.0.0.1:${s.port}/v1/ws`, devices: [...devices.values()].filter((d) => d.index % servers.length === n) }));
    for (const b of byNode) await connectAll(b.devices, b.url);
  }
  return {
    server,
    servers,
    wsUrl,
    groups,
    devices,
    async close() {
      for (const d of devices.values()) d.close();
      await Promise.all(servers.map((s) => s.stop()));
      await db.drop();
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
