import type { BlobDigest, DeviceId, GroupId, ProfileVersion, UserId } from '@parley/protocol';
import { ceilHour } from '../../clock.js';
import type {
  AppendCommitInput,
  AppendMessageInput,
  AppendResult,
  BacklogCursor,
  BlobQuota,
  BlobRecord,
  ClaimedKeyPackage,
  CommitResult,
  DeviceRecord,
  GroupRecord,
  KeyPackageCount,
  KeyPackageIn,
  NewDevice,
  NewSession,
  PendingLinkRecord,
  ProfileRecord,
  PushSubscriptionRecord,
  SessionRecord,
  BacklogSize,
  Storage,
  StorageHealth,
  StoredMessage,
  SweepResult,
  UserRecord,
  WriteObserver,
} from '../storage.js';
import { PgAccounts } from './accounts.js';
import { PgBlobs } from './blobs.js';
import { PgCore, type PostgresStorageOptions } from './core.js';
import { PgDelivery } from './delivery.js';
import { PgKeyPackages } from './key-packages.js';
import { PgProfiles } from './profiles.js';
import { PgPush } from './push.js';
import { PgRetention } from './retention.js';
import { num } from './rows.js';

export type { PostgresStorageOptions } from './core.js';

/**
 * Storage on PostgreSQL, for several server processes sharing one database.
 * Every write is one READ COMMITTED transaction (or one statement); races
 * between processes are settled by row locks, always taken in the same order
 * (user, then devices, then groups, then blobs, then cursors by (group,
 * device), then Welcome references) so transactions queue rather than
 * deadlock. The one exception, revoking a device, trims the groups it left in
 * a second transaction (see accounts.ts).
 *
 * The work is split by concern: accounts.ts, key-packages.ts, delivery.ts
 * (groups, log, cursors, Welcomes, message quota), blobs.ts, profiles.ts; the message path
 * and trims are PL/pgSQL functions (migrations.ts).
 */
export class PostgresStorage implements Storage {
  readonly kind = 'postgres' as const;
  private readonly core: PgCore;
  private readonly accounts: PgAccounts;
  private readonly keyPackages: PgKeyPackages;
  private readonly delivery: PgDelivery;
  private readonly blobs: PgBlobs;
  private readonly retention: PgRetention;
  private readonly profiles: PgProfiles;
  private readonly push: PgPush;

  constructor(options: PostgresStorageOptions) {
    this.core = new PgCore(options);
    this.accounts = new PgAccounts(this.core);
    this.keyPackages = new PgKeyPackages(this.core);
    this.delivery = new PgDelivery(this.core);
    this.blobs = new PgBlobs(this.core);
    this.retention = new PgRetention(this.core);
    this.profiles = new PgProfiles(this.core);
    this.push = new PgPush(this.core);
  }

  migrate(): Promise<void> {
    return this.core.migrate();
  }

  close(): Promise<void> {
    return this.core.close();
  }

  async health(): Promise<StorageHealth> {
    try {
      await this.core.read('SELECT 1', []);
      return { kind: 'postgres', ok: true };
    } catch {
      return { kind: 'postgres', ok: false };
    }
  }

  async backlogSize(): Promise<BacklogSize> {
    const [row] = await this.core.read(
      'SELECT (SELECT count(*) FROM group_messages) + (SELECT count(*) FROM welcomes) AS messages, (SELECT COALESCE(SUM(queued_bytes), 0) FROM mls_groups) AS bytes',
      [],
    );
    return { messages: row ? num(row, 'messages') : 0, bytes: row ? num(row, 'bytes') : 0 };
  }

  observeWrites(observer: WriteObserver | undefined): void {
    this.delivery.observeWrites(observer);
  }

  /* ---------- accounts, devices, sessions ---------- */

  createAccount(user: UserRecord, device: NewDevice | undefined, session: NewSession | undefined): Promise<void> {
    return this.accounts.createAccount(user, device, session);
  }
  getUserByUsername(normalized: string): Promise<UserRecord | undefined> {
    return this.accounts.getUserByUsername(normalized);
  }
  getUserById(id: UserId): Promise<UserRecord | undefined> {
    return this.accounts.getUserById(id);
  }
  skeletonTaken(skeleton: string): Promise<boolean> {
    return this.accounts.skeletonTaken(skeleton);
  }
  addDevice(userId: UserId, device: NewDevice, createdDay: string, session: NewSession): Promise<void> {
    return this.accounts.addDevice(userId, device, createdDay, session);
  }
  addPendingDevice(userId: UserId, device: NewDevice, createdDay: string, session: NewSession, link: { codeHash: Uint8Array; expiresAt: number }): Promise<void> {
    return this.accounts.addPendingDevice(userId, device, createdDay, session, link);
  }
  getPendingLink(userId: UserId, codeHash: Uint8Array, now: number): Promise<PendingLinkRecord | undefined> {
    return this.accounts.getPendingLink(userId, codeHash, now);
  }
  linkExpiry(deviceId: DeviceId, now: number): Promise<number | undefined> {
    return this.accounts.linkExpiry(deviceId, now);
  }
  approveDevice(deviceId: DeviceId, approvedBy: DeviceId, now: number, signature: Uint8Array): Promise<void> {
    return this.accounts.approveDevice(deviceId, approvedBy, now, signature);
  }
  resetIdentity(userId: UserId, device: NewDevice, createdDay: string, session: NewSession, revokedAt: number): Promise<{ revoked: DeviceId[]; groups: GroupId[] }> {
    return this.accounts.resetIdentity(userId, device, createdDay, session, revokedAt);
  }
  deleteAccount(userId: UserId, revokedAt: number, hold: { nameHash: Uint8Array; until: number }): Promise<{ revoked: DeviceId[]; groups: GroupId[] }> {
    return this.accounts.deleteAccount(userId, revokedAt, hold);
  }
  usernameHeld(nameHash: Uint8Array, now: number): Promise<boolean> {
    return this.accounts.usernameHeld(nameHash, now);
  }
  addSession(userId: UserId, deviceId: DeviceId, session: NewSession): Promise<void> {
    return this.accounts.addSession(userId, deviceId, session);
  }
  setPassword(userId: UserId, passwordHash: string, signOut: 'none' | 'all' | { except: Uint8Array }): Promise<void> {
    return this.accounts.setPassword(userId, passwordHash, signOut);
  }
  putChallenge(challengeHash: Uint8Array, deviceId: DeviceId, expiresAt: number): Promise<void> {
    return this.accounts.putChallenge(challengeHash, deviceId, expiresAt);
  }
  takeChallenge(challengeHash: Uint8Array, deviceId: DeviceId, now: number): Promise<boolean> {
    return this.accounts.takeChallenge(challengeHash, deviceId, now);
  }
  getDevice(id: DeviceId): Promise<DeviceRecord | undefined> {
    return this.accounts.getDevice(id);
  }
  listDevices(userId: UserId): Promise<DeviceRecord[]> {
    return this.accounts.listDevices(userId);
  }
  setDeviceName(userId: UserId, deviceId: DeviceId, encryptedName: string): Promise<boolean> {
    return this.accounts.setDeviceName(userId, deviceId, encryptedName);
  }
  revokeDevice(id: DeviceId, revokedAt: number): Promise<GroupId[]> {
    return this.accounts.revokeDevice(id, revokedAt);
  }
  getSession(tokenHash: Uint8Array, now: number): Promise<SessionRecord | undefined> {
    return this.accounts.getSession(tokenHash, now);
  }
  deleteSession(tokenHash: Uint8Array): Promise<void> {
    return this.accounts.deleteSession(tokenHash);
  }

  /* ---------- key packages ---------- */

  addKeyPackages(deviceId: DeviceId, packages: readonly KeyPackageIn[], lastResort: KeyPackageIn | undefined, max: number, now: number): Promise<KeyPackageCount> {
    return this.keyPackages.add(deviceId, packages, lastResort, max, now);
  }
  claimKeyPackages(deviceIds: readonly DeviceId[], now: number, options?: { lastResortAllowed?: ReadonlySet<DeviceId> }): Promise<ClaimedKeyPackage[]> {
    return this.keyPackages.claim(deviceIds, now, options?.lastResortAllowed);
  }
  countKeyPackages(deviceId: DeviceId, now: number): Promise<KeyPackageCount> {
    return this.keyPackages.count(deviceId, now);
  }

  /* ---------- groups and delivery ---------- */

  createGroup(id: GroupId, creator: DeviceId): Promise<GroupRecord> {
    return this.delivery.createGroup(id, creator);
  }
  getGroup(id: GroupId): Promise<GroupRecord | undefined> {
    return this.delivery.getGroup(id);
  }
  groupDevices(id: GroupId): Promise<DeviceId[]> {
    return this.delivery.groupDevices(id);
  }
  isMember(id: GroupId, deviceId: DeviceId): Promise<boolean> {
    return this.delivery.isMember(id, deviceId);
  }
  groupsOfDevice(deviceId: DeviceId): Promise<GroupRecord[]> {
    return this.delivery.groupsOfDevice(deviceId);
  }
  getGroupInfo(id: GroupId): Promise<Uint8Array | undefined> {
    return this.delivery.getGroupInfo(id);
  }
  appendMessage(input: AppendMessageInput): Promise<AppendResult> {
    return this.delivery.appendMessage(input);
  }
  appendCommit(input: AppendCommitInput): Promise<CommitResult> {
    return this.delivery.appendCommit(input);
  }
  leaveGroup(groupId: GroupId, deviceId: DeviceId): Promise<void> {
    return this.delivery.leaveGroup(groupId, deviceId);
  }
  pendingWelcomes(deviceId: DeviceId): Promise<StoredMessage[]> {
    return this.delivery.pendingWelcomes(deviceId);
  }
  pendingMessages(deviceId: DeviceId, after: BacklogCursor | undefined, limit: number): Promise<StoredMessage[]> {
    return this.delivery.pendingMessages(deviceId, after, limit);
  }
  ack(deviceId: DeviceId, groupId: GroupId, seq: number): Promise<void> {
    return this.delivery.ack(deviceId, groupId, seq);
  }
  trim(groupIds: readonly GroupId[]): Promise<number> {
    return this.delivery.trim(groupIds);
  }

  /* ---------- per-group retention ---------- */

  setGroupRetention(groupId: GroupId, deviceId: DeviceId, seconds: number | null, seq: number): Promise<number | null> {
    return this.retention.set(groupId, deviceId, seconds, seq);
  }
  groupRetention(groupId: GroupId): Promise<number | null | undefined> {
    return this.retention.get(groupId);
  }
  enforceRetention(now: number, leadSeconds: number): Promise<number> {
    return this.retention.enforce(now, leadSeconds);
  }
  capBlobs(digests: readonly BlobDigest[], until: number): Promise<void> {
    return this.retention.capBlobs(digests, until);
  }

  /* ---------- quotas and blobs ---------- */

  queuedBytes(userId: UserId): Promise<number> {
    return this.delivery.queuedBytes(userId);
  }
  putBlob(blob: BlobRecord, quota?: BlobQuota, now?: number): Promise<void> {
    return this.blobs.put(blob, quota, now);
  }
  blobUsage(userId: UserId, windowSeconds: number, now: number): Promise<number> {
    return this.blobs.usage(userId, windowSeconds, now);
  }
  getBlob(digest: BlobDigest): Promise<BlobRecord | undefined> {
    return this.blobs.get(digest);
  }
  collectableBlobs(now: number, limit: number): Promise<BlobDigest[]> {
    return this.blobs.collectable(now, limit);
  }
  deleteBlobs(digests: readonly BlobDigest[]): Promise<BlobDigest[]> {
    return this.blobs.delete(digests);
  }

  /* ---------- encrypted profiles ---------- */

  putProfile(profile: ProfileRecord, releasedKeepUntil: number): Promise<void> {
    return this.profiles.put(profile, releasedKeepUntil);
  }
  getProfile(version: ProfileVersion): Promise<ProfileRecord | undefined> {
    return this.profiles.get(version);
  }
  deleteProfile(userId: UserId, releasedKeepUntil: number): Promise<boolean> {
    return this.profiles.delete(userId, releasedKeepUntil);
  }

  /* ---------- Web Push subscriptions ---------- */

  putPushSubscription(sub: PushSubscriptionRecord): Promise<void> {
    return this.push.put(sub);
  }
  pushSubscriptions(deviceIds: readonly DeviceId[]): Promise<PushSubscriptionRecord[]> {
    return this.push.list(deviceIds);
  }
  deletePushSubscription(deviceId: DeviceId, endpoint?: string): Promise<boolean> {
    return this.push.delete(deviceId, endpoint);
  }

  /** Several transactions, each complete on its own (see PgDelivery.sweep). */
  async sweep(now: number): Promise<SweepResult> {
    const { messages, welcomes } = await this.delivery.sweep(now);
    // Pending devices swept now are recorded as revoked at the next full hour.
    const { sessions, pendingDevices, challenges, accounts } = await this.accounts.sweep(now, ceilHour(now));
    const keyPackages = await this.keyPackages.sweep(now);
    await this.blobs.sweep(now);
    return { messages, welcomes, sessions, keyPackages, pendingDevices, challenges, accounts };
  }
}
