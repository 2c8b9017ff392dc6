import type { GroupId, UserId } from '@parley/protocol';
import { StorageError, type QueueQuota } from '../storage.js';
import type { SqliteCore } from './core.js';
import { plainNum } from './rows.js';

/**
 * Per-account accounting of undelivered group bytes (see QueueQuota).
 *
 * `mls_groups.queued_bytes` is what a group's log and Welcomes hold; it grows
 * with every append and shrinks with every deletion. A user's charge in a
 * group grows with what the user appends, and when the group loses bytes every
 * charge in it is scaled by remaining / previous (rounded down): the log keeps
 * no sender, so no message can be traced back to whoever was charged for it.
 */

/** Charges `bytes` to the user in the group, or throws quota_exceeded (the caller's write is then undone). */
export function chargeQueue(core: SqliteCore, quota: QueueQuota | undefined, groupId: GroupId, bytes: number): void {
  if (!quota) return;
  let held = core.queueTotals.get(quota.userId);
  if (held === undefined) {
    if (core.queueTotals.size >= 100_000) core.queueTotals.clear();
    held = queuedBytes(core, quota.userId);
  }
  if (held + bytes > quota.maxBytes) {
    throw new StorageError('quota_exceeded', 'too many undelivered bytes queued by this account', { quota: 'queued_bytes' });
  }
  core
    .q('INSERT INTO queue_charges (user_id, group_id, bytes) VALUES (?, ?, ?) ON CONFLICT (user_id, group_id) DO UPDATE SET bytes = bytes + excluded.bytes')
    .run(quota.userId, groupId, bytes);
  core.queueTotals.set(quota.userId, held + bytes);
}

/** The group lost `removed` stored bytes: scale its charges down, clearing them when it holds nothing. */
export function releaseQueue(core: SqliteCore, groupId: GroupId, removed: number): void {
  if (removed <= 0) return;
  const remaining = core.pluck('UPDATE mls_groups SET queued_bytes = MAX(queued_bytes - ?, 0) WHERE id = ? RETURNING queued_bytes').get(removed, groupId);
  if (remaining === undefined) return;
  const left = plainNum(remaining);
  const users =
    left === 0
      ? core.pluck('DELETE FROM queue_charges WHERE group_id = ? RETURNING user_id').all(groupId)
      : // Numbers are bound as REAL: the product is exact enough, and CAST rounds down.
        core.pluck('UPDATE queue_charges SET bytes = CAST(bytes * ? AS INTEGER) WHERE group_id = ? RETURNING user_id').all(left / (left + removed), groupId);
  for (const u of users) core.queueTotals.delete(u as UserId);
}

export function queuedBytes(core: SqliteCore, userId: UserId): number {
  return plainNum(core.pluck('SELECT COALESCE(SUM(bytes), 0) FROM queue_charges WHERE user_id = ?').get(userId));
}
