import type { GroupId } from '@parley/protocol';

/**
 * Cumulative acknowledgements, batched: per group the highest stored seq,
 * sent after `delayMs` or once `every` messages piled up, or taken to ride
 * on the next message this device sends in that group.
 */
export class AckBatcher {
  private readonly pending = new Map<GroupId, { seq: number; count: number }>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly send: (group: GroupId, seq: number) => void,
    private readonly delayMs: number,
    private readonly every = 100,
  ) {}

  schedule(group: GroupId, seq: number): void {
    const current = this.pending.get(group);
    const count = (current?.count ?? 0) + 1;
    this.pending.set(group, { seq: Math.max(seq, current?.seq ?? 0), count });
    if (count >= this.every) {
      this.flush();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.delayMs);
  }

  /** Takes the group's pending acknowledgement so it can ride on an outgoing message. */
  take(group: GroupId): number | undefined {
    const pending = this.pending.get(group);
    if (pending === undefined) return undefined;
    this.pending.delete(group);
    if (this.pending.size === 0) this.clearTimer();
    return pending.seq;
  }

  flush(): void {
    this.clearTimer();
    for (const [group, { seq }] of this.pending) this.send(group, seq);
    this.pending.clear();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
