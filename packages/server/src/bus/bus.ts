import type { DeviceId } from '@parley/protocol';

/**
 * Live fan-out between connections, keyed by device. The in-process adapter
 * serves one server process; a NATS adapter (one subject per device) serves a
 * cluster. Delivery over the bus is best-effort: durability comes from the
 * mailbox in storage, which a device reads again whenever it reconnects.
 */
export type BusHandler = (data: Uint8Array) => void;

export interface Subscription {
  unsubscribe(): Promise<void>;
}

export interface Bus {
  /** Publishes the same bytes to every listed device. */
  publish(deviceIds: readonly DeviceId[], data: Uint8Array): Promise<void>;
  subscribe(deviceId: DeviceId, handler: BusHandler): Promise<Subscription>;
  health(): Promise<boolean>;
  close(): Promise<void>;
}
