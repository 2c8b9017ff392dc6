import type { DeviceId } from '@parley/protocol';
import type { Bus, BusHandler, Subscription } from '../bus.js';
import type { BusEvent } from '../events.js';

/** In-process bus: the default for a single server process. */
export class MemoryBus implements Bus {
  readonly kind = 'memory' as const;
  readonly publishErrors = 0;
  private readonly handlers = new Map<DeviceId, Set<BusHandler>>();

  async publish(deviceIds: readonly DeviceId[], event: BusEvent): Promise<void> {
    for (const id of deviceIds) {
      const set = this.handlers.get(id);
      if (!set) continue;
      for (const h of set) {
        // One failing listener must not keep the others from their message.
        try {
          h(event);
        } catch {
          /* the listener owns its errors */
        }
      }
    }
  }

  async subscribe(deviceId: DeviceId, handler: BusHandler): Promise<Subscription> {
    let set = this.handlers.get(deviceId);
    if (!set) {
      set = new Set();
      this.handlers.set(deviceId, set);
    }
    set.add(handler);
    return {
      unsubscribe: async () => {
        const current = this.handlers.get(deviceId);
        if (!current) return;
        current.delete(handler);
        if (current.size === 0) this.handlers.delete(deviceId);
      },
    };
  }

  async connected(deviceId: DeviceId): Promise<boolean> {
    return this.handlers.has(deviceId);
  }

  async health(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }

  /** Number of devices with a live listener (for tests and metrics). */
  get listenerCount(): number {
    return this.handlers.size;
  }
}
