import type { AppContext } from './context.js';
import { collectBlobs } from './services/blobs.js';
import type { SweepResult } from './storage/storage.js';

/**
 * One pass of housekeeping: retention sweep (expired messages, Welcomes,
 * sessions, KeyPackages, sign-in challenges, and pending devices whose link
 * expired) and blob garbage collection.
 */
export async function runMaintenance(ctx: AppContext): Promise<SweepResult & { trimmed: number; blobs: number }> {
  const trimmed = await ctx.trimmer.flush();
  const swept = await ctx.storage.sweep(ctx.clock.now());
  const blobs = await collectBlobs(ctx);
  if (Object.values(swept).some((n) => n > 0) || blobs > 0) {
    ctx.logger.info({ event: 'maintenance', ...swept, blobs }, 'housekeeping');
  }
  return { trimmed, ...swept, blobs };
}
