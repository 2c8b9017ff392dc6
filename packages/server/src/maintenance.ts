import type { AppContext } from './context.js';
import { collectBlobs } from './services/blobs.js';

/** One pass of housekeeping: retention sweep and blob garbage collection. */
export async function runMaintenance(ctx: AppContext): Promise<{ messages: number; sessions: number; keyPackages: number; blobs: number }> {
  const swept = await ctx.storage.sweep(ctx.clock.now());
  const blobs = await collectBlobs(ctx);
  if (swept.messages + swept.sessions + swept.keyPackages + blobs > 0) {
    ctx.logger.info({ event: 'maintenance', ...swept, blobs }, 'housekeeping');
  }
  return { ...swept, blobs };
}
