import { z } from 'zod';
import { DeviceIdSchema, GroupIdSchema, UserIdSchema, BlobDigestSchema } from './ids.js';
import { Base64UrlBytes, DayStringSchema, EpochSchema } from './schemas.js';

/**
 * HTTP request and response bodies (JSON). Binary fields here are small and
 * off the hot path (keys, key packages), so base64url is acceptable; message
 * ciphertext travels only in binary WebSocket frames and blob bodies.
 */

export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 1024;

/**
 * A device name as the user typed it. It never reaches the server in clear:
 * the user's devices encrypt it under their account key (see
 * EncryptedDeviceNameSchema); this schema is what a decrypted name must pass.
 */
export const DeviceNameSchema = z.string().trim().min(1).max(64);
/** Public MLS signature key of a device (Ed25519 is 32 bytes; room for other suites). */
export const SignatureKeySchema = Base64UrlBytes(32, 1024);

/**
 * A new device's registration, link request or reset. It carries no name: a
 * `name` sent by an older client is stripped here (unknown fields are), never
 * stored; the device uploads its name encrypted once it holds the account key
 * (PUT /v1/devices/:deviceId/name).
 */
export const NewDeviceSchema = z.object({
  signatureKey: SignatureKeySchema,
});

/** Upper bound of an encrypted device name (the reference client's are 293 bytes, whatever the name). */
export const ENCRYPTED_DEVICE_NAME_MAX_BYTES = 512;
/**
 * A device name sealed by the user's own devices (AES-256-GCM under a key
 * derived from their account key, bound to the user and device ids). Opaque
 * to the server: it checks only that it is canonical base64url of 32-512 bytes.
 */
export const EncryptedDeviceNameSchema = Base64UrlBytes(32, ENCRYPTED_DEVICE_NAME_MAX_BYTES);

/** PUT /v1/devices/:deviceId/name, by an active device of the same user. */
export const SetDeviceNameRequestSchema = z.object({
  encryptedName: EncryptedDeviceNameSchema,
});
export type SetDeviceNameRequest = z.infer<typeof SetDeviceNameRequestSchema>;

export const RegisterRequestSchema = z.object({
  username: z.string().max(128),
  password: z.string().min(PASSWORD_MIN).max(PASSWORD_MAX),
  device: NewDeviceSchema,
});
export type RegisterRequest = z.infer<typeof RegisterRequestSchema>;

/**
 * Signing in to an EXISTING device takes the password and a signature by
 * that device's key over a single-use challenge (POST /v1/sessions/challenge).
 * The password alone can only ask to link a new device (POST /v1/device-links).
 */
export const LoginRequestSchema = z.object({
  username: z.string().max(128),
  password: z.string().min(1).max(PASSWORD_MAX),
  device: z.object({
    deviceId: DeviceIdSchema,
    /** The challenge exactly as the server issued it. */
    challenge: z.string().min(16).max(128),
    /** Signature by the device's signature key over sessionChallengeMessage(deviceId, challenge). */
    signature: Base64UrlBytes(32, 512),
  }),
});
export type LoginRequest = z.infer<typeof LoginRequestSchema>;

export const SessionChallengeRequestSchema = z.object({
  username: z.string().max(128),
  deviceId: DeviceIdSchema,
});
export type SessionChallengeRequest = z.infer<typeof SessionChallengeRequestSchema>;

/**
 * A single-use challenge, valid for a minute. Issued for any well-formed
 * request (also for unknown users and devices), so it reveals nothing.
 */
export const SessionChallengeResponseSchema = z.object({
  challenge: z.string(),
  /** Unix seconds. */
  expiresAt: z.number().int(),
});
export type SessionChallengeResponse = z.infer<typeof SessionChallengeResponseSchema>;

export const AuthResponseSchema = z.object({
  userId: UserIdSchema,
  username: z.string(),
  deviceId: DeviceIdSchema,
  /** Bearer token; the server keeps only its hash. */
  token: z.string(),
});
export type AuthResponse = z.infer<typeof AuthResponseSchema>;

/** pending: linked with the password, waiting for an existing device's approval; never listed to others. */
export const DeviceStatusSchema = z.enum(['pending', 'active', 'revoked']);
export type DeviceStatus = z.infer<typeof DeviceStatusSchema>;

export const DeviceInfoSchema = z.object({
  id: DeviceIdSchema,
  /** Base64url, as a device of the user uploaded it (see EncryptedDeviceNameSchema); null until one did. */
  encryptedName: z.string().max(Math.ceil((ENCRYPTED_DEVICE_NAME_MAX_BYTES * 4) / 3)).nullable(),
  signatureKey: z.string(),
  createdDay: DayStringSchema,
  status: DeviceStatusSchema,
  /** status === 'revoked' (kept for older clients). */
  revoked: z.boolean(),
  /** Unix seconds, rounded up to the hour; null unless revoked. */
  revokedAt: z.number().int().nullable(),
  current: z.boolean(),
});
export type DeviceInfo = z.infer<typeof DeviceInfoSchema>;

export const DeviceListResponseSchema = z.object({ devices: z.array(DeviceInfoSchema) });
export type DeviceListResponse = z.infer<typeof DeviceListResponseSchema>;

/**
 * The directory clients authenticate MLS credentials against
 * (GET /v1/users/:username/devices and GET /v1/users/by-id/:userId/devices).
 * Revoked devices STAY listed, with their key and when they were revoked, so
 * that history (an old commit that added a since-revoked device) still
 * verifies; clients never add a revoked device. Pending devices are not listed.
 */
export const DirectoryDeviceSchema = z.object({
  id: DeviceIdSchema,
  signatureKey: z.string(),
  /** Unix seconds, rounded up to the hour; null while the device is active. */
  revokedAt: z.number().int().nullable(),
  /**
   * The same user's device that approved this one when it was linked; null for
   * a device that registered the account or reset the identity (and for devices
   * linked before approvals were kept).
   */
  approvedBy: DeviceIdSchema.nullable(),
  /**
   * Base64url: approvedBy's signature over linkApprovalMessage(userId, id,
   * signatureKey). Clients verify it before they add one of their own user's
   * new devices to a conversation; null exactly when approvedBy is.
   */
  approval: z.string().nullable(),
});
export type DirectoryDevice = z.infer<typeof DirectoryDeviceSchema>;

export const UserDevicesResponseSchema = z.object({
  userId: UserIdSchema,
  username: z.string(),
  devices: z.array(DirectoryDeviceSchema),
});
export type UserDevicesResponse = z.infer<typeof UserDevicesResponseSchema>;

/* ---------- linking a new device, starting over, password ---------- */

/** POST /v1/device-links: the password alone creates a PENDING device, nothing more. */
export const LinkDeviceRequestSchema = z.object({
  username: z.string().max(128),
  password: z.string().min(1).max(PASSWORD_MAX),
  device: NewDeviceSchema,
});
export type LinkDeviceRequest = z.infer<typeof LinkDeviceRequestSchema>;

/**
 * The pending device's session token only reaches GET /v1/device-links/current
 * and DELETE /v1/sessions/current until an existing device approves it.
 */
export const LinkDeviceResponseSchema = z.object({
  userId: UserIdSchema,
  username: z.string(),
  deviceId: DeviceIdSchema,
  token: z.string(),
  /** Unformatted link code (see formatLinkCode); shown on the new device and inside its QR code. */
  code: z.string(),
  /** Unix seconds. */
  expiresAt: z.number().int(),
});
export type LinkDeviceResponse = z.infer<typeof LinkDeviceResponseSchema>;

/** GET /v1/device-links/current, polled by the pending device. Rejected or expired → 401 on this call. */
export const LinkStatusResponseSchema = z.object({
  state: z.enum(['pending', 'approved']),
  expiresAt: z.number().int(),
});
export type LinkStatusResponse = z.infer<typeof LinkStatusResponseSchema>;

/**
 * GET /v1/device-links/:code, by an active device of the same user: what it is
 * about to approve. No name: the server never holds one in clear, and a
 * pending device has not uploaded an encrypted one yet.
 */
export const PendingDeviceResponseSchema = z.object({
  deviceId: DeviceIdSchema,
  signatureKey: z.string(),
  createdDay: DayStringSchema,
  expiresAt: z.number().int(),
});
export type PendingDeviceResponse = z.infer<typeof PendingDeviceResponseSchema>;

/** POST /v1/device-links/:code/approve */
export const ApproveLinkRequestSchema = z.object({
  /** The device being approved (as GET /v1/device-links/:code named it). */
  deviceId: DeviceIdSchema,
  /** By the approving device's key over linkApprovalMessage(userId, deviceId, its signature key). */
  signature: Base64UrlBytes(32, 512),
});
export type ApproveLinkRequest = z.infer<typeof ApproveLinkRequestSchema>;

/**
 * POST /v1/identity-resets: for a user who lost every device. Revokes ALL the
 * user's devices and registers this one as the only device: a new identity.
 * Every contact's safety number changes (clients show it in each chat).
 */
export const ResetIdentityRequestSchema = z.object({
  username: z.string().max(128),
  password: z.string().min(1).max(PASSWORD_MAX),
  device: NewDeviceSchema,
});
export type ResetIdentityRequest = z.infer<typeof ResetIdentityRequestSchema>;

/** POST /v1/account/password */
export const ChangePasswordRequestSchema = z.object({
  currentPassword: z.string().min(1).max(PASSWORD_MAX),
  newPassword: z.string().min(PASSWORD_MIN).max(PASSWORD_MAX),
  /** Also end every session except the caller's (their devices must sign in again with their keys). */
  signOutOthers: z.boolean().default(false),
});
export type ChangePasswordRequest = z.infer<typeof ChangePasswordRequestSchema>;

/**
 * POST /v1/account/deletion (signed in): deletes the caller's account.
 * Re-authenticated like a sign-in: the password AND a signature by the
 * calling device's key over accountDeletionMessage(userId, deviceId,
 * challenge), the challenge issued by POST /v1/sessions/challenge for this
 * device (single use, consumed whatever the outcome).
 */
export const DeleteAccountRequestSchema = z.object({
  password: z.string().min(1).max(PASSWORD_MAX),
  challenge: z.string().min(16).max(128),
  signature: Base64UrlBytes(32, 512),
});
export type DeleteAccountRequest = z.infer<typeof DeleteAccountRequestSchema>;

export const MAX_KEY_PACKAGE_BYTES = 16 * 1024;
export const MAX_KEY_PACKAGES_PER_UPLOAD = 200;

export const KeyPackageInSchema = z.object({
  ciphersuite: z.number().int().min(1).max(0xffff),
  /** Unix seconds; from the KeyPackage's lifetime extension. */
  expiresAt: z.number().int().min(0).max(2 ** 40),
  data: Base64UrlBytes(8, MAX_KEY_PACKAGE_BYTES),
});

export const KeyPackageUploadSchema = z.object({
  keyPackages: z.array(KeyPackageInSchema).max(MAX_KEY_PACKAGES_PER_UPLOAD),
  lastResort: KeyPackageInSchema.optional(),
});
export type KeyPackageUpload = z.infer<typeof KeyPackageUploadSchema>;

export const KeyPackageStockSchema = z.object({
  available: z.number().int(),
  lastResort: z.boolean(),
  low: z.boolean(),
  lowWatermark: z.number().int(),
});
export type KeyPackageStock = z.infer<typeof KeyPackageStockSchema>;

export const MAX_CLAIM_DEVICES = 2000;

export const ClaimKeyPackagesRequestSchema = z.object({
  deviceIds: z
    .array(DeviceIdSchema)
    .min(1)
    .max(MAX_CLAIM_DEVICES)
    .refine((ids) => new Set(ids).size === ids.length, 'device ids must be unique'),
});
export type ClaimKeyPackagesRequest = z.infer<typeof ClaimKeyPackagesRequestSchema>;

export const ClaimKeyPackagesResponseSchema = z.object({
  keyPackages: z.array(
    z.object({ deviceId: DeviceIdSchema, ciphersuite: z.number().int(), data: z.string(), lastResort: z.boolean() }),
  ),
  /** Devices with neither a fresh nor a last-resort package (or unknown/revoked). */
  missing: z.array(DeviceIdSchema),
});
export type ClaimKeyPackagesResponse = z.infer<typeof ClaimKeyPackagesResponseSchema>;

export const CreateGroupRequestSchema = z.object({ groupId: GroupIdSchema });
export type CreateGroupRequest = z.infer<typeof CreateGroupRequestSchema>;

export const GroupInfoResponseSchema = z.object({
  groupId: GroupIdSchema,
  epoch: EpochSchema,
  devices: z.array(DeviceIdSchema),
  /** Latest MLS GroupInfo (with ratchet tree) uploaded with a commit, base64url. */
  groupInfo: z.string().optional(),
  /**
   * The highest seq assigned in the group so far. A device whose reply to a send was lost compares it with what it
   * received: the server does not deliver a device's own message back to it once it had acknowledged everything before.
   */
  lastSeq: z.number().int().min(0).optional(),
});
export type GroupInfoResponse = z.infer<typeof GroupInfoResponseSchema>;

/**
 * Per-group retention (disappearing messages), in seconds: the server keeps
 * the group's stored application messages (and the attachments they
 * reference) at most this long. Only these values: the clients' disappearing
 * timers (5 minutes, 1 hour, 1 day, 1 week, 4 weeks); null: the server's default.
 */
export const GROUP_RETENTION_SECONDS = [300, 3600, 86_400, 604_800, 2_419_200] as const;
export const GroupRetentionSchema = z
  .number()
  .int()
  .refine((s) => (GROUP_RETENTION_SECONDS as readonly number[]).includes(s), 'not an allowed retention')
  .nullable();

/**
 * PUT /v1/groups/:groupId/retention, by a member device: `seq` is the group
 * seq of the (encrypted) settings message that set the timer. A setting older
 * than the one in force (lower seq) changes nothing, so devices that process
 * the group's history late cannot undo a newer setting; answered with the
 * retention in force afterwards.
 */
export const SetGroupRetentionRequestSchema = z.object({ seconds: GroupRetentionSchema, seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER) });
export type SetGroupRetentionRequest = z.infer<typeof SetGroupRetentionRequestSchema>;
export const GroupRetentionResponseSchema = z.object({ seconds: GroupRetentionSchema });
export type GroupRetentionResponse = z.infer<typeof GroupRetentionResponseSchema>;

export const GroupListResponseSchema = z.object({
  groups: z.array(z.object({ groupId: GroupIdSchema, epoch: EpochSchema })),
});
export type GroupListResponse = z.infer<typeof GroupListResponseSchema>;

export const BlobUploadResponseSchema = z.object({ digest: BlobDigestSchema, size: z.number().int() });
export type BlobUploadResponse = z.infer<typeof BlobUploadResponseSchema>;

export const HealthResponseSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  version: z.string(),
  protocol: z.array(z.number()),
  storage: z.object({ kind: z.enum(['sqlite', 'postgres']), ok: z.boolean() }),
  bus: z.object({ kind: z.enum(['memory', 'nats']), ok: z.boolean() }),
});
export type HealthResponse = z.infer<typeof HealthResponseSchema>;
