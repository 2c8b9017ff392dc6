import {
  encodeFrame,
  isMlsKeyPackage,
  ParleyError,
  toBase64Url,
  type ClaimKeyPackagesResponse,
  type DeviceId,
  type KeyPackageStock,
  type KeyPackageUpload,
  type UserId,
} from '@parley/protocol';
import type { AppContext } from '../context.js';
import { notifyDevicesChanged } from './accounts.js';

function stock(ctx: AppContext, c: { available: number; lastResort: boolean }): KeyPackageStock {
  const low = ctx.config.keyPackageLowWatermark;
  return { available: c.available, lastResort: c.lastResort, low: c.available < low, lowWatermark: low };
}

export async function uploadKeyPackages(ctx: AppContext, userId: UserId, deviceId: DeviceId, body: KeyPackageUpload): Promise<KeyPackageStock> {
  const now = ctx.clock.now();
  const all = body.lastResort ? [...body.keyPackages, body.lastResort] : body.keyPackages;
  for (const p of all) {
    if (!isMlsKeyPackage(p.data)) throw new ParleyError('bad_request', 'not an MLS KeyPackage');
    if (p.expiresAt <= now) throw new ParleyError('bad_request', 'key package already expired');
  }
  const before = await ctx.storage.countKeyPackages(deviceId, now);
  const count = await ctx.storage.addKeyPackages(deviceId, body.keyPackages, body.lastResort, ctx.config.maxKeyPackages, now);
  // A device's first stock means it can now be added to conversations: tell the user's other devices.
  if (before.available === 0 && !before.lastResort && (count.available > 0 || count.lastResort)) await notifyDevicesChanged(ctx, userId, deviceId);
  return stock(ctx, count);
}

export async function keyPackageStock(ctx: AppContext, deviceId: DeviceId): Promise<KeyPackageStock> {
  return stock(ctx, await ctx.storage.countKeyPackages(deviceId, ctx.clock.now()));
}

/** Claims one package per device and tells each device whose stock ran low, wherever it is connected. */
export async function claimKeyPackages(ctx: AppContext, deviceIds: readonly DeviceId[]): Promise<ClaimKeyPackagesResponse> {
  const now = ctx.clock.now();
  const claimed = await ctx.storage.claimKeyPackages(deviceIds, now);
  const got = new Set(claimed.map((c) => c.deviceId));
  for (const c of claimed) {
    const count = await ctx.storage.countKeyPackages(c.deviceId, now);
    if (count.available < ctx.config.keyPackageLowWatermark) {
      const frame = encodeFrame({ t: 'key_packages_low', available: count.available });
      await ctx.bus.publish([c.deviceId], { type: 'notice', frame });
    }
  }
  return {
    keyPackages: claimed.map((c) => ({ deviceId: c.deviceId, ciphersuite: c.ciphersuite, data: toBase64Url(c.data), lastResort: c.lastResort })),
    missing: deviceIds.filter((d) => !got.has(d)),
  };
}
