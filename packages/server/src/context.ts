import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { BlobStore } from './blobs/blob-store.js';
import { FsBlobStore } from './blobs/fs/fs-blob-store.js';
import type { DeviceId } from '@parley/protocol';
import type { Bus } from './bus/bus.js';
import { MemoryBus } from './bus/memory/memory-bus.js';
import { systemClock, type Clock } from './clock.js';
import type { ServerConfig } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { NoMetrics, type Metrics } from './metrics/metrics.js';
import { PushNotifier } from './push/notifier.js';
import { loadOrCreateVapidKeys } from './push/vapid.js';
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
  /** Prometheus metrics when `config.metricsAddr` is set; otherwise hooks that do nothing. */
  metrics: Metrics;
  /** Web Push wake-ups for devices that are not connected (VAPID keys from the data directory). */
  push: PushNotifier;
}

export type AppContextOverrides = Partial<Omit<AppContext, 'config'>>;

export async function createAppContext(config: ServerConfig, overrides: AppContextOverrides = {}): Promise<AppContext> {
  mkdirSync(config.dataDir, { recursive: true });
  const storage = overrides.storage ?? (await storageFor(config));
  const bus = overrides.bus ?? (await busFor(config));
  const logger = overrides.logger ?? createLogger(config.logLevel);
  const limiter = overrides.limiter ?? new RateLimiter();
  // One registry per context: servers in one process (tests) never share metrics.
  const metrics = overrides.metrics ?? (await metricsFor(config, logger));
  const push = overrides.push ?? pushFor(config, storage, logger, bus);
  if (metrics.enabled) {
    metrics.watch({ storage, bus, push });
    limiter.onRefused = (key) => metrics.rateLimited(key);
  }
  return {
    config,
    storage,
    bus,
    blobs: overrides.blobs ?? new FsBlobStore(join(config.dataDir, 'blobs'), () => (overrides.clock ?? systemClock).now()),
    logger,
    clock: overrides.clock ?? systemClock,
    limiter,
    trimmer: overrides.trimmer ?? new Trimmer(storage, config.trimIntervalMs),
    metrics,
    push,
  };
}

function pushFor(config: ServerConfig, storage: Storage, logger: Logger, bus: Bus): PushNotifier {
  return new PushNotifier({
    ...config.push,
    // Made at the server's first start (startServer asks), not by admin commands that build a context too.
    vapid: () => loadOrCreateVapidKeys(config.dataDir),
    subscriptions: (ids) => storage.pushSubscriptions(ids),
    forget: (deviceId, endpoint) => storage.deletePushSubscription(deviceId, endpoint),
    // Only a cluster asks: one process knows its own connections already.
    ...(bus.kind === 'nats' ? { connectedAnywhere: (deviceId: DeviceId) => bus.connected(deviceId) } : {}),
    logger,
  });
}

async function storageFor(config: ServerConfig): Promise<Storage> {
  if (!config.databaseUrl) return new SqliteStorage({ path: join(config.dataDir, 'parley.db'), synchronous: config.sqliteSynchronous });
  // Loaded only when configured, so a single-node install never loads the PostgreSQL driver.
  const { PostgresStorage } = await import('./storage/postgres/postgres-storage.js');
  return new PostgresStorage({ connectionString: config.databaseUrl });
}

async function metricsFor(config: ServerConfig, logger: Logger): Promise<Metrics> {
  if (config.metricsAddr === undefined) return new NoMetrics();
  // Loaded only when configured: a server without metrics never loads prom-client.
  const { PromMetrics } = await import('./metrics/prom-metrics.js');
  return new PromMetrics({ version: config.version, logger });
}

async function busFor(config: ServerConfig): Promise<Bus> {
  if (!config.natsUrl) return new MemoryBus();
  // Loaded only when configured, like the PostgreSQL driver.
  const { NatsBus } = await import('./bus/nats/nats-bus.js');
  return NatsBus.connect(config.natsUrl);
}
