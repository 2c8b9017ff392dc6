/**
 * What this connection's device sent and has not acknowledged yet, per group
 * (in memory only, never stored: the log keeps no sender).
 *
 * A device does not receive its own messages, so it never acknowledges them by
 * reading them. When it sent while still behind (a message arrived just
 * before its own), its cursor stays below its own message, which is then
 * kept although every recipient read it. Its acknowledgements are cumulative
 * ("I have everything up to seq"), and a device has what it sent: so an
 * acknowledgement up to `seq` is extended over the device's own messages that
 * follow `seq` without a gap. No traffic is needed beyond the acknowledgement
 * the device sends anyway for the message it was behind on.
 */
export class OwnSends {
  private readonly sent = new Map<string, Set<number>>();

  /** Seqs kept per group at most (a device sending without ever acknowledging keeps no more). */
  static readonly MAX_PER_GROUP = 1024;

  /** The device's message (or commit) was stored at `seq`. */
  record(group: string, seq: number): void {
    let set = this.sent.get(group);
    if (!set) this.sent.set(group, (set = new Set()));
    if (set.size >= OwnSends.MAX_PER_GROUP) {
      const oldest = Math.min(...set);
      set.delete(oldest);
    }
    set.add(seq);
  }

  /**
   * The device acknowledges everything up to `seq`: returns how far that
   * reaches over its own messages right after it, and forgets those.
   */
  extend(group: string, seq: number): number {
    const set = this.sent.get(group);
    if (!set) return seq;
    let upTo = seq;
    while (set.has(upTo + 1)) upTo++;
    for (const s of set) if (s <= upTo) set.delete(s);
    if (set.size === 0) this.sent.delete(group);
    return upTo;
  }

  /** The device left the group: nothing to extend any more. */
  forget(group: string): void {
    this.sent.delete(group);
  }
}
