import type { BlobDigest, DeviceId, DeviceStatus, GroupId, MessageKind, ProfileVersion, UserId } from '@parley/protocol';

/**
 * The records the storage interface (storage.ts) takes and returns: plain
 * data, no behaviour. Kept apart so that the interface reads as the list of
 * what storage does.
 */

export interface UserRecord {
  id: UserId;
  username: string;
  skeleton: string;
  passwordHash: string;
  createdDay: string;
}

export interface DeviceRecord {
  id: DeviceId;
  userId: UserId;
  /**
   * The device's name as the user's own devices encrypted it (base64url,
   * opaque to the server; see setDeviceName), or null until one uploaded it.
   * Never a name in clear.
   */
  name: string | null;
  signatureKey: Uint8Array;
  createdDay: string;
  /** pending: linked with the password, not yet approved by an existing device (see addPendingDevice). */
  status: DeviceStatus;
  /** status === 'revoked'. */
  revoked: boolean;
  /** Unix seconds (rounded up to the hour by the caller) when revoked; null otherwise. */
  revokedAt: number | null;
  /** The device that approved this one when it was linked; null for a registered or reset device (and pending ones). */
  approvedBy: DeviceId | null;
  /**
   * The approver's signature over linkApprovalMessage(userId, id, signatureKey),
   * kept so clients can check it themselves; null exactly when approvedBy is
   * (and for devices approved before it was kept).
   */
  approval: Uint8Array | null;
}

/** A pending device's link: found by the hash of its code, only by the same user. */
export interface PendingLinkRecord {
  device: DeviceRecord;
  expiresAt: number;
}

/** A device as it is added: without a name (its devices upload it encrypted later, setDeviceName). */
export interface NewDevice {
  id: DeviceId;
  signatureKey: Uint8Array;
}

export interface NewSession {
  /** SHA-256 of the bearer token. */
  tokenHash: Uint8Array;
  expiresAt: number;
}

export interface SessionRecord {
  userId: UserId;
  deviceId: DeviceId;
  expiresAt: number;
  /** Sessions of pending devices reach only the link-status route. */
  deviceStatus: 'pending' | 'active';
}

export interface KeyPackageIn {
  ciphersuite: number;
  expiresAt: number;
  data: Uint8Array;
}

export interface ClaimedKeyPackage {
  deviceId: DeviceId;
  ciphersuite: number;
  data: Uint8Array;
  lastResort: boolean;
}

export interface KeyPackageCount {
  available: number;
  lastResort: boolean;
}

export interface GroupRecord {
  id: GroupId;
  epoch: number;
  /** Highest sequence number assigned so far (0 when none). */
  lastSeq: number;
}

export interface StoredMessage {
  groupId: GroupId;
  seq: number;
  kind: MessageKind;
  epoch: number;
  /** One part, or [welcome, groupInfo] for kind "welcome". */
  parts: Uint8Array[];
}

/**
 * Per-account storage limit for undelivered group messages. Bytes a user puts
 * into a group's log are charged to (user, group) — never per message, so the
 * log itself keeps no sender. Trimming a group shrinks every user's charge in
 * it in proportion to the bytes removed; an emptied log clears them.
 */
export interface QueueQuota {
  userId: UserId;
  /** Largest total charge the user may hold across all groups, in bytes. */
  maxBytes: number;
}

export interface AppendMessageInput {
  groupId: GroupId;
  senderDevice: DeviceId;
  /** Throws quota_exceeded (detail.quota = 'queued_bytes') when the payload would take the user past it. */
  quota?: QueueQuota | undefined;
  kind: 'application' | 'proposal';
  epoch: number;
  payload: Uint8Array;
  blobs: readonly BlobDigest[];
  /** Unix seconds after which the message is deleted even if unacknowledged. */
  expiresAt: number;
  /** Blobs referenced here are kept at least until this time. */
  blobKeepUntil: number;
  /**
   * The sender's cumulative acknowledgement in this group riding on the
   * message (the send frame's `ack`). Applied first, in the same write, so a
   * sender that had read everything before its message is moved past it at
   * once; it counts even when the message is refused.
   */
  ack?: number | undefined;
}

export interface AppendCommitInput {
  groupId: GroupId;
  senderDevice: DeviceId;
  /** Charged for commit + welcome + groupInfo bytes, as for messages. */
  quota?: QueueQuota | undefined;
  epoch: number;
  commit: Uint8Array;
  /** Member devices after the commit. */
  devices: readonly DeviceId[];
  /** Stored ONCE per commit whatever the number of recipients; each recipient references it. */
  welcome?: { to: readonly DeviceId[]; data: Uint8Array } | undefined;
  groupInfo?: Uint8Array | undefined;
  expiresAt: number;
}

export interface AppendResult {
  seq: number;
  epoch: number;
  /** Devices the message is for (never the sender); they receive it live or from their backlog. */
  recipients: DeviceId[];
}

export interface CommitResult extends AppendResult {
  /** Devices that received the Welcome (at the commit's seq). */
  welcomeRecipients: DeviceId[];
}

/** Position in a device's backlog: everything after (groupId, seq), groups in id order. */
export interface BacklogCursor {
  groupId: GroupId;
  seq: number;
}

export interface BlobRecord {
  digest: BlobDigest;
  size: number;
  keepUntil: number;
}

/**
 * Per-account blob limit. The blob table keeps no uploader: instead each
 * user's uploaded bytes are counted per day, and what counts is the sum over
 * the last `windowSeconds` (retention + grace: no blob outlives that without
 * a newer reference). An upper bound of what the user stores, never less.
 */
export interface BlobQuota {
  userId: UserId;
  maxBytes: number;
  windowSeconds: number;
}

/**
 * A user's one encrypted profile (see docs/protocol.md, Profiles). Opaque to
 * the server: the version is 32 bytes only holders of the profile key can
 * derive, the ciphertext is sealed under that key.
 */
export interface ProfileRecord {
  userId: UserId;
  version: ProfileVersion;
  ciphertext: Uint8Array;
  /** A stored blob kept while this profile refers to it; null without a picture. */
  pictureBlob: BlobDigest | null;
  /** "YYYY-MM-DD" (UTC) of the last change: no finer time is kept. */
  updatedDay: string;
}

/**
 * A device's Web Push subscription (docs/protocol.md, Push): where its push
 * service accepts pushes for it, and the keys pushes are encrypted to
 * (RFC 8291), base64url as the browser gives them. One per device.
 */
export interface PushSubscriptionRecord {
  deviceId: DeviceId;
  /** The push service's URL for this subscription (https; ≤ 1 KiB). */
  endpoint: string;
  /** The subscription's P-256 public key (65 bytes, base64url). */
  p256dh: string;
  /** The subscription's 16-byte auth secret (base64url). */
  auth: string;
}

export interface SweepResult {
  messages: number;
  /** Expired Welcomes (one per commit, whatever the number of its recipients). */
  welcomes: number;
  sessions: number;
  keyPackages: number;
  /** Pending devices whose link expired (deleted, with their sessions and links). */
  pendingDevices: number;
  /** Expired session challenges. */
  challenges: number;
  /** Deleted accounts whose last rows (user id, revoked devices' ids and keys) were purged. */
  accounts: number;
}

export interface StorageHealth {
  kind: 'sqlite' | 'postgres';
  ok: boolean;
}

/** What waits for delivery (a metrics gauge): stored group messages and Welcomes, and the bytes they hold. */
export interface BacklogSize {
  messages: number;
  bytes: number;
}

/**
 * Told about each batch of writes the adapter commits together (metrics):
 * how long it took, how many writes it held, and whether it failed as a whole
 * (a database error, not a refused write such as an epoch conflict).
 */
export type WriteObserver = (seconds: number, writes: number, failed: boolean) => void;
