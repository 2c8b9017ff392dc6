import type { AppContext } from './context.js';
import { collectBlobs } from './services/blobs.js';
import { retentionLeadSeconds } from './services/delivery.js';
import type { SweepResult } from './storage/storage.js';

/**
 * One pass of housekeeping: per-group retention (disappearing messages), retention sweep (expired messages, Welcomes,
 * sessions, KeyPackages, sign-in challenges, and pending devices whose link
 * expired), blob garbage collection, and coarsening blob file times.
 */
export async function runMaintenance(ctx: AppContext): Promise<SweepResult & { trimmed: number; blobs: number }> {
  const trimmed = await ctx.trimmer.flush();
  const now = ctx.clock.now();
  // Groups with a retention (disappearing messages): their messages' expiry comes first, then the sweep deletes what expired.
  await ctx.storage.enforceRetention(now, retentionLeadSeconds(ctx));
  const swept = await ctx.storage.sweep(now);
  const blobs = await collectBlobs(ctx);
  // After collection: a deletion's folder change is stamped at once and coarsened an hour later.
  await ctx.blobs.restampTimes?.();
  if (Object.values(swept).some((n) => n > 0) || blobs > 0) {
    ctx.logger.info({ event: 'maintenance', ...swept, blobs }, 'housekeeping');
  }
  return { trimmed, ...swept, blobs };
}
