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

export const DeviceNameSchema = z.string().trim().min(1).max(64);
/** Public MLS signature key of a device (Ed25519 is 32 bytes; room for other suites). */
export const SignatureKeySchema = Base64UrlBytes(32, 1024);

export const NewDeviceSchema = z.object({
  name: DeviceNameSchema,
  signatureKey: SignatureKeySchema,
});

export const RegisterRequestSchema = z.object({
  username: z.string().max(128),
  password: z.string().min(PASSWORD_MIN).max(PASSWORD_MAX),
  device: NewDeviceSchema,
});
export type RegisterRequest = z.infer<typeof RegisterRequestSchema>;

export const LoginRequestSchema = z.object({
  username: z.string().max(128),
  password: z.string().min(1).max(PASSWORD_MAX),
  /** Either a new device (name + key) or an existing, unrevoked device of this account. */
  device: z.union([NewDeviceSchema, z.object({ deviceId: DeviceIdSchema })]),
});
export type LoginRequest = z.infer<typeof LoginRequestSchema>;

export const AuthResponseSchema = z.object({
  userId: UserIdSchema,
  username: z.string(),
  deviceId: DeviceIdSchema,
  /** Bearer token; the server keeps only its hash. */
  token: z.string(),
});
export type AuthResponse = z.infer<typeof AuthResponseSchema>;

export const DeviceInfoSchema = z.object({
  id: DeviceIdSchema,
  name: z.string(),
  signatureKey: z.string(),
  createdDay: DayStringSchema,
  revoked: z.boolean(),
  current: z.boolean(),
});
export type DeviceInfo = z.infer<typeof DeviceInfoSchema>;

export const DeviceListResponseSchema = z.object({ devices: z.array(DeviceInfoSchema) });
export type DeviceListResponse = z.infer<typeof DeviceListResponseSchema>;

export const UserDevicesResponseSchema = z.object({
  userId: UserIdSchema,
  username: z.string(),
  devices: z.array(z.object({ id: DeviceIdSchema, signatureKey: z.string() })),
});
export type UserDevicesResponse = z.infer<typeof UserDevicesResponseSchema>;

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
});
export type GroupInfoResponse = z.infer<typeof GroupInfoResponseSchema>;

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
