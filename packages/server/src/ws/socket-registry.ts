import type { UserId } from '@parley/protocol';

/**
 * Live authenticated sockets per account, in this process only: the cap
 * keeps one account from holding unbounded connections (and the memory and
 * bus subscriptions behind them). In a cluster of N processes an account can
 * hold up to N times the cap; the count lives in memory and is never stored.
 */
export class SocketRegistry<T> {
  private readonly byUser = new Map<UserId, Set<T>>();

  constructor(private readonly maxPerAccount: number) {}

  /** Registers a socket for the account; false (and nothing registered) when the account is at its cap. */
  tryAdd(userId: UserId, socket: T): boolean {
    let set = this.byUser.get(userId);
    if (!set) {
      set = new Set();
      this.byUser.set(userId, set);
    }
    if (set.has(socket)) return true;
    if (set.size >= this.maxPerAccount) return false;
    set.add(socket);
    return true;
  }

  remove(userId: UserId, socket: T): void {
    const set = this.byUser.get(userId);
    if (!set) return;
    set.delete(socket);
    if (set.size === 0) this.byUser.delete(userId);
  }

  count(userId: UserId): number {
    return this.byUser.get(userId)?.size ?? 0;
  }
}
