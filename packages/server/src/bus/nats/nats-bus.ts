import { connect, type NatsConnection, type Subscription as NatsSubscription } from '@nats-io/transport-node';
import type { DeviceId } from '@parley/protocol';
import type { Bus, BusHandler, Subscription } from '../bus.js';
import { decodeBusEvent, encodeBusEvent, type BusEvent } from '../events.js';

/** How long a presence probe waits for an answer (on a healthy cluster one round trip, well under this). */
const PRESENCE_TIMEOUT_MS = 500;

/**
 * Live fan-out across server processes over NATS, one subject per device
 * (`parley.device.<deviceId>`). A process subscribes to the subjects of the
 * devices connected to it; NATS routes by interest, so a publish reaches
 * exactly the processes holding that device and costs nothing where nobody
 * listens. No routing table to keep consistent, no JetStream: durability is the
 * database's job, and a device that misses a live push reads its backlog on
 * reconnect.
 */
export class NatsBus implements Bus {
  readonly kind = 'nats' as const;
  private healthy = true;
  publishErrors = 0;

  private constructor(private readonly nc: NatsConnection) {
    void this.watch();
  }

  static async connect(url: string, name = 'parley'): Promise<NatsBus> {
    const u = new URL(url);
    const nc = await connect({
      servers: `${u.hostname}:${u.port || '4222'}`,
      name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      ...(u.username ? { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } : {}),
    });
    return new NatsBus(nc);
  }

  private async watch(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect' || s.type === 'error' || s.type === 'staleConnection') this.healthy = false;
      if (s.type === 'reconnect') this.healthy = true;
    }
  }

  private subject(deviceId: DeviceId): string {
    return `parley.device.${deviceId}`;
  }

  async publish(deviceIds: readonly DeviceId[], event: BusEvent): Promise<void> {
    try {
      const data = encodeBusEvent(event);
      for (const id of deviceIds) this.nc.publish(this.subject(id), data);
    } catch (err) {
      this.publishErrors++;
      throw err;
    }
  }

  async subscribe(deviceId: DeviceId, handler: BusHandler): Promise<Subscription> {
    const sub: NatsSubscription = this.nc.subscribe(this.subject(deviceId), {
      callback: (err, msg) => {
        if (err) return;
        // A presence probe (a request, see connected()): answering it is all there is to do.
        if (msg.reply) {
          msg.respond();
          return;
        }
        // Anything on our subjects that does not decode is not ours to act on.
        const d = msg.data;
        const event = decodeBusEvent(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
        if (!event) return;
        try {
          handler(event);
        } catch {
          /* the listener owns its errors */
        }
      },
    });
    return {
      unsubscribe: async () => {
        if (!sub.isClosed()) sub.unsubscribe();
      },
    };
  }

  /**
   * A NATS request on the device's subject: a process listening for the
   * device answers it; with no listener NATS answers "no responders" at once
   * (no state to keep consistent, nothing stale after a crash). A timeout or a
   * lost connection counts as not connected.
   */
  async connected(deviceId: DeviceId): Promise<boolean> {
    try {
      await this.nc.request(this.subject(deviceId), undefined, { timeout: PRESENCE_TIMEOUT_MS });
      return true;
    } catch {
      return false;
    }
  }

  async health(): Promise<boolean> {
    if (this.nc.isClosed() || !this.healthy) return false;
    try {
      await this.nc.flush();
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.drain();
  }
}
