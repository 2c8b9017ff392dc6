/**
 * Keeps live deliveries to one connection in sequence order per group.
 *
 * In a cluster, messages of one group are published by whichever process
 * stored them, so they can reach a device's process out of order. This tracks,
 * per group, the highest seq the device has been given (or sent, or
 * acknowledged) with nothing missing below it; a later message waits until the
 * gap is filled — live, from the device's own sends, or by the connection
 * reading the gap from storage.
 */
/** A message waiting for an earlier one; `storedAt` is kept for the delivery-latency metric. */
interface Held {
  frame: Uint8Array;
  storedAt: number | undefined;
}

export class GroupOrder {
  private readonly last = new Map<string, number>();
  private readonly held = new Map<string, Map<number, Held>>();
  private readonly own = new Map<string, Set<number>>();

  /** `deliver` gets each frame in order, with the time it was stored when the offer said. */
  constructor(private readonly deliver: (frame: Uint8Array, storedAt: number | undefined) => void) {}

  position(group: string): number | undefined {
    return this.last.get(group);
  }

  /** Everything up to `seq` is already with the device (backlog replay, or its cursor). */
  mark(group: string, seq: number): void {
    if (seq > (this.last.get(group) ?? -1)) this.last.set(group, seq);
    this.flush(group);
  }

  /** The device itself sent `seq`: it needs no copy, and it closes a gap. */
  sentByDevice(group: string, seq: number): void {
    const l = this.last.get(group);
    if (l !== undefined && seq <= l) return;
    if (l !== undefined && seq === l + 1) {
      this.last.set(group, seq);
      this.flush(group);
      return;
    }
    let set = this.own.get(group);
    if (!set) this.own.set(group, (set = new Set()));
    set.add(seq);
  }

  /** Offers a message; returns 'held' when an earlier one is still missing. */
  offer(group: string, seq: number, frame: Uint8Array, storedAt?: number): 'sent' | 'duplicate' | 'held' {
    const l = this.last.get(group);
    if (l !== undefined && seq <= l) return 'duplicate';
    if (this.own.get(group)?.has(seq)) {
      // The device's own message (read back from storage): it has it already.
      if (l !== undefined && seq === l + 1) this.mark(group, seq);
      return 'duplicate';
    }
    // A group this connection knows nothing about yet (joined while connected):
    // where it starts must come from storage, not from whichever copy arrives first.
    if (l !== undefined && seq === l + 1) {
      this.deliver(frame, storedAt);
      this.last.set(group, seq);
      this.flush(group);
      return 'sent';
    }
    let h = this.held.get(group);
    if (!h) this.held.set(group, (h = new Map()));
    h.set(seq, { frame, storedAt });
    return 'held';
  }

  hasGap(group: string): boolean {
    return (this.held.get(group)?.size ?? 0) > 0;
  }

  /** Gives up waiting: delivers what is held, in order, skipping what never came. */
  release(group: string): void {
    const h = this.held.get(group);
    if (!h || h.size === 0) return;
    const first = Math.min(...h.keys());
    this.last.set(group, first - 1);
    this.flush(group);
  }

  private flush(group: string): void {
    const h = this.held.get(group);
    const o = this.own.get(group);
    let l = this.last.get(group);
    if (l === undefined) return;
    for (;;) {
      const next: number = l + 1;
      const waiting = h?.get(next);
      if (waiting) {
        h?.delete(next);
        this.deliver(waiting.frame, waiting.storedAt);
      } else if (o?.has(next)) {
        o.delete(next);
      } else {
        break;
      }
      l = next;
    }
    this.last.set(group, l);
    // Anything held at or below the position is a duplicate now.
    if (h) for (const seq of h.keys()) if (seq <= l) h.delete(seq);
    if (h && h.size === 0) this.held.delete(group);
    if (o) for (const seq of o) if (seq <= l) o.delete(seq);
  }
}
