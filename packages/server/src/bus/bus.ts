import type { DeviceId } from '@parley/protocol';
import type { BusEvent } from './events.js';

/**
 * Live fan-out between connections, keyed by device. The in-process adapter
 * serves one server process; a NATS adapter (one subject per device) serves a
 * cluster. Delivery over the bus is best-effort: durability comes from the
 * mailbox in storage, which a device reads again whenever it reconnects.
 */
export type BusHandler = (event: BusEvent) => void;

export interface Subscription {
  unsubscribe(): Promise<void>;
}

export interface Bus {
  readonly kind: 'memory' | 'nats';
  /**
   * Publishes one event to every listed device. An adapter that crosses
   * processes serialises it with `encodeBusEvent`/`decodeBusEvent`; the
   * in-process one hands the same object to every listener.
   */
  publish(deviceIds: readonly DeviceId[], event: BusEvent): Promise<void>;
  subscribe(deviceId: DeviceId, handler: BusHandler): Promise<Subscription>;
  /**
   * Whether some process (this one included) holds a live listener for the
   * device right now: a device connected to another process of a cluster
   * needs no Web Push wake-up. Best effort and bounded in time; when it cannot
   * tell, false (a spurious wake-up is harmless, a missing one is not).
   */
  connected(deviceId: DeviceId): Promise<boolean>;
  health(): Promise<boolean>;
  /** Publishes that failed since start (for metrics); the in-process bus never fails. */
  readonly publishErrors: number;
  close(): Promise<void>;
}
