import type { AppContext } from './context.js';
import { collectBlobs } from './services/blobs.js';

/** One pass of housekeeping: retention sweep and blob garbage collection. */
export async function runMaintenance(ctx: AppContext): Promise<{ trimmed: number; messages: number; welcomes: number; sessions: number; keyPackages: number; blobs: number }> {
  const trimmed = await ctx.trimmer.flush();
  const swept = await ctx.storage.sweep(ctx.clock.now());
  const blobs = await collectBlobs(ctx);
  if (swept.messages + swept.welcomes + swept.sessions + swept.keyPackages + blobs > 0) {
    ctx.logger.info({ event: 'maintenance', ...swept, blobs }, 'housekeeping');
  }
  return { trimmed, ...swept, blobs };
}
