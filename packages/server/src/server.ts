import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { ParleyError, WS_CLOSE } from '@parley/protocol';
import type { AppContext } from './context.js';
import { peerKey, Router, runRoute, sendError } from './http/pipeline.js';
import { ROUTES } from './http/routes.js';
import { StaticSite } from './http/static.js';
import { runMaintenance } from './maintenance.js';
import { METRICS_PATH, startMetricsListener, type MetricsListener } from './metrics/metrics-listener.js';
import { Connection } from './ws/connection.js';
import { SocketCorker } from './ws/corker.js';
import { SocketRegistry } from './ws/socket-registry.js';

export const WS_PATH = '/v1/ws';

export interface ParleyServer {
  readonly port: number;
  readonly url: string;
  /** Stops accepting, closes sockets, flushes storage, releases everything. */
  close(): Promise<void>;
  /** Live WebSocket connections (for tests and metrics). */
  readonly connectionCount: number;
  /** The admin listener's `/metrics` URL when metrics are on (PARLEY_METRICS_ADDR), else undefined. */
  readonly metricsUrl: string | undefined;
}

/** Starts the HTTP + WebSocket server on the context's configured host and port. */
export async function startServer(ctx: AppContext): Promise<ParleyServer> {
  // A bad web directory fails before storage is touched.
  const site = ctx.config.webDir === undefined ? undefined : StaticSite.load(ctx.config.webDir);
  // The Web Push key pair: read from the data directory, or made there at the first start (a damaged file stops the start here).
  ctx.push.loadKeys();
  await ctx.storage.migrate();
  const router = new Router(ROUTES);
  const connections = new Set<Connection>();
  const corker = new SocketCorker();
  const sockets = new SocketRegistry<Connection>(ctx.config.maxSocketsPerAccount);
  let connectionNumber = 0;
  const metrics = ctx.metrics;
  metrics.watchConnections(() => connections.size);
  // Route templates only: a metric never names the path a client asked for.
  metrics.declareRoutes([...ROUTES.map((r) => `${r.method} ${r.path}`), ...['GET', 'HEAD'].map((m) => `${m} static`)]);

  const http: Server = createServer((req, res) => {
    // No response is ever content-sniffed into something else (API JSON, errors, blobs, the web app).
    res.setHeader('x-content-type-options', 'nosniff');
    const url = new URL(req.url ?? '/', 'http://parley.invalid');
    const match = router.match(req.method ?? 'GET', url.pathname);
    let template = match !== undefined && match !== 'method' ? match.route.path : 'other';
    if (metrics.enabled) res.once('close', () => metrics.httpRequest(req.method ?? 'GET', template, res.headersSent ? res.statusCode : undefined));
    // Metrics live on the admin listener only; here /metrics is not even the web app's fallback page.
    const metricsProbe = url.pathname === METRICS_PATH;
    if (match === undefined && !metricsProbe && site?.serve(req, res, url.pathname) === true) {
      template = 'static';
      return;
    }
    if (match === undefined || match === 'method') {
      req.resume();
      const limits = ctx.config.rateLimits;
      // Probing for routes is an unauthenticated request like any other: limited per client address.
      const limited = limits.enabled && !ctx.limiter.take(`public:${peerKey(ctx, req)}`, limits.httpPerMinute / 60, limits.httpPerMinute);
      const err = limited
        ? new ParleyError('rate_limited', 'too many requests, slow down')
        : match === 'method'
          ? new ParleyError('bad_request', 'method not allowed')
          : new ParleyError('not_found', 'no such route');
      sendError(ctx, res, err, 'unmatched');
      return;
    }
    void runRoute(ctx, match.route, match.params, req, res);
  });
  http.requestTimeout = 120_000;
  http.headersTimeout = 20_000;

  const wss = new WebSocketServer({ noServer: true, maxPayload: ctx.config.maxFrameBytes, perMessageDeflate: false });
  http.on('upgrade', (req: IncomingMessage, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://parley.invalid').pathname;
    if (path !== WS_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nx-content-type-options: nosniff\r\nconnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      metrics.connectionOpened();
      const c = new Connection(ctx, ws, ++connectionNumber, (closed) => connections.delete(closed), corker, sockets, peerKey(ctx, req));
      connections.add(c);
    });
  });

  // The admin listener first: a metrics address that cannot be bound stops the start before anything runs.
  let admin: MetricsListener | undefined;
  const metricsAddr = ctx.config.metricsAddr;
  if (metricsAddr !== undefined && metrics.enabled) {
    admin = await startMetricsListener(metrics, metricsAddr.host, metricsAddr.port, ctx.logger);
    ctx.logger.info({ event: 'metrics.listening', port: admin.port }, 'metrics are served on the admin listener');
  }

  const maintenance = setInterval(() => {
    runMaintenance(ctx).catch((err: unknown) => ctx.logger.error({ event: 'maintenance.failed', error: err instanceof Error ? err.message : String(err) }, 'maintenance failed'));
  }, ctx.config.maintenanceIntervalMs);
  maintenance.unref();
  ctx.trimmer.start((err: unknown) => ctx.logger.error({ event: 'trim.failed', error: err instanceof Error ? err.message : String(err) }, 'trim failed'));

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(ctx.config.port, ctx.config.host, () => {
      http.off('error', reject);
      resolve();
    });
  }).catch(async (err: unknown) => {
    await admin?.close();
    throw err;
  });
  const port = (http.address() as AddressInfo).port;
  ctx.logger.info(
    { event: 'server.started', port, storage: ctx.storage.kind, version: ctx.config.version, webApp: site === undefined ? 'off' : `${site.size} files`, ...(site === undefined ? {} : { webDir: ctx.config.webDir }) },
    site === undefined ? 'Parley is listening (API only: no web app to serve)' : 'Parley is listening and serving the web app',
  );

  let closing: Promise<void> | undefined;
  return {
    port,
    url: `http://${ctx.config.host}:${port}`,
    get connectionCount() {
      return connections.size;
    },
    metricsUrl: admin?.url,
    close() {
      closing ??= (async () => {
        clearInterval(maintenance);
        await admin?.close();
        for (const c of [...connections]) c.close(WS_CLOSE.goingAway, 'server shutting down');
        wss.close();
        await new Promise<void>((resolve) => {
          http.close(() => resolve());
          http.closeAllConnections();
        });
        await ctx.trimmer.stop().catch(() => 0);
        await ctx.push.close();
        await ctx.storage.close();
        await ctx.bus.close();
        ctx.logger.info({ event: 'server.stopped' }, 'Parley stopped');
      })();
      return closing;
    },
  };
}
