import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import type { DeviceId, UserId } from '@parley/protocol';
import type { PostgresStorage } from '../src/storage/postgres/postgres-storage.js';

/** Shared by the PostgreSQL storage and migration tests: each test works in a schema of its own. */
export const PG_URL = process.env['PARLEY_TEST_PG_URL'] ?? process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

export const freshSchema = (): string => `parley_test_${randomBytes(6).toString('hex')}`;

export async function withClient<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function dropSchema(schema: string): Promise<void> {
  await withClient((client) => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}

/** An account with one device and no session; returns the device. */
export async function pgAccount(s: PostgresStorage): Promise<DeviceId> {
  const name = `user${randomBytes(4).toString('hex')}`;
  const deviceId = randomBytes(16).toString('base64url') as DeviceId;
  await s.createAccount(
    { id: randomBytes(16).toString('base64url') as UserId, username: name, skeleton: `sk-${name}`, passwordHash: 'h', createdDay: '2026-11-28' },
    { id: deviceId, signatureKey: randomBytes(32) },
    undefined,
  );
  return deviceId;
}
