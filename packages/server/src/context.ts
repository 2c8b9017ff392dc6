import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { BlobStore } from './blobs/blob-store.js';
import { FsBlobStore } from './blobs/fs/fs-blob-store.js';
import type { Bus } from './bus/bus.js';
import { MemoryBus } from './bus/memory/memory-bus.js';
import { systemClock, type Clock } from './clock.js';
import type { ServerConfig } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { RateLimiter } from './rate-limit.js';
import { Trimmer } from './services/trimmer.js';
import { SqliteStorage } from './storage/sqlite/sqlite-storage.js';
import type { Storage } from './storage/storage.js';

/**
 * Everything a request handler may use, built in exactly one place from the
 * configuration. Tests pass overrides (a fixed clock, a log sink, another
 * storage) instead of patching modules.
 */
export interface AppContext {
  config: ServerConfig;
  storage: Storage;
  bus: Bus;
  blobs: BlobStore;
  logger: Logger;
  clock: Clock;
  limiter: RateLimiter;
  trimmer: Trimmer;
}

export type AppContextOverrides = Partial<Omit<AppContext, 'config'>>;

export async function createAppContext(config: ServerConfig, overrides: AppContextOverrides = {}): Promise<AppContext> {
  mkdirSync(config.dataDir, { recursive: true });
  const storage = overrides.storage ?? (await storageFor(config));
  return {
    config,
    storage,
    bus: overrides.bus ?? (await busFor(config)),
    blobs: overrides.blobs ?? new FsBlobStore(join(config.dataDir, 'blobs')),
    logger: overrides.logger ?? createLogger(config.logLevel),
    clock: overrides.clock ?? systemClock,
    limiter: overrides.limiter ?? new RateLimiter(),
    trimmer: overrides.trimmer ?? new Trimmer(storage, config.trimIntervalMs),
  };
}

async function storageFor(config: ServerConfig): Promise<Storage> {
  if (!config.databaseUrl) return new SqliteStorage({ path: join(config.dataDir, 'parley.db') });
  // Loaded only when configured, so a single-node install never loads the PostgreSQL driver.
  const { PostgresStorage } = await import('./storage/postgres/postgres-storage.js');
  return new PostgresStorage({ connectionString: config.databaseUrl });
}

async function busFor(config: ServerConfig): Promise<Bus> {
  if (!config.natsUrl) return new MemoryBus();
  // Loaded only when configured, like the PostgreSQL driver.
  const { NatsBus } = await import('./bus/nats/nats-bus.js');
  return NatsBus.connect(config.natsUrl);
}
