import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { DeviceId, GroupId, UserId } from '@parley/protocol';
import { StorageError, type Storage } from '../src/storage/storage.js';

/** Shared pieces of the storage contract suites (storage-contract*.ts). */

export interface WelcomeStats {
  /** Stored Welcomes (rows), their bytes (Welcome + GroupInfo), and recipient references. */
  welcomes: number;
  bytes: number;
  recipients: number;
}

/** Rows a group still has in each table (read directly from the adapter's tables). */
export interface GroupLeftovers {
  /** 1 while the mls_groups row exists. */
  group: number;
  /** 1 while mls_groups.group_info is not NULL. */
  groupInfo: number;
  messages: number;
  welcomes: number;
  recipients: number;
  cursors: number;
  departures: number;
  charges: number;
  blobRefs: number;
}

export const NO_LEFTOVERS: GroupLeftovers = { group: 0, groupInfo: 0, messages: 0, welcomes: 0, recipients: 0, cursors: 0, departures: 0, charges: 0, blobRefs: 0 };

/** The SQL both adapters' fixtures run for GroupLeftovers (one parameter: the group id, used nine times). */
export const LEFTOVERS_SQL = `SELECT
  (SELECT COUNT(*) FROM mls_groups WHERE id = $1) AS "group",
  (SELECT COUNT(*) FROM mls_groups WHERE id = $1 AND group_info IS NOT NULL) AS "groupInfo",
  (SELECT COUNT(*) FROM group_messages WHERE group_id = $1) AS "messages",
  (SELECT COUNT(*) FROM welcomes WHERE group_id = $1) AS "welcomes",
  (SELECT COUNT(*) FROM welcome_recipients WHERE group_id = $1) AS "recipients",
  (SELECT COUNT(*) FROM group_devices WHERE group_id = $1) AS "cursors",
  (SELECT COUNT(*) FROM group_departures WHERE group_id = $1) AS "departures",
  (SELECT COUNT(*) FROM queue_charges WHERE group_id = $1) AS "charges",
  (SELECT COUNT(*) FROM blob_refs WHERE group_id = $1) AS "blobRefs"`;

export interface StorageFixture {
  storage: Storage;
  /** Reads the adapter's tables directly: what is physically stored for Welcomes. */
  welcomeStats(): Promise<WelcomeStats>;
  /** Reads the adapter's tables directly: every row the group still has. */
  leftovers(groupId: GroupId): Promise<GroupLeftovers>;
  /** Reads the adapter's tables directly: group messages stored, over all groups. */
  storedMessages(): Promise<number>;
  cleanup(): Promise<void>;
}

export const id = (): string => randomBytes(16).toString('base64url');
export const NOW = 1_800_000_000;

export async function account(s: Storage, name = `user${id().slice(0, 8).toLowerCase()}`): Promise<{ userId: UserId; deviceId: DeviceId; token: Uint8Array }> {
  const userId = id() as UserId;
  const deviceId = id() as DeviceId;
  const token = randomBytes(32);
  await s.createAccount(
    { id: userId, username: name, skeleton: `sk-${name}`, passwordHash: 'hash', createdDay: '2026-11-28' },
    { id: deviceId, signatureKey: randomBytes(32) },
    { tokenHash: token, expiresAt: NOW + 3600 },
  );
  return { userId, deviceId, token };
}

export async function extraDevice(s: Storage, userId: UserId, token: Uint8Array = randomBytes(32)): Promise<DeviceId> {
  const deviceId = id() as DeviceId;
  await s.addDevice(userId, { id: deviceId, signatureKey: randomBytes(32) }, '2026-11-28', { tokenHash: token, expiresAt: NOW + 3600 });
  return deviceId;
}

/** A pending device of the user with a live link (code hash, expiry NOW + 600). */
export async function pendingDevice(s: Storage, userId: UserId): Promise<{ deviceId: DeviceId; token: Uint8Array; codeHash: Uint8Array; expiresAt: number }> {
  const deviceId = id() as DeviceId;
  const token = randomBytes(32);
  const codeHash = randomBytes(32);
  const expiresAt = NOW + 600;
  await s.addPendingDevice(userId, { id: deviceId, signatureKey: randomBytes(32) }, '2026-11-29', { tokenHash: token, expiresAt: NOW + 3600 }, { codeHash, expiresAt });
  return { deviceId, token, codeHash, expiresAt };
}

/** Everything waiting for a device: its welcomes, then its group messages. */
export async function pending(s: Storage, deviceId: DeviceId) {
  return [...(await s.pendingWelcomes(deviceId)), ...(await s.pendingMessages(deviceId, undefined, 1000))];
}

export function kp(n: number): { ciphersuite: number; expiresAt: number; data: Uint8Array } {
  return { ciphersuite: 1, expiresAt: NOW + 86400, data: new Uint8Array([0, 1, 0, 5, n & 0xff, (n >> 8) & 0xff, 7, 7]) };
}

export async function rejectsWith(p: Promise<unknown>, kind: StorageError['kind']): Promise<StorageError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof StorageError, `expected StorageError, got ${String(err)}`);
    assert.equal(err.kind, kind);
    return err;
  }
  assert.fail(`expected ${kind}`);
}

/** A group with creator device `a` committed to contain `devices`. */
export async function groupWith(s: Storage, creator: DeviceId, devices: DeviceId[]): Promise<GroupId> {
  const gid = id() as GroupId;
  await s.createGroup(gid, creator);
  const others = devices.filter((d) => d !== creator);
  await s.appendCommit({
    groupId: gid,
    senderDevice: creator,
    epoch: 0,
    commit: Uint8Array.of(1, 2, 3),
    devices: [creator, ...others],
    welcome: others.length > 0 ? { to: others, data: Uint8Array.of(9, 9) } : undefined,
    groupInfo: Uint8Array.of(4, 4),
    expiresAt: NOW + 1000,
  });
  return gid;
}

/** An application message of `size` bytes. */
export function message(groupId: GroupId, sender: DeviceId, size = 1, extra: Partial<Parameters<Storage['appendMessage']>[0]> = {}): Parameters<Storage['appendMessage']>[0] {
  return { groupId, senderDevice: sender, kind: 'application', epoch: 1, payload: new Uint8Array(size).fill(7), blobs: [], expiresAt: NOW + 100, blobKeepUntil: NOW, ...extra };
}
