import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import webpush from 'web-push';
import { PUSH_WAKE_PAYLOAD, type DeviceId } from '@parley/protocol';
import type { Logger } from '../logger.js';
import type { PushSubscriptionRecord } from '../storage/storage.js';
import { isPublicAddress, NonPublicAddressError, publicOnlyLookup } from '../net/public-address.js';
import type { VapidKeys } from './vapid.js';

export interface PushNotifierOptions {
  /** Reads (or makes) the VAPID keys; called once, at the server's start or the first use. */
  vapid: () => VapidKeys;
  /** VAPID `sub` claim: how the push service reaches the operator (mailto: or https:). */
  subject: string;
  /** At most one push per device per this many ms (a trailing one covers what came meanwhile). */
  coalesceMs: number;
  /** Pushes in flight at once; more wait in a bounded queue. */
  concurrency: number;
  /** Devices waiting for a send slot; past it a wake-up is dropped (the next message brings another). */
  maxQueued: number;
  /** Per push request. */
  timeoutMs: number;
  /** Seconds the push service keeps an undelivered push (TTL header). */
  ttlSeconds: number;
  /** Reads a device's subscription; deletes one its push service calls gone (only while it is that endpoint). */
  subscriptions: (deviceIds: readonly DeviceId[]) => Promise<PushSubscriptionRecord[]>;
  forget: (deviceId: DeviceId, endpoint: string) => Promise<boolean>;
  /** Whether the device is connected to any process of the cluster (the bus knows): then it needs no wake-up. */
  connectedAnywhere?: (deviceId: DeviceId) => Promise<boolean>;
  logger: Logger;
  /** Tests only: also push to http://127.0.0.1 (a local stand-in for a push service). */
  allowLocalHttp: boolean;
}

export interface PushCounters {
  /** Pushes the push services accepted (2xx). */
  sent: number;
  /** Subscriptions deleted because their push service said 404/410. */
  gone: number;
  /** Requests that failed otherwise (other status, timeout, network). */
  failed: number;
  /** Wake-ups dropped because the queue was full. */
  dropped: number;
  /** Wake-ups not sent because the device turned out connected to another process (cluster). */
  live: number;
}

interface DeviceState {
  /** performance.now() of the last push started (or attempted) for the device. */
  last: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Web Push wake-ups (RFC 8030) for devices that are not connected to this
 * process when a message is stored for them. Each carries the same constant
 * payload (PUSH_WAKE_PAYLOAD), encrypted to the subscription (RFC 8291) and
 * signed with the server's VAPID key (RFC 8292) by the `web-push` library; it
 * names no message, sender, group or count. Sends never block delivery: they
 * run after the message is stored and acknowledged, with bounded
 * concurrency, a bounded queue and a timeout, and failures are only counted
 * and logged (without endpoint, keys or device).
 */
export class PushNotifier {
  readonly counters: PushCounters = { sent: 0, gone: 0, failed: 0, dropped: 0, live: 0 };
  private readonly connected = new Map<DeviceId, number>();
  private readonly devices = new Map<DeviceId, DeviceState>();
  private readonly queue: DeviceId[] = [];
  private readonly queued = new Set<DeviceId>();
  private inFlight = 0;
  /** Trailing pushes scheduled. */
  private timers = 0;
  private closed = false;
  private readonly idle: Array<() => void> = [];

  private keys: VapidKeys | undefined;

  constructor(private readonly o: PushNotifierOptions) {}

  /** Loads (or makes) the VAPID keys now: the server calls it at start, so an unreadable key file stops it there. */
  loadKeys(): VapidKeys {
    this.keys ??= this.o.vapid();
    return this.keys;
  }

  private get vapid(): VapidKeys {
    return this.loadKeys();
  }

  get publicKey(): string {
    return this.vapid.publicKey;
  }

  /** A live connection of the device on this process (counted: a device may hold several). */
  deviceConnected(deviceId: DeviceId): void {
    this.connected.set(deviceId, (this.connected.get(deviceId) ?? 0) + 1);
  }

  deviceDisconnected(deviceId: DeviceId): void {
    const n = (this.connected.get(deviceId) ?? 0) - 1;
    if (n > 0) this.connected.set(deviceId, n);
    else this.connected.delete(deviceId);
  }

  /** Messages were stored for these devices: wake those not connected here, at most once per device per coalescing window. */
  notify(deviceIds: readonly DeviceId[]): void {
    if (this.closed) return;
    const now = performance.now();
    for (const d of deviceIds) {
      if (this.connected.has(d)) continue;
      const s = this.devices.get(d);
      if (s === undefined || now - s.last >= this.o.coalesceMs) {
        this.devices.set(d, { last: now, timer: s?.timer });
        this.enqueue(d);
      } else if (s.timer === undefined) {
        // One trailing push at the end of the window covers every message that came meanwhile.
        this.timers++;
        s.timer = setTimeout(() => {
          s.timer = undefined;
          this.timers--;
          if (!this.closed && !this.connected.has(d)) {
            s.last = performance.now();
            this.enqueue(d);
          }
          this.checkIdle();
        }, s.last + this.o.coalesceMs - now);
        s.timer.unref();
      }
    }
    this.prune(now);
  }

  /** Resolves once no push is scheduled, queued or in flight (tests, benchmarks, shutdown). */
  settled(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private isIdle(): boolean {
    return this.inFlight === 0 && this.queue.length === 0 && this.timers === 0;
  }

  private checkIdle(): void {
    if (this.isIdle()) for (const r of this.idle.splice(0)) r();
  }

  /** Stops scheduling; waits for the pushes in flight (each bounded by the timeout). */
  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.devices.values()) {
      if (s.timer !== undefined) this.timers--;
      clearTimeout(s.timer);
      s.timer = undefined;
    }
    this.queue.length = 0;
    this.queued.clear();
    await this.settled();
  }

  private enqueue(d: DeviceId): void {
    if (this.queued.has(d)) return;
    if (this.queue.length >= this.o.maxQueued) {
      this.counters.dropped++;
      return;
    }
    this.queue.push(d);
    this.queued.add(d);
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < this.o.concurrency && this.queue.length > 0) {
      const d = this.queue.shift() as DeviceId;
      this.queued.delete(d);
      this.inFlight++;
      void this.send(d).finally(() => {
        this.inFlight--;
        this.pump();
        this.checkIdle();
      });
    }
  }

  private async send(d: DeviceId): Promise<void> {
    try {
      const [sub] = await this.o.subscriptions([d]);
      if (!sub) return;
      // Connected to another process of a cluster: it gets the message live, a wake-up would only cost.
      if (this.o.connectedAnywhere !== undefined && (await this.o.connectedAnywhere(d))) {
        this.counters.live++;
        return;
      }
      const req = webpush.generateRequestDetails({ endpoint: sub.endpoint, keys: { p256dh: sub.p256dh, auth: sub.auth } }, PUSH_WAKE_PAYLOAD, {
        vapidDetails: { subject: this.o.subject, publicKey: this.vapid.publicKey, privateKey: this.vapid.privateKey },
        TTL: this.o.ttlSeconds,
        urgency: 'high',
        // One topic for every push: a push service still holding an undelivered wake-up replaces it (RFC 8030 §5.4).
        topic: 'wake',
        contentEncoding: 'aes128gcm',
      });
      const res = await postPush(req, { timeoutMs: this.o.timeoutMs, allowLocalHttp: this.o.allowLocalHttp });
      if (res.ok) {
        this.counters.sent++;
      } else if (res.status === 404 || res.status === 410) {
        // The subscription is gone (unsubscribed, expired): no more pushes to it.
        if (await this.o.forget(d, sub.endpoint)) this.counters.gone++;
      } else {
        this.counters.failed++;
        this.o.logger.warn({ event: 'push.refused', status: res.status }, 'a push service refused a push');
      }
    } catch (err) {
      this.counters.failed++;
      const kind = err instanceof NonPublicAddressError ? 'non_public_address' : err instanceof Error ? err.name : 'unknown';
      this.o.logger.warn({ event: 'push.failed', error: kind }, 'a push could not be sent');
    }
  }

  /** Forgets devices whose window ended with nothing pending, so the map holds only recent ones. */
  private prune(now: number): void {
    if (this.devices.size < 4096) return;
    for (const [d, s] of this.devices) if (s.timer === undefined && now - s.last >= this.o.coalesceMs) this.devices.delete(d);
  }
}

/**
 * POSTs one push. The endpoint was checked when it was stored (an https URL of
 * a named host); here the connection itself is refused unless the name
 * resolves only to public addresses, so a subscription cannot aim the server
 * at its own network, now or after a DNS change. No redirect is followed; the
 * answer's body is not read.
 */
async function postPush(req: { endpoint: string; method: string; headers: object; body?: Buffer | null }, o: { timeoutMs: number; allowLocalHttp: boolean }): Promise<{ ok: boolean; status: number }> {
  const url = new URL(req.endpoint);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const local = o.allowLocalHttp && url.protocol === 'http:' && host === '127.0.0.1';
  if (!local && (url.protocol !== 'https:' || (isIP(host) !== 0 && !isPublicAddress(host)))) throw new NonPublicAddressError();
  const send = local ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const options = { method: req.method, headers: req.headers as OutgoingHttpHeaders, signal: AbortSignal.timeout(o.timeoutMs), ...(local ? {} : { lookup: publicOnlyLookup }) };
    const r = send(url, options, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      resolve({ ok: status >= 200 && status < 300, status });
    });
    r.once('error', reject);
    r.end(req.body ?? undefined);
  });
}
