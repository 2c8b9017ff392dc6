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
import { SqliteAccounts } from './accounts.js';
import { SqliteBlobs } from './blobs.js';
import { SqliteCore, type SqliteStorageOptions } from './core.js';
import { SqliteDelivery } from './delivery.js';
import { SqliteKeyPackages } from './key-packages.js';
import { SqliteProfiles } from './profiles.js';
import { SqlitePush } from './push.js';
import { SqliteRetention } from './retention.js';
import { SQLITE_MIGRATIONS } from './migrations.js';
import { queuedBytes } from './queue-bytes.js';
import { num, plainNum, type Row } from './rows.js';

export type { SqliteStorageOptions, SqliteSynchronous } from './core.js';

/**
 * Embedded default storage on SQLite (WAL). Reads run directly; writes are
 * queued and committed together once per event-loop tick in one transaction,
 * each inside its own savepoint so one failing write does not undo the others.
 *
 * The work is split by concern: accounts.ts (users, devices, links, sessions,
 * challenges), key-packages.ts, delivery.ts (groups, log, cursors, Welcomes),
 * queue-bytes.ts (message quota), blobs.ts (blob metadata and quota),
 * profiles.ts (encrypted profiles).
 */
export class SqliteStorage implements Storage {
  readonly kind = 'sqlite' as const;
  private readonly core: SqliteCore;
  private readonly accounts: SqliteAccounts;
  private readonly keyPackages: SqliteKeyPackages;
  private readonly delivery: SqliteDelivery;
  private readonly blobs: SqliteBlobs;
  private readonly retention: SqliteRetention;
  private readonly profiles: SqliteProfiles;
  private readonly push: SqlitePush;

  constructor(options: SqliteStorageOptions) {
    this.core = new SqliteCore(options);
    this.delivery = new SqliteDelivery(this.core);
    this.accounts = new SqliteAccounts(this.core, (d) => this.delivery.dropDeviceSync(d));
    this.keyPackages = new SqliteKeyPackages(this.core);
    this.retention = new SqliteRetention(this.core);
    this.blobs = new SqliteBlobs(this.core);
    this.profiles = new SqliteProfiles(this.core);
    this.push = new SqlitePush(this.core);
  }

  async migrate(): Promise<void> {
    const db = this.core.db;
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)');
    const applied = new Set((this.core.q('SELECT version FROM schema_migrations').all() as Row[]).map((r) => num(r, 'version')));
    let wrote = applied.size === 0;
    for (const m of SQLITE_MIGRATIONS) {
      if (applied.has(m.version)) continue;
      wrote = true;
      // Foreign keys cannot be switched off inside a transaction: around it, then checked inside.
      if (m.rebuildsTables) db.pragma('foreign_keys = OFF');
      try {
        db.transaction(() => {
          db.exec(m.sql);
          if (m.rebuildsTables && (db.pragma('foreign_key_check') as unknown[]).length > 0) {
            throw new Error(`migration ${m.version} would leave rows referring to missing rows`);
          }
          this.core.q('INSERT INTO schema_migrations (version, name) VALUES (?, ?)').run(m.version, m.name);
        })();
      } finally {
        if (m.rebuildsTables) db.pragma('foreign_keys = ON');
      }
    }
    this.core.forget();
    // Migrations run before anything else writes: their WAL is emptied here, on this
    // connection, rather than by starting the checkpointer's worker for it.
    if (wrote && this.core.checkpointer && !this.core.checkpointer.truncateHere()) this.core.checkpointer.wrote();
  }

  /** Whether the checkpointer's worker thread runs now (it runs only while there are writes to checkpoint). */
  get checkpointerRunning(): boolean {
    return this.core.checkpointer?.running ?? false;
  }

  async close(): Promise<void> {
    await this.core.writes.drain();
    await this.core.checkpointer?.stop();
    if (this.core.db.open) {
      this.core.db.pragma('wal_checkpoint(TRUNCATE)');
      this.core.db.close();
    }
  }

  /**
   * Empties the write-ahead log now (a TRUNCATE checkpoint), after the writes
   * already queued: what it held of deleted rows leaves the file. The
   * checkpointer does this by itself once writers are idle; false when a
   * reader kept it from completing.
   */
  async truncateWal(): Promise<boolean> {
    await this.core.writes.drain();
    if (this.core.checkpointer) return this.core.checkpointer.truncate();
    const [r] = this.core.db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>;
    return r?.busy === 0;
  }

  async health(): Promise<StorageHealth> {
    try {
      this.core.q('SELECT 1').get();
      return { kind: 'sqlite', ok: true };
    } catch {
      return { kind: 'sqlite', ok: false };
    }
  }

  async backlogSize(): Promise<BacklogSize> {
    const count = (sql: string) => plainNum(this.core.pluck(sql).get());
    return {
      messages: count('SELECT count(*) FROM group_messages') + count('SELECT count(*) FROM welcomes'),
      bytes: count('SELECT COALESCE(SUM(queued_bytes), 0) FROM mls_groups'),
    };
  }

  observeWrites(observer: WriteObserver | undefined): void {
    this.core.writes.observer = observer;
  }

  /* ---------- accounts, devices, sessions ---------- */

  createAccount(user: UserRecord, device: NewDevice | undefined, session: NewSession | undefined): Promise<void> {
    return this.accounts.createAccount(user, device, session);
  }
  async getUserByUsername(normalized: string): Promise<UserRecord | undefined> {
    return this.accounts.getUserByUsername(normalized);
  }
  async getUserById(id: UserId): Promise<UserRecord | undefined> {
    return this.accounts.getUserById(id);
  }
  async skeletonTaken(skeleton: string): Promise<boolean> {
    return this.accounts.skeletonTaken(skeleton);
  }
  addDevice(userId: UserId, device: NewDevice, createdDay: string, session: NewSession): Promise<void> {
    return this.accounts.addDevice(userId, device, createdDay, session);
  }
  addPendingDevice(userId: UserId, device: NewDevice, createdDay: string, session: NewSession, link: { codeHash: Uint8Array; expiresAt: number }): Promise<void> {
    return this.accounts.addPendingDevice(userId, device, createdDay, session, link);
  }
  async getPendingLink(userId: UserId, codeHash: Uint8Array, now: number): Promise<PendingLinkRecord | undefined> {
    return this.accounts.getPendingLink(userId, codeHash, now);
  }
  async linkExpiry(deviceId: DeviceId, now: number): Promise<number | undefined> {
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
  async usernameHeld(nameHash: Uint8Array, now: number): Promise<boolean> {
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
  async getDevice(id: DeviceId): Promise<DeviceRecord | undefined> {
    return this.accounts.getDevice(id);
  }
  async listDevices(userId: UserId): Promise<DeviceRecord[]> {
    return this.accounts.listDevices(userId);
  }
  setDeviceName(userId: UserId, deviceId: DeviceId, encryptedName: string): Promise<boolean> {
    return this.accounts.setDeviceName(userId, deviceId, encryptedName);
  }
  revokeDevice(id: DeviceId, revokedAt: number): Promise<GroupId[]> {
    return this.accounts.revokeDevice(id, revokedAt);
  }
  async getSession(tokenHash: Uint8Array, now: number): Promise<SessionRecord | undefined> {
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
  async countKeyPackages(deviceId: DeviceId, now: number): Promise<KeyPackageCount> {
    return this.keyPackages.count(deviceId, now);
  }

  /* ---------- groups and delivery ---------- */

  createGroup(id: GroupId, creator: DeviceId): Promise<GroupRecord> {
    return this.delivery.createGroup(id, creator);
  }
  async getGroup(id: GroupId): Promise<GroupRecord | undefined> {
    return this.delivery.getGroup(id);
  }
  async groupDevices(id: GroupId): Promise<DeviceId[]> {
    return this.core.groupDevicesSync(id);
  }
  async isMember(id: GroupId, deviceId: DeviceId): Promise<boolean> {
    return this.delivery.isMember(id, deviceId);
  }
  async groupsOfDevice(deviceId: DeviceId): Promise<GroupRecord[]> {
    return this.delivery.groupsOfDevice(deviceId);
  }
  async getGroupInfo(id: GroupId): Promise<Uint8Array | undefined> {
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
  async pendingWelcomes(deviceId: DeviceId): Promise<StoredMessage[]> {
    return this.delivery.pendingWelcomes(deviceId);
  }
  async pendingMessages(deviceId: DeviceId, after: BacklogCursor | undefined, limit: number): Promise<StoredMessage[]> {
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
  async groupRetention(groupId: GroupId): Promise<number | null | undefined> {
    return this.retention.get(groupId);
  }
  enforceRetention(now: number, leadSeconds: number): Promise<number> {
    return this.retention.enforce(now, leadSeconds);
  }
  capBlobs(digests: readonly BlobDigest[], until: number): Promise<void> {
    return this.retention.capBlobs(digests, until);
  }

  /* ---------- quotas and blobs ---------- */

  async queuedBytes(userId: UserId): Promise<number> {
    return queuedBytes(this.core, userId);
  }
  putBlob(blob: BlobRecord, quota?: BlobQuota, now?: number): Promise<void> {
    return this.blobs.put(blob, quota, now);
  }
  async blobUsage(userId: UserId, windowSeconds: number, now: number): Promise<number> {
    return this.blobs.usage(userId, windowSeconds, now);
  }
  async getBlob(digest: BlobDigest): Promise<BlobRecord | undefined> {
    return this.blobs.get(digest);
  }
  async collectableBlobs(now: number, limit: number): Promise<BlobDigest[]> {
    return this.blobs.collectable(now, limit);
  }
  deleteBlobs(digests: readonly BlobDigest[]): Promise<BlobDigest[]> {
    return this.blobs.delete(digests);
  }

  /* ---------- encrypted profiles ---------- */

  putProfile(profile: ProfileRecord, releasedKeepUntil: number): Promise<void> {
    return this.profiles.put(profile, releasedKeepUntil);
  }
  async getProfile(version: ProfileVersion): Promise<ProfileRecord | undefined> {
    return this.profiles.get(version);
  }
  deleteProfile(userId: UserId, releasedKeepUntil: number): Promise<boolean> {
    return this.profiles.delete(userId, releasedKeepUntil);
  }

  /* ---------- Web Push subscriptions ---------- */

  putPushSubscription(sub: PushSubscriptionRecord): Promise<void> {
    return this.push.put(sub);
  }
  async pushSubscriptions(deviceIds: readonly DeviceId[]): Promise<PushSubscriptionRecord[]> {
    return this.push.list(deviceIds);
  }
  deletePushSubscription(deviceId: DeviceId, endpoint?: string): Promise<boolean> {
    return this.push.delete(deviceId, endpoint);
  }

  sweep(now: number): Promise<SweepResult> {
    return this.core.writes.run(() => {
      const { messages, welcomes } = this.delivery.sweepSync(now);
      // Pending devices swept now are recorded as revoked at the next full hour.
      const { sessions, pendingDevices, challenges, accounts } = this.accounts.sweepSync(now, ceilHour(now));
      const keyPackages = this.keyPackages.sweepSync(now);
      this.blobs.sweepSync(now);
      return { messages, welcomes, sessions, keyPackages, pendingDevices, challenges, accounts };
    });
  }
}
