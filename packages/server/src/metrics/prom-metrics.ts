import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Logger } from '../logger.js';
import { ClosedCounter, ClosedGauge, ClosedHistogram, labelProduct } from './closed-metrics.js';
import {
  AUTH_FAILURE_REASONS,
  DELIVERY_PATHS,
  FRAME_IN_TYPES,
  FRAME_OUT_TYPES,
  HTTP_METHODS,
  indexOf,
  PUSH_RESULTS,
  RATE_LIMIT_NAMES,
  RATE_LIMIT_PREFIXES,
  STATUS_CLASSES,
  STORED_KINDS,
  TRANSPORTS,
  type DeliveryPath,
  type FrameInType,
  type FrameOutType,
  type Metrics,
  type MetricSources,
  type StoredKind,
  type Transport,
} from './metrics.js';

/** Delivery latency, store → recipient's socket: sub-millisecond in one process, up to seconds under load. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
/** One write batch (one transaction per event-loop turn). */
export const BATCH_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] as const;
/** The backlog is counted at most this often, however often Prometheus scrapes (a count over the log). */
export const BACKLOG_REFRESH_MS = 15_000;
/** A health check that takes longer than this counts as down. */
const HEALTH_TIMEOUT_MS = 2000;

const FRAME_IN = indexOf(FRAME_IN_TYPES);
const FRAME_OUT = indexOf(FRAME_OUT_TYPES);
const STORED = indexOf(STORED_KINDS);
const PATH = indexOf(DELIVERY_PATHS);
const LIMIT = indexOf(RATE_LIMIT_NAMES);
const PREFIX_TO_LIMIT = new Map<string, number>(Object.entries(RATE_LIMIT_PREFIXES).map(([prefix, name]) => [prefix, LIMIT[name]]));
const AUTH = indexOf(AUTH_FAILURE_REASONS);
const TRANSPORT = indexOf(TRANSPORTS);
const METHOD = indexOf(HTTP_METHODS);

export interface PromMetricsOptions {
  version: string;
  logger: Logger;
  /** Process metrics (CPU, RSS, heap, event-loop lag); off in unit tests that only count. */
  processMetrics?: boolean;
}

function statusClass(status: number | undefined): number {
  if (status === undefined) return STATUS_CLASSES.length - 1;
  const c = Math.floor(status / 100) - 1;
  return c >= 0 && c <= 4 ? c : 4;
}

function withTimeout<T>(p: Promise<T>, fallback: T): Promise<T> {
  return new Promise<T>((resolve) => {
    const t = setTimeout(() => resolve(fallback), HEALTH_TIMEOUT_MS);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      () => {
        clearTimeout(t);
        resolve(fallback);
      },
    );
  });
}

/**
 * Metrics on: one prom-client Registry per server (never the global default
 * registry), so several servers in one process — tests — do not share or
 * clash. Counters on the message path are array-backed (closed-metrics.ts);
 * gauges that need a look at the server, the storage or the bus are read
 * only when scraped.
 */
export class PromMetrics implements Metrics {
  readonly enabled = true;
  readonly registry = new Registry();
  private connections: () => number = () => 0;
  private sources: MetricSources | undefined;
  private backlogAt = -Infinity;
  private backlogRunning: Promise<void> | undefined;
  private readonly routes = new Map<string, number>();
  /** Series 0 is every request whose route was not declared; declared routes follow in order. */
  private readonly httpSeries: Array<{ method: string; route: string }> = [{ method: 'other', route: 'other' }];
  private http: ClosedCounter;

  readonly wsConnections = new ClosedGauge('parley_ws_connections', 'Open WebSocket connections (authenticated or still saying hello).');
  readonly wsOpened = new ClosedCounter('parley_ws_connections_opened_total', 'WebSocket connections accepted.');
  readonly framesIn = new ClosedCounter(
    'parley_ws_frames_received_total',
    'WebSocket frames received, by frame type (invalid: did not decode; unread: refused by the frame rate limit).',
    FRAME_IN_TYPES.map((type) => ({ type })),
  );
  readonly framesOut = new ClosedCounter(
    'parley_ws_frames_sent_total',
    'WebSocket frames sent, by frame type (msg: a stored message or Welcome; notice: key_packages_low, devices_changed).',
    FRAME_OUT_TYPES.map((type) => ({ type })),
  );
  readonly storedCount = new ClosedCounter(
    'parley_messages_stored_total',
    'Messages stored for delivery (message: application or proposal; commit: a commit, with its Welcome if any).',
    STORED_KINDS.map((kind) => ({ kind })),
  );
  readonly deliveredCount = new ClosedCounter(
    'parley_messages_delivered_total',
    "Messages and Welcomes written to a recipient device's socket (live: pushed while connected; backlog: read on connect).",
    DELIVERY_PATHS.map((path) => ({ path })),
  );
  readonly latency = new ClosedHistogram(
    'parley_delivery_latency_seconds',
    "Time from a message's storage commit to its write on a connected recipient's socket (live deliveries).",
    LATENCY_BUCKETS,
  );
  readonly backlogMessages = new ClosedGauge('parley_backlog_messages', `Messages and Welcomes stored and not yet deleted, in the whole database (counted at most every ${BACKLOG_REFRESH_MS / 1000} s).`);
  readonly backlogBytes = new ClosedGauge('parley_backlog_bytes', `Bytes of stored messages and Welcomes not yet deleted, in the whole database (counted at most every ${BACKLOG_REFRESH_MS / 1000} s).`);
  readonly storageUp = new ClosedGauge('parley_storage_up', '1 when the database answered its health check at the last scrape, else 0.');
  readonly batchSeconds = new ClosedHistogram('parley_storage_write_batch_seconds', 'Duration of each batch of writes committed together (one transaction per event-loop turn).', BATCH_BUCKETS);
  readonly lastBatchSeconds = new ClosedGauge('parley_storage_last_write_batch_seconds', 'Duration of the latest write batch.');
  readonly batchWrites = new ClosedCounter('parley_storage_batched_writes_total', 'Writes committed in batches (message appends and acknowledgements; on SQLite every write).');
  readonly batchFailures = new ClosedCounter('parley_storage_write_batch_failures_total', 'Write batches that failed as a whole (a database error; refused writes such as epoch conflicts are not failures).');
  readonly busUp = new ClosedGauge('parley_bus_up', '1 when the NATS connection answered at the last scrape, else 0 (cluster mode only).');
  readonly busPublishErrors = new ClosedCounter('parley_bus_publish_errors_total', 'Live fan-out publishes that failed (cluster mode only; the messages stay in the backlog).');
  readonly rateLimits = new ClosedCounter(
    'parley_rate_limit_refusals_total',
    'Requests, frames or claims refused by a rate limit, by limit.',
    RATE_LIMIT_NAMES.map((limit) => ({ limit })),
  );
  readonly pushes = new ClosedCounter(
    'parley_push_total',
    'Web Push wake-ups by result: sent (2xx), gone (404/410: the subscription was deleted), failed (another status, a timeout or a network error), dropped (the send queue was full), live (not sent: the device was connected to another process of the cluster).',
    PUSH_RESULTS.map((result) => ({ result })),
  );
  readonly authFailures = new ClosedCounter(
    'parley_auth_failures_total',
    'Refused authentication: unauthenticated (missing, unknown or expired token), invalid_credentials (wrong password or key), device_pending (device not yet approved).',
    labelProduct([
      ['reason', AUTH_FAILURE_REASONS],
      ['transport', TRANSPORTS],
    ]),
  );

  constructor(private readonly options: PromMetricsOptions) {
    this.http = this.makeHttpCounter();
    const info = new ClosedGauge('parley_build_info', 'Always 1; the labels say which server version runs.', { version: options.version });
    info.set(1);
    for (const m of [
      info,
      this.wsConnections,
      this.wsOpened,
      this.framesIn,
      this.framesOut,
      this.storedCount,
      this.deliveredCount,
      this.latency,
      this.backlogMessages,
      this.backlogBytes,
      this.storageUp,
      this.batchSeconds,
      this.lastBatchSeconds,
      this.batchWrites,
      this.batchFailures,
      this.rateLimits,
      this.authFailures,
      this.pushes,
    ]) {
      m.registerIn(this.registry);
    }
    this.http.registerIn(this.registry);
    // CPU, RSS, heap, handles and the event-loop lag monitor (perf_hooks, 10 ms resolution).
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Storage and bus, read when scraped; write batches reported by the storage as they commit. */
  watch(sources: MetricSources): void {
    this.sources = sources;
    sources.storage.observeWrites((seconds, writes, failed) => {
      this.batchSeconds.observe(seconds);
      this.lastBatchSeconds.set(seconds);
      this.batchWrites.inc(0, writes);
      if (failed) this.batchFailures.inc();
    });
    if (sources.bus.kind === 'nats') {
      this.busUp.registerIn(this.registry);
      this.busPublishErrors.registerIn(this.registry);
    }
  }

  watchConnections(count: () => number): void {
    this.connections = count;
  }

  declareRoutes(templates: readonly string[]): void {
    for (const t of templates) {
      if (this.routes.has(t)) continue;
      const space = t.indexOf(' ');
      this.routes.set(t, this.httpSeries.length);
      this.httpSeries.push({ method: space < 0 ? 'other' : t.slice(0, space), route: space < 0 ? t : t.slice(space + 1) });
    }
    this.registry.removeSingleMetric(this.http.name);
    const previous = this.http;
    this.http = this.makeHttpCounter();
    // Routes are only ever appended, so every earlier series keeps its index and its count.
    for (let i = 0; i < previous.size; i++) this.http.set(i, previous.value(i));
    this.http.registerIn(this.registry);
  }

  private makeHttpCounter(): ClosedCounter {
    const series = this.httpSeries.flatMap(({ method, route }) => STATUS_CLASSES.map((status) => ({ method, route, status })));
    return new ClosedCounter('parley_http_requests_total', 'HTTP responses by route template (never the path itself), method and status class.', series, true);
  }

  connectionOpened(): void {
    this.wsOpened.inc();
  }

  frameIn(type: FrameInType): void {
    this.framesIn.inc(FRAME_IN[type]);
  }

  frameOut(type: FrameOutType): void {
    this.framesOut.inc(FRAME_OUT[type]);
  }

  stored(kind: StoredKind): void {
    this.storedCount.inc(STORED[kind]);
  }

  delivered(path: DeliveryPath, storedAt: number | undefined): void {
    this.deliveredCount.inc(PATH[path]);
    if (storedAt !== undefined) this.latency.observe((performance.now() - storedAt) / 1000);
  }

  rateLimited(key: string): void {
    const colon = key.indexOf(':');
    this.rateLimits.inc(PREFIX_TO_LIMIT.get(colon < 0 ? key : key.slice(0, colon)) ?? LIMIT.other);
  }

  authFailed(code: string, transport: Transport): void {
    const reason = AUTH[code as (typeof AUTH_FAILURE_REASONS)[number]] as number | undefined;
    if (reason !== undefined) this.authFailures.inc(reason * TRANSPORTS.length + TRANSPORT[transport]);
  }

  httpRequest(method: string, template: string, status: number | undefined): void {
    const known = METHOD[method as (typeof HTTP_METHODS)[number]] as number | undefined;
    const route = this.routes.get(`${known === undefined ? 'other' : method} ${template}`) ?? 0;
    this.http.inc(route * STATUS_CLASSES.length + statusClass(status));
  }

  async scrape(): Promise<string> {
    await this.refresh();
    // prom-client writes NaN as "Nan" (the event-loop mean before any sample); the format says NaN.
    return (await this.registry.metrics()).replace(/ Nan$/gm, ' NaN');
  }

  /** Reads what is only looked at when scraped: connections, storage and bus health, the backlog (cached). */
  private async refresh(): Promise<void> {
    this.wsConnections.set(this.connections());
    const sources = this.sources;
    if (!sources) return;
    const [storageOk, busOk] = await Promise.all([
      withTimeout(sources.storage.health().then((h) => h.ok), false),
      sources.bus.kind === 'nats' ? withTimeout(sources.bus.health(), false) : Promise.resolve(true),
      this.refreshBacklog(sources),
    ]);
    this.storageUp.set(storageOk ? 1 : 0);
    this.busUp.set(busOk ? 1 : 0);
    this.busPublishErrors.set(0, sources.bus.publishErrors);
    const push = sources.push;
    if (push) PUSH_RESULTS.forEach((r, i) => this.pushes.set(i, push.counters[r]));
  }

  private refreshBacklog(sources: MetricSources): Promise<void> {
    if (performance.now() - this.backlogAt < BACKLOG_REFRESH_MS) return Promise.resolve();
    // Concurrent scrapes share one count.
    this.backlogRunning ??= (async () => {
      try {
        const b = await sources.storage.backlogSize();
        this.backlogMessages.set(b.messages);
        this.backlogBytes.set(b.bytes);
        this.backlogAt = performance.now();
      } catch (err) {
        this.options.logger.warn({ event: 'metrics.backlog_failed', error: err instanceof Error ? err.message : String(err) }, 'could not count the backlog');
      } finally {
        this.backlogRunning = undefined;
      }
    })();
    return this.backlogRunning;
  }

  /** Forces the next scrape to count the backlog again (tests). */
  expireBacklog(): void {
    this.backlogAt = -Infinity;
  }
}
