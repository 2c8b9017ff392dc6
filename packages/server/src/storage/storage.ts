import type { BlobDigest, DeviceId, GroupId, ProfileVersion, UserId } from '@parley/protocol';
import type {
  AppendCommitInput,
  AppendMessageInput,
  AppendResult,
  BacklogCursor,
  BacklogSize,
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
  StorageHealth,
  StoredMessage,
  SweepResult,
  UserRecord,
  WriteObserver,
} from './records.js';

/**
 * The one storage interface. Adapters: `sqlite/` (embedded default) and
 * `postgres/` (scale). Both pass `test/storage-contract.ts`.
 *
 * Delivery model: each group has one ordered log of messages (gap-free seq).
 * Each member device has a cursor in it — the highest seq it acknowledged —
 * so a device's mailbox is "the log after my cursor", one row per message
 * whatever the group's size. A message is deleted once every device's cursor
 * has passed it (`trim`), or at its retention time (`sweep`). Welcomes are
 * kept apart: stored once per commit, with one small row per recipient device
 * pointing at it; a Welcome nobody waits for any more goes with the next trim
 * of its group.
 *
 * Rules every adapter keeps:
 * - each method is atomic: it fully happens or not at all (what an adapter may
 *   do as a separate step is only garbage collection: trimming the groups a
 *   revoked device held back, or the retention sweep group by group);
 * - times are unix seconds, already coarsened by the caller where it matters;
 * - no IP addresses, plaintext or token values are ever stored (tokens as hashes).
 */

export type * from './records.js';

/** Typed failures an adapter raises; the server maps them to protocol errors. */
export class StorageError extends Error {
  constructor(
    readonly kind:
      | 'username_taken'
      | 'device_exists'
      | 'group_exists'
      | 'not_found'
      | 'not_member'
      | 'epoch_conflict'
      | 'device_revoked'
      | 'device_pending'
      | 'too_many_key_packages'
      | 'invalid_membership'
      | 'quota_exceeded'
      | 'profile_version_taken',
    message: string,
    readonly detail?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'StorageError';
  }
}

export interface Storage {
  readonly kind: 'sqlite' | 'postgres';

  /** Applies pending migrations; safe to call on every start. */
  migrate(): Promise<void>;
  /** Flushes pending writes and releases connections. */
  close(): Promise<void>;
  health(): Promise<StorageHealth>;
  /**
   * Messages and Welcomes stored and not yet deleted, and their bytes, over
   * all groups (for the metrics endpoint; a count over the log, so callers
   * run it rarely — the metrics cache it).
   */
  backlogSize(): Promise<BacklogSize>;
  /** Reports every batch of writes to `observer` (undefined stops reporting); one observer at a time. */
  observeWrites(observer: WriteObserver | undefined): void;

  /* accounts, devices, sessions */
  /**
   * Creates a user, with its first device and session when given, atomically.
   * Throws username_taken (also for a taken skeleton).
   */
  createAccount(user: UserRecord, device: NewDevice | undefined, session: NewSession | undefined): Promise<void>;
  getUserByUsername(normalized: string): Promise<UserRecord | undefined>;
  getUserById(id: UserId): Promise<UserRecord | undefined>;
  /** True when some user already has this skeleton (a look-alike name). */
  skeletonTaken(skeleton: string): Promise<boolean>;
  /** Adds a device and a session for it atomically. */
  addDevice(userId: UserId, device: NewDevice, createdDay: string, session: NewSession): Promise<void>;
  /**
   * Adds a PENDING device with a session and a link (code hash, expiry)
   * atomically. Throws device_exists.
   */
  addPendingDevice(userId: UserId, device: NewDevice, createdDay: string, session: NewSession, link: { codeHash: Uint8Array; expiresAt: number }): Promise<void>;
  /** The user's pending device whose link code hashes to codeHash and has not expired. */
  getPendingLink(userId: UserId, codeHash: Uint8Array, now: number): Promise<PendingLinkRecord | undefined>;
  /** Expiry of a pending device's link (undefined when the device is not pending or has no live link). */
  linkExpiry(deviceId: DeviceId, now: number): Promise<number | undefined>;
  /**
   * Activates a pending device whose link is live and drops the link, recording
   * which device approved it and its `signature` (over linkApprovalMessage; the
   * caller verifies it). Throws not_found when it is not pending (any more),
   * its link expired, or `approvedBy` is not an active device of the same user.
   */
  approveDevice(deviceId: DeviceId, approvedBy: DeviceId, now: number, signature: Uint8Array): Promise<void>;
  /**
   * Starting over: revokes every device of the user (at `revokedAt`) and adds
   * `device` as its only active device with `session`, atomically. Returns the
   * revoked devices and the groups they were members of.
   */
  resetIdentity(userId: UserId, device: NewDevice, createdDay: string, session: NewSession, revokedAt: number): Promise<{ revoked: DeviceId[]; groups: GroupId[] }>;
  /** Adds a session to an existing ACTIVE device of the user. Throws not_found / device_revoked / device_pending. */
  /**
   * Deletes an account: revokes every device (as revokeDevice: sessions, key
   * packages, links, challenges, cursors and Welcomes go), clears the devices'
   * encrypted names, the password hash, the name (replaced by an unusable
   * placeholder) and the quota counters, and holds `hold.nameHash` (a hash of
   * the name's skeleton) until `hold.until`. The user id and the revoked
   * devices' ids and keys stay until `hold.until` too, so contacts' clients can
   * still remove those devices from their groups; sweep then deletes them.
   * The user's profile is deleted, and its picture blob's keepUntil lowered
   * to at most `revokedAt` (blob collection takes it then).
   * Throws not_found for an unknown or already deleted user.
   */
  deleteAccount(userId: UserId, revokedAt: number, hold: { nameHash: Uint8Array; until: number }): Promise<{ revoked: DeviceId[]; groups: GroupId[] }>;
  /** True while a deleted account's name (by the hash of its skeleton) is held back from registration. */
  usernameHeld(nameHash: Uint8Array, now: number): Promise<boolean>;
  addSession(userId: UserId, deviceId: DeviceId, session: NewSession): Promise<void>;
  /** Replaces the password hash; ends all the user's sessions ('all'), all but one token's, or none. */
  setPassword(userId: UserId, passwordHash: string, signOut: 'none' | 'all' | { except: Uint8Array }): Promise<void>;
  /** Stores a single-use sign-in challenge (by hash) for a device id, known or not (nothing is revealed by issuing one). */
  putChallenge(challengeHash: Uint8Array, deviceId: DeviceId, expiresAt: number): Promise<void>;
  /** Consumes a challenge: true only if it existed for this device and had not expired; it is gone afterwards either way. */
  takeChallenge(challengeHash: Uint8Array, deviceId: DeviceId, now: number): Promise<boolean>;
  getDevice(id: DeviceId): Promise<DeviceRecord | undefined>;
  /** Every device of the user, pending and revoked included, oldest first. */
  listDevices(userId: UserId): Promise<DeviceRecord[]>;
  /**
   * Replaces the encrypted name (base64url, validated by the caller) of a
   * device of `userId` that is pending or active. False, and nothing written,
   * when there is no such device (unknown, another user's, or revoked).
   */
  setDeviceName(userId: UserId, deviceId: DeviceId, encryptedName: string): Promise<boolean>;
  /**
   * Revokes a device at `revokedAt`. A PENDING device (rejected, expired, or
   * withdrawn) is deleted outright with its session and link: it was never the
   * user's device, and must never be listed. An active device keeps its row and key
   * (the directory lists revoked devices), drops its sessions, key packages,
   * welcomes, link, challenges and cursors, removes it from every group's member list and
   * trims those groups. Returns the groups it was a member of (including groups
   * it left whose membership still lists it). Revoking again keeps the first revokedAt.
   */
  revokeDevice(id: DeviceId, revokedAt: number): Promise<GroupId[]>;
  /** Resolves a session by token hash; undefined when unknown, expired or its device revoked. */
  getSession(tokenHash: Uint8Array, now: number): Promise<SessionRecord | undefined>;
  deleteSession(tokenHash: Uint8Array): Promise<void>;

  /* key packages */
  /**
   * Adds single-use packages (and optionally replaces the last-resort one).
   * First deletes the device's packages that expired by `now` (they can never
   * be handed out), so only live ones count against `max`; throws
   * too_many_key_packages past it, not_found / device_revoked / device_pending
   * for a device that is not active. Returns the stock as of `now`.
   */
  addKeyPackages(deviceId: DeviceId, packages: readonly KeyPackageIn[], lastResort: KeyPackageIn | undefined, max: number, now: number): Promise<KeyPackageCount>;
  /**
   * Claims one package per device, atomically per device: a single-use package
   * is handed out at most once; the last-resort one is returned (not consumed)
   * when no single-use package is left — only for devices in
   * `lastResortAllowed` when that is given. Unknown, pending or revoked devices are omitted.
   */
  claimKeyPackages(deviceIds: readonly DeviceId[], now: number, options?: { lastResortAllowed?: ReadonlySet<DeviceId> }): Promise<ClaimedKeyPackage[]>;
  countKeyPackages(deviceId: DeviceId, now: number): Promise<KeyPackageCount>;

  /* groups and delivery */
  /** Creates a group at epoch 0 whose only member is `creator`. Throws group_exists. */
  createGroup(id: GroupId, creator: DeviceId): Promise<GroupRecord>;
  getGroup(id: GroupId): Promise<GroupRecord | undefined>;
  /** Devices the group is delivered to (not those that left it, see leaveGroup), in id order. */
  groupDevices(id: GroupId): Promise<DeviceId[]>;
  isMember(id: GroupId, deviceId: DeviceId): Promise<boolean>;
  groupsOfDevice(deviceId: DeviceId): Promise<GroupRecord[]>;
  getGroupInfo(id: GroupId): Promise<Uint8Array | undefined>;
  /**
   * Appends an application or proposal message with the next sequence number
   * for every other member device. The sender's cursor moves past it when the
   * sender had acknowledged everything before it (its riding `ack` included),
   * so a message every recipient acknowledges is deleted without the sender
   * sending again. Throws not_member, not_found
   * (group, or a referenced blob), and epoch_conflict when a proposal is not
   * for the current epoch or an application message is for a future one.
   */
  appendMessage(input: AppendMessageInput): Promise<AppendResult>;
  /**
   * Appends a commit for exactly the group's current epoch (else epoch_conflict
   * with detail.epoch), advances the epoch and replaces the member device list.
   * The commit is for the previous members except the sender — removed devices
   * included, they keep a cursor up to this seq so they learn of their removal;
   * added devices start after it and get the Welcome (same seq) instead.
   * Throws invalid_membership when the committer leaves, an added device is
   * unknown, pending or revoked, a welcome goes to a device that is not new,
   * or a new device gets no welcome (a device enters a group only with a
   * Welcome addressed to it). A device that left (leaveGroup) and is still
   * listed is not new: it stays out of delivery until a commit drops it.
   */
  appendCommit(input: AppendCommitInput): Promise<CommitResult>;
  /**
   * Stops delivery of the group to this device at once (its cursor and welcome
   * go, the log is trimmed as if it had acknowledged everything), whether or
   * not a member commits its removal. The group no longer lists for it, and
   * it is not a member for sending. A device removed by a commit that has not
   * read up to its removal yet may leave too (it just stops reading). Leaving
   * again is a no-op; throws not_member for a device the group never listed.
   */
  leaveGroup(groupId: GroupId, deviceId: DeviceId): Promise<void>;
  /** Welcomes waiting for a device (deliver these before its group messages). */
  pendingWelcomes(deviceId: DeviceId): Promise<StoredMessage[]>;
  /**
   * Up to `limit` unacknowledged group messages for a device, ordered by
   * (group id, seq), strictly after `after` when given.
   */
  pendingMessages(deviceId: DeviceId, after: BacklogCursor | undefined, limit: number): Promise<StoredMessage[]>;
  /** Cumulative ack: moves the device's cursor in the group to at least `seq`; drops its claim on a Welcome up to `seq`. Never moves backwards. */
  ack(deviceId: DeviceId, groupId: GroupId, seq: number): Promise<void>;
  /**
   * Deletes messages of these groups that every device's cursor has passed,
   * and Welcomes no device waits for; scales the groups' queue charges down.
   * Returns how many messages.
   */
  trim(groupIds: readonly GroupId[]): Promise<number>;

  /* per-group retention (disappearing messages) */
  /**
   * Sets (or, with null, clears) how long the group's APPLICATION messages
   * are kept at most, in seconds (the members' disappearing-message timer),
   * as said by the settings message at group seq `seq`: applied only when
   * `seq` is above the one that set the current value and not beyond the
   * group's last seq (else nothing changes). Returns the retention in force.
   * Only a current member device may (throws not_found / not_member).
   * Commits, proposals and Welcomes keep the default retention: they carry no
   * message content, and losing one would fork an offline device out of the group.
   */
  setGroupRetention(groupId: GroupId, deviceId: DeviceId, seconds: number | null, seq: number): Promise<number | null>;
  /** The group's retention in seconds; null when it has none, undefined when there is no such group. */
  groupRetention(groupId: GroupId): Promise<number | null | undefined>;
  /**
   * In every group with a retention: lowers the expiry of its application
   * messages, and the keepUntil of the blobs they reference, to at most
   * `floor_minute(now + retention - leadSeconds)`. Run before each sweep with
   * `leadSeconds` = twice the sweep interval, every message is deleted no
   * later than its retention after it was stored. Returns how many messages
   * it lowered.
   */
  enforceRetention(now: number, leadSeconds: number): Promise<number>;
  /** Lowers these blobs' keepUntil to at most `until` (an attachment sent to a group with a retention). */
  capBlobs(digests: readonly BlobDigest[], until: number): Promise<void>;

  /* blobs (metadata; bytes live in a BlobStore) */
  /**
   * With a quota: charges blob.size to the user's day bucket, or throws
   * quota_exceeded (detail.quota = 'blob_bytes') and stores nothing. A digest
   * already stored is charged nothing. `now` is required with a quota.
   */
  putBlob(blob: BlobRecord, quota?: BlobQuota, now?: number): Promise<void>;
  /** Bytes the user uploaded within the quota window ending at `now` (to refuse an upload before its body is read). */
  blobUsage(userId: UserId, windowSeconds: number, now: number): Promise<number>;
  /** The user's current charge for undelivered group messages (see QueueQuota). */
  queuedBytes(userId: UserId): Promise<number>;
  getBlob(digest: BlobDigest): Promise<BlobRecord | undefined>;
  /** Blobs past keepUntil that no stored message or profile references. */
  collectableBlobs(now: number, limit: number): Promise<BlobDigest[]>;
  /** Deletes those still collectable; returns the ones deleted (their bytes may then go). */
  deleteBlobs(digests: readonly BlobDigest[]): Promise<BlobDigest[]>;

  /* encrypted profiles */
  /**
   * Stores the user's one profile, replacing the previous one atomically: the
   * old version no longer resolves. A picture blob the old profile referred
   * to and the new one does not is released: its keepUntil is raised to at
   * least `releasedKeepUntil` (devices that just read the old profile can
   * still fetch it), then blob collection takes it. Throws not_found for an
   * unknown or deleted user, or a pictureBlob that is not stored
   * (detail.blob); profile_version_taken when another user's profile holds
   * the version.
   */
  putProfile(profile: ProfileRecord, releasedKeepUntil: number): Promise<void>;
  getProfile(version: ProfileVersion): Promise<ProfileRecord | undefined>;
  /** Deletes the user's profile, releasing its picture as putProfile does; false when there was none. */
  deleteProfile(userId: UserId, releasedKeepUntil: number): Promise<boolean>;

  /* Web Push subscriptions */
  /**
   * Stores the device's one push subscription, replacing the previous one.
   * Throws not_found unless the device exists and is ACTIVE. Revoking the
   * device (and deleting its account) deletes its subscription.
   */
  putPushSubscription(sub: PushSubscriptionRecord): Promise<void>;
  /** The subscriptions of those devices that have one, in no particular order. */
  pushSubscriptions(deviceIds: readonly DeviceId[]): Promise<PushSubscriptionRecord[]>;
  /**
   * Deletes the device's subscription; with `endpoint`, only while it is still
   * that one (a push service said it is gone, and the device may have
   * subscribed again meanwhile). False when nothing was deleted.
   */
  deletePushSubscription(deviceId: DeviceId, endpoint?: string): Promise<boolean>;

  /**
   * Deletes expired messages and welcomes (retention), departed devices' cursors,
   * sessions, key packages, challenges and blob upload buckets that no longer
   * count; revokes pending devices whose link expired (at `now` rounded up to the hour).
   */
  sweep(now: number): Promise<SweepResult>;
}
