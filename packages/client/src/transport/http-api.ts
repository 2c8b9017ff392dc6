import {
  AuthResponseSchema,
  BlobUploadResponseSchema,
  ClaimKeyPackagesResponseSchema,
  DeviceListResponseSchema,
  ErrorBodySchema,
  GroupInfoResponseSchema,
  GroupRetentionResponseSchema,
  isErrorCode,
  KeyPackageStockSchema,
  LinkDeviceResponseSchema,
  LinkStatusResponseSchema,
  PendingDeviceResponseSchema,
  ProfileResponseSchema,
  SessionChallengeResponseSchema,
  toBase64Url,
  UserDevicesResponseSchema,
  VapidKeyResponseSchema,
} from '@parley/protocol';
import type {
  AuthResponse,
  BlobDigest,
  BlobUploadResponse,
  ClaimKeyPackagesResponse,
  DeviceId,
  DeviceListResponse,
  GroupId,
  GroupInfoResponse,
  GroupRetentionResponse,
  KeyPackageStock,
  LinkDeviceResponse,
  LinkStatusResponse,
  PendingDeviceResponse,
  ProfileResponse,
  ProfileVersion,
  PutPushSubscriptionRequest,
  SessionChallengeResponse,
  UserDevicesResponse,
  UserId,
} from '@parley/protocol';
import type { z } from 'zod';
import { ClientError } from '../errors.js';

/** Key packages and signature keys travel as base64url strings in JSON bodies. */
export interface KeyPackageUploadBody {
  keyPackages: Array<{ ciphersuite: number; expiresAt: number; data: string }>;
  lastResort?: { ciphersuite: number; expiresAt: number; data: string };
}

/** A new device as the server sees it: its key only (its name goes up encrypted later, setDeviceName). */
export interface NewDeviceBody {
  signatureKey: string;
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/**
 * The server's HTTP API, every response validated against its protocol
 * schema. Uses the runtime's fetch (browsers, Node ≥ 18).
 */
export class HttpApi {
  token: string | undefined;
  /** Called when the server says the signed-in session no longer exists (signed out elsewhere, password reset). */
  onSessionEnded: ((err: ClientError) => void) | undefined;

  constructor(private readonly baseUrl: string) {}

  /** `token`: a session other than the signed-in one (a pending device's, while it waits for approval). */
  private async call(method: Method, path: string, options: { json?: unknown; raw?: Uint8Array; auth?: boolean; token?: string; timeoutMs?: number } = {}): Promise<Response> {
    const headers: Record<string, string> = {};
    const token = options.auth === false ? undefined : (options.token ?? this.token);
    if (options.auth !== false) {
      if (token === undefined) throw new ClientError('not_logged_in', 'not signed in');
      headers['authorization'] = `Bearer ${token}`;
    }
    // ArrayBuffer-backed (never shared), as fetch's DOM typing wants.
    let body: string | Uint8Array<ArrayBuffer> | undefined;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.raw !== undefined) {
      headers['content-type'] = 'application/octet-stream';
      body = options.raw as Uint8Array<ArrayBuffer>;
    }
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, { method, headers, ...(body === undefined ? {} : { body }), ...(options.timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(options.timeoutMs) }) });
    } catch (err) {
      throw new ClientError('network', `${method} request failed`, { cause: err });
    }
    if (!res.ok) {
      try {
        await this.fail(res);
      } catch (err) {
        if (err instanceof ClientError && err.code === 'unauthenticated' && token !== undefined && token === this.token && options.token === undefined) this.onSessionEnded?.(err);
        throw err;
      }
    }
    return res;
  }

  private async fail(res: Response): Promise<never> {
    let json: unknown;
    try {
      json = await res.json();
    } catch {
      json = undefined;
    }
    const parsed = ErrorBodySchema.safeParse(json);
    if (parsed.success && isErrorCode(parsed.data.code)) {
      throw new ClientError(parsed.data.code, parsed.data.message, { detail: parsed.data.detail, server: true });
    }
    throw new ClientError('bad_response', `server answered ${res.status} without a valid error body`);
  }

  private async json<S extends z.ZodType>(schema: S, res: Response): Promise<z.output<S>> {
    let json: unknown;
    try {
      json = await res.json();
    } catch (err) {
      throw new ClientError('bad_response', 'response is not JSON', { cause: err });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new ClientError('bad_response', `response does not match the protocol: ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`);
    return parsed.data;
  }

  async register(username: string, password: string, device: NewDeviceBody): Promise<AuthResponse> {
    return this.json(AuthResponseSchema, await this.call('POST', '/v1/accounts', { json: { username, password, device }, auth: false }));
  }

  async sessionChallenge(username: string, deviceId: DeviceId): Promise<SessionChallengeResponse> {
    return this.json(SessionChallengeResponseSchema, await this.call('POST', '/v1/sessions/challenge', { json: { username, deviceId }, auth: false }));
  }

  /** Signs in to an existing device: the password and the device's signature over its challenge. */
  async login(body: { username: string; password: string; device: { deviceId: DeviceId; challenge: string; signature: string } }): Promise<AuthResponse> {
    return this.json(AuthResponseSchema, await this.call('POST', '/v1/sessions', { json: body, auth: false }));
  }

  /** Asks to link a new device: a pending device and its own session, nothing more. */
  async linkDevice(username: string, password: string, device: NewDeviceBody): Promise<LinkDeviceResponse> {
    return this.json(LinkDeviceResponseSchema, await this.call('POST', '/v1/device-links', { json: { username, password, device }, auth: false }));
  }

  /** Polled by the pending device with its own token; rejected or expired: 401. */
  async linkStatus(pendingToken: string): Promise<LinkStatusResponse> {
    return this.json(LinkStatusResponseSchema, await this.call('GET', '/v1/device-links/current', { token: pendingToken }));
  }

  async pendingDevice(code: string): Promise<PendingDeviceResponse> {
    return this.json(PendingDeviceResponseSchema, await this.call('GET', `/v1/device-links/${encodeURIComponent(code)}`));
  }

  async approveLink(code: string, body: { deviceId: DeviceId; signature: string }): Promise<void> {
    await this.call('POST', `/v1/device-links/${encodeURIComponent(code)}/approve`, { json: body });
  }

  async rejectLink(code: string): Promise<void> {
    await this.call('DELETE', `/v1/device-links/${encodeURIComponent(code)}`);
  }

  async resetIdentity(username: string, password: string, device: NewDeviceBody): Promise<AuthResponse> {
    return this.json(AuthResponseSchema, await this.call('POST', '/v1/identity-resets', { json: { username, password, device }, auth: false }));
  }

  async changePassword(body: { currentPassword: string; newPassword: string; signOutOthers: boolean }): Promise<void> {
    await this.call('POST', '/v1/account/password', { json: body });
  }

  /** Deletes the account: the password and this device's signature over accountDeletionMessage (see devices/sign-in.ts). */
  async deleteAccount(body: { password: string; challenge: string; signature: string }): Promise<void> {
    await this.call('POST', '/v1/account/deletion', { json: body });
  }

  async logout(options: { timeoutMs?: number; token?: string } = {}): Promise<void> {
    await this.call('DELETE', '/v1/sessions/current', { ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }), ...(options.token === undefined ? {} : { token: options.token }) });
  }

  async devices(): Promise<DeviceListResponse> {
    return this.json(DeviceListResponseSchema, await this.call('GET', '/v1/devices'));
  }

  /** Stores the encrypted name (base64url) of one of this user's devices. */
  async setDeviceName(deviceId: DeviceId, encryptedName: string): Promise<void> {
    await this.call('PUT', `/v1/devices/${encodeURIComponent(deviceId)}/name`, { json: { encryptedName } });
  }

  async revokeDevice(deviceId: DeviceId): Promise<void> {
    await this.call('DELETE', `/v1/devices/${encodeURIComponent(deviceId)}`);
  }

  async userDevices(username: string): Promise<UserDevicesResponse> {
    return this.json(UserDevicesResponseSchema, await this.call('GET', `/v1/users/${encodeURIComponent(username)}/devices`));
  }

  async userDevicesById(userId: UserId): Promise<UserDevicesResponse> {
    return this.json(UserDevicesResponseSchema, await this.call('GET', `/v1/users/by-id/${encodeURIComponent(userId)}/devices`));
  }

  async uploadKeyPackages(body: KeyPackageUploadBody): Promise<KeyPackageStock> {
    return this.json(KeyPackageStockSchema, await this.call('POST', '/v1/key-packages', { json: body }));
  }

  async keyPackageStock(): Promise<KeyPackageStock> {
    return this.json(KeyPackageStockSchema, await this.call('GET', '/v1/key-packages'));
  }

  async claimKeyPackages(deviceIds: readonly DeviceId[]): Promise<ClaimKeyPackagesResponse> {
    return this.json(ClaimKeyPackagesResponseSchema, await this.call('POST', '/v1/key-packages/claim', { json: { deviceIds } }));
  }

  async createGroup(groupId: GroupId): Promise<GroupInfoResponse> {
    return this.json(GroupInfoResponseSchema, await this.call('POST', '/v1/groups', { json: { groupId } }));
  }

  async group(groupId: GroupId): Promise<GroupInfoResponse> {
    return this.json(GroupInfoResponseSchema, await this.call('GET', `/v1/groups/${encodeURIComponent(groupId)}`));
  }

  /** Disappearing messages: the group's retention on the server, as the settings message at `seq` set it. */
  async setGroupRetention(groupId: GroupId, seconds: number | null, seq: number): Promise<GroupRetentionResponse> {
    return this.json(GroupRetentionResponseSchema, await this.call('PUT', `/v1/groups/${encodeURIComponent(groupId)}/retention`, { json: { seconds, seq } }));
  }

  async putBlob(digest: BlobDigest, bytes: Uint8Array): Promise<BlobUploadResponse> {
    return this.json(BlobUploadResponseSchema, await this.call('PUT', `/v1/blobs/${digest}`, { raw: bytes }));
  }

  async getBlob(digest: BlobDigest): Promise<Uint8Array> {
    const res = await this.call('GET', `/v1/blobs/${digest}`);
    return new Uint8Array(await res.arrayBuffer());
  }

  /**
   * Stores this user's encrypted profile, replacing the previous one (whose
   * version stops resolving). `version`: base64url of the 32 bytes derived
   * from the profile key; `pictureBlob`: an uploaded blob's digest or null.
   * Errors: not_found (detail.blob: the picture was not uploaded), profile_version_taken.
   */
  async putProfile(body: { version: ProfileVersion | string; ciphertext: Uint8Array; pictureBlob: BlobDigest | null }): Promise<void> {
    await this.call('PUT', '/v1/profile', { json: { version: body.version, ciphertext: toBase64Url(body.ciphertext), pictureBlob: body.pictureBlob } });
  }

  /** The profile stored under `version` (base64url), or null when there is none (404 not_found). */
  async getProfile(version: ProfileVersion | string): Promise<ProfileResponse | null> {
    try {
      return await this.json(ProfileResponseSchema, await this.call('GET', `/v1/profiles/${encodeURIComponent(version)}`));
    } catch (err) {
      if (err instanceof ClientError && err.code === 'not_found' && err.server) return null;
      throw err;
    }
  }

  /** Deletes this user's profile (and releases its picture blob); succeeds when there is none. */
  async deleteProfile(): Promise<void> {
    await this.call('DELETE', '/v1/profile');
  }

  /** The server's VAPID public key (base64url, 65 bytes): the Push API's applicationServerKey. */
  async pushVapidKey(): Promise<string> {
    return (await this.json(VapidKeyResponseSchema, await this.call('GET', '/v1/push/vapid-key'))).publicKey;
  }

  /** Registers this device's Web Push subscription (PushSubscription.toJSON()), replacing its previous one. Errors: bad_request. */
  async putPushSubscription(sub: PutPushSubscriptionRequest): Promise<void> {
    await this.call('PUT', '/v1/push/subscription', { json: { endpoint: sub.endpoint, keys: { p256dh: sub.keys.p256dh, auth: sub.keys.auth } } });
  }

  /** Deletes this device's Web Push subscription (none is fine): no more wake-ups. */
  async deletePushSubscription(): Promise<void> {
    await this.call('DELETE', '/v1/push/subscription');
  }
}
