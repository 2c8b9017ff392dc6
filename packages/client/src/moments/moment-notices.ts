import type { ClientCore } from '../core/context.js';
import { StoreBatch } from '../store/records.js';
import { NOTICE_PREFIX } from './moment-records.js';
import type { MomentRecords } from './moment-records.js';
import type { MomentNotice } from './moment-types.js';
import { noticeView } from './moment-views.js';

/** The newest notices listed (and counted for the badge). */
const NOTICES_SHOWN = 100;
/** Notices kept on the device (older ones go in the sweep). */
const NOTICES_KEPT = 500;

/**
 * Likes and comments on this user's posts and replies to this user's
 * comments (stored by the inbox as they arrive), and how far they were seen
 * on this device: the Moments badge and its notifications.
 */
export class MomentNotices {
  constructor(
    private readonly core: ClientCore,
    private readonly records: MomentRecords,
  ) {}

  async list(): Promise<MomentNotice[]> {
    this.core.session();
    const seenAt = await this.records.seenAt();
    return (await this.records.notices(NOTICES_SHOWN)).map((n) => noticeView(n, seenAt));
  }

  async unseenCount(): Promise<number> {
    return (await this.list()).filter((n) => !n.seen).length;
  }

  async markSeen(): Promise<void> {
    this.core.session();
    const [latest] = await this.records.notices(1);
    if (latest === undefined || latest.at <= (await this.records.seenAt())) return;
    const batch = new StoreBatch();
    this.records.putSeen(batch, latest.at);
    await this.core.repo.commit(batch);
    this.core.emit('moments', { kind: 'notices' });
  }

  /** Adds the removal of all but the newest NOTICES_KEPT notices to `batch`. */
  async prune(batch: StoreBatch): Promise<void> {
    const notices = await this.records.rows(NOTICE_PREFIX);
    for (const row of notices.slice(0, Math.max(0, notices.length - NOTICES_KEPT))) this.records.deleteKey(batch, row.key);
  }
}
