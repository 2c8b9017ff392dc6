import type { GroupId } from '@parley/protocol';
import type { Storage } from '../storage/storage.js';

/**
 * Deletes acknowledged messages. Acks only move cursors; the groups they
 * touched are trimmed together a moment later, so a busy group costs one trim
 * per interval instead of one per acknowledgement.
 */
export class Trimmer {
  private dirty = new Set<GroupId>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(
    private readonly storage: Storage,
    private readonly intervalMs: number,
  ) {}

  mark(groupId: GroupId): void {
    this.dirty.add(groupId);
  }

  start(onError: (err: unknown) => void): void {
    this.timer ??= setInterval(() => {
      this.flush().catch(onError);
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Trims every group marked since the last flush; returns messages deleted. */
  async flush(): Promise<number> {
    if (this.running) await this.running.catch(() => 0);
    if (this.dirty.size === 0) return 0;
    const groups = [...this.dirty];
    this.dirty = new Set();
    this.running = this.storage.trim(groups);
    try {
      return await this.running;
    } catch (err) {
      for (const g of groups) this.dirty.add(g);
      throw err;
    } finally {
      this.running = undefined;
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
