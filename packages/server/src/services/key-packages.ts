import {
  encodeFrame,
  KeyPackageError,
  mlsSignContent,
  ParleyError,
  readKeyPackage,
  toBase64Url,
  type ClaimKeyPackagesResponse,
  type DeviceId,
  type KeyPackageStock,
  type KeyPackageUpload,
  type UserId,
} from '@parley/protocol';
import { ED25519_CIPHERSUITES, verifyEd25519 } from '../auth/signatures.js';
import type { AppContext } from '../context.js';
import type { DeviceRecord } from '../storage/storage.js';
import { notifyOwnDevicesChanged } from './devices.js';

/**
 * The KeyPackage directory. An upload binds each package to the uploading
 * device: the server reads the public KeyPackage structure and refuses the
 * whole upload unless every leaf names exactly this device, carries its
 * registered signature key and is signed by it. Claims are limited per
 * claimer, per target device, and for the (reusable) last-resort package.
 */

function stock(ctx: AppContext, c: { available: number; lastResort: boolean }): KeyPackageStock {
  const low = ctx.config.keyPackageLowWatermark;
  return { available: c.available, lastResort: c.lastResort, low: c.available < low, lowWatermark: low };
}

const encoder = new TextEncoder();

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function mismatch(message: string): ParleyError {
  return new ParleyError('key_package_mismatch', message);
}

/** Throws key_package_mismatch (or bad_request for what is not a KeyPackage at all) unless the package is this device's. */
function checkKeyPackage(device: DeviceRecord, p: { ciphersuite: number; expiresAt: number; data: Uint8Array }, now: number): void {
  let kp;
  try {
    kp = readKeyPackage(p.data);
  } catch (err) {
    if (err instanceof KeyPackageError) throw new ParleyError('bad_request', `not an MLS KeyPackage: ${err.message}`, { cause: err });
    throw err;
  }
  if (p.expiresAt <= now) throw new ParleyError('bad_request', 'key package already expired');
  if (kp.cipherSuite !== p.ciphersuite) throw mismatch('the KeyPackage’s ciphersuite is not the declared one');
  if (!ED25519_CIPHERSUITES.has(kp.cipherSuite)) throw mismatch(`ciphersuite ${kp.cipherSuite} is not accepted`);
  const credential = kp.leafNode.credential;
  const expected = encoder.encode(`parley1:${device.userId}:${device.id}`);
  if (credential.type !== 'basic' || !equalBytes(credential.identity, expected)) throw mismatch('the KeyPackage’s credential does not name the uploading device');
  if (!equalBytes(kp.leafNode.signatureKey, device.signatureKey)) throw mismatch('the KeyPackage’s signature key is not the device’s registered key');
  if (BigInt(p.expiresAt) > kp.leafNode.lifetime.notAfter) throw mismatch('expiresAt is past the KeyPackage’s lifetime');
  if (
    !verifyEd25519(device.signatureKey, mlsSignContent('LeafNodeTBS', kp.leafNodeTbs), kp.leafNode.signature) ||
    !verifyEd25519(device.signatureKey, mlsSignContent('KeyPackageTBS', kp.tbs), kp.signature)
  ) {
    throw mismatch('the KeyPackage is not signed by the device’s key');
  }
}

export async function uploadKeyPackages(ctx: AppContext, userId: UserId, deviceId: DeviceId, body: KeyPackageUpload): Promise<KeyPackageStock> {
  const now = ctx.clock.now();
  const device = await ctx.storage.getDevice(deviceId);
  if (!device || device.userId !== userId || device.status !== 'active') throw new ParleyError('unauthenticated', 'session unknown, expired or revoked');
  const all = body.lastResort ? [...body.keyPackages, body.lastResort] : body.keyPackages;
  // Every package is checked before anything is stored: one bad package refuses the upload.
  for (const p of all) checkKeyPackage(device, p, now);
  const before = await ctx.storage.countKeyPackages(deviceId, now);
  const count = await ctx.storage.addKeyPackages(deviceId, body.keyPackages, body.lastResort, ctx.config.maxKeyPackages, now);
  // A device's first stock means it can now be added to conversations: tell the user's other devices.
  if (before.available === 0 && !before.lastResort && (count.available > 0 || count.lastResort)) await notifyOwnDevicesChanged(ctx, userId, deviceId);
  return stock(ctx, count);
}

export async function keyPackageStock(ctx: AppContext, deviceId: DeviceId): Promise<KeyPackageStock> {
  return stock(ctx, await ctx.storage.countKeyPackages(deviceId, ctx.clock.now()));
}

/**
 * Claims one package per device, within the limits (a device over its
 * per-target limit is listed in `missing`; a claimer over its own gets
 * rate_limited), and tells each device whose stock ran low, wherever it is
 * connected.
 */
export async function claimKeyPackages(ctx: AppContext, claimer: UserId, deviceIds: readonly DeviceId[]): Promise<ClaimKeyPackagesResponse> {
  const now = ctx.clock.now();
  const limits = ctx.config.rateLimits;
  let allowed = deviceIds;
  let lastResortAllowed: Set<DeviceId> | undefined;
  let own = new Set<DeviceId>();
  const lastResortKey = (d: DeviceId) => `claim-last-resort:${d}`;
  const lastResortRate = limits.lastResortPerDevicePerMinute / 60;
  const perTarget = limits.claimsPerDevicePerMinute;
  const targetKey = (d: DeviceId) => `claim-target:${d}`;
  if (limits.enabled) {
    const perClaimer = limits.claimDevicesPer10Minutes;
    if (!ctx.limiter.takeN(`claim:${claimer}`, deviceIds.length, perClaimer / 600, perClaimer)) {
      throw new ParleyError('rate_limited', 'too many KeyPackage claims from this account, slow down');
    }
    // The user's own devices (adding a newly approved device to every conversation) are not limited per target.
    own = new Set((await ctx.storage.listDevices(claimer)).map((d) => d.id));
    allowed = deviceIds.filter((d) => own.has(d) || ctx.limiter.take(targetKey(d), perTarget / 60, perTarget));
    // A last-resort hand-out is reserved up front (claims run concurrently) and given back when unused.
    lastResortAllowed = new Set(allowed.filter((d) => own.has(d) || ctx.limiter.take(lastResortKey(d), lastResortRate, limits.lastResortPerDevicePerMinute)));
  }
  const claimed = allowed.length === 0 ? [] : await ctx.storage.claimKeyPackages(allowed, now, lastResortAllowed ? { lastResortAllowed } : {});
  if (lastResortAllowed) {
    // What was not handed out does not count: a device with an empty stock is not drained of its allowance.
    const handed = new Map(claimed.map((c) => [c.deviceId, c.lastResort]));
    for (const d of allowed) {
      if (own.has(d)) continue;
      const lastResort = handed.get(d);
      if (lastResort === undefined) ctx.limiter.refund(targetKey(d), 1, perTarget);
      if (lastResort !== true && lastResortAllowed.has(d)) ctx.limiter.refund(lastResortKey(d), 1, limits.lastResortPerDevicePerMinute);
    }
  }
  const got = new Set(claimed.map((c) => c.deviceId));
  for (const c of claimed) {
    const count = await ctx.storage.countKeyPackages(c.deviceId, now);
    if (count.available < ctx.config.keyPackageLowWatermark) {
      const frame = encodeFrame({ t: 'key_packages_low', available: count.available });
      await ctx.bus.publish([c.deviceId], { type: 'notice', frame }).catch(() => undefined);
    }
  }
  return {
    keyPackages: claimed.map((c) => ({ deviceId: c.deviceId, ciphersuite: c.ciphersuite, data: toBase64Url(c.data), lastResort: c.lastResort })),
    missing: deviceIds.filter((d) => !got.has(d)),
  };
}
