import { createDeviceIdentity, generateDeviceKey } from '@parley/crypto';
import type { DeviceIdentity } from '@parley/crypto';
import { encodeLinkUri, formatLinkCode, toBase64Url } from '@parley/protocol';
import type { AuthResponse, DeviceId, LinkDeviceResponse } from '@parley/protocol';
import { ClientError } from '../errors.js';
import type { HttpApi } from '../transport/http-api.js';

/** A new device waiting for one of the user's existing devices to approve it (see ParleyClient.linkDevice). */
export interface DeviceLink {
  /** Formatted for display, e.g. "ABCDE-FGHJK". */
  readonly code: string;
  /** The QR payload: the code plus the exact key the approving device must find. */
  readonly uri: string;
  readonly deviceId: DeviceId;
  /** This device's name, for the waiting screen (local: the approving device is not told it). */
  readonly deviceName: string;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
  /**
   * Resolves once an existing device approved the link and this client is
   * signed in (account stored, key packages uploaded, connected). Rejects
   * with ClientError('link_expired' | 'link_rejected' | 'closed').
   */
  readonly approved: Promise<void>;
  /** Withdraws the request (signs the pending session out); `approved` rejects with 'closed'. */
  cancel(): Promise<void>;
}

export interface LinkOptions {
  /** How often to ask whether the link was approved. */
  pollMs: number;
  /** Called once approved: store the account and start (the client's adopt). */
  onApproved(auth: AuthResponse, identity: DeviceIdentity): Promise<void>;
}

/**
 * Asks to link a new device with the password: the server creates a PENDING
 * device (new key, nothing stored locally yet) that can read nothing until
 * approved. The private key stays in memory until then.
 */
export async function requestLink(api: HttpApi, deviceName: string, username: string, password: string, options: LinkOptions): Promise<PendingLink> {
  const key = await generateDeviceKey();
  // The name stays on this device until it holds the account key (device-names.ts); the server never gets it in clear.
  const res = await api.linkDevice(username, password, { signatureKey: toBase64Url(key.signaturePublicKey) });
  const identity = createDeviceIdentity(key, { userId: res.userId, deviceId: res.deviceId });
  return new PendingLink(api, res, identity, deviceName, options);
}

export class PendingLink implements DeviceLink {
  readonly code: string;
  readonly uri: string;
  readonly deviceId: DeviceId;
  readonly expiresAt: number;
  readonly approved: Promise<void>;
  private settle: { resolve(): void; reject(err: ClientError): void } | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly api: HttpApi,
    private readonly link: LinkDeviceResponse,
    private readonly identity: DeviceIdentity,
    readonly deviceName: string,
    private readonly options: LinkOptions,
  ) {
    this.code = formatLinkCode(link.code);
    this.uri = encodeLinkUri({ code: link.code, userId: link.userId, deviceId: link.deviceId, signatureKey: identity.signaturePublicKey });
    this.deviceId = link.deviceId;
    this.expiresAt = link.expiresAt * 1000;
    this.approved = new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // The app may never await it (e.g. it only cancels): that must not be an unhandled rejection.
    this.approved.catch(() => undefined);
    this.schedule();
  }

  get pending(): boolean {
    return this.settle !== undefined;
  }

  private schedule(): void {
    if (this.settle === undefined) return;
    this.timer = setTimeout(() => void this.poll(), this.options.pollMs);
  }

  private finish(err?: ClientError): void {
    const settle = this.settle;
    this.settle = undefined;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (err === undefined) settle?.resolve();
    else settle?.reject(err);
  }

  private async poll(): Promise<void> {
    this.timer = undefined;
    if (this.settle === undefined) return;
    let state: 'pending' | 'approved';
    try {
      state = (await this.api.linkStatus(this.link.token)).state;
    } catch (err) {
      if (this.settle === undefined) return;
      if (err instanceof ClientError && (err.code === 'unauthenticated' || err.code === 'device_revoked')) {
        // The server ends the pending session when the link is rejected or expires.
        this.finish(Date.now() >= this.expiresAt ? new ClientError('link_expired', 'the link code expired before it was approved') : new ClientError('link_rejected', 'the link was rejected'));
        return;
      }
      if (Date.now() >= this.expiresAt) {
        this.finish(new ClientError('link_expired', 'the link code expired before it was approved', { cause: err }));
        return;
      }
      this.schedule(); // a network blip: ask again
      return;
    }
    if (this.settle === undefined) return;
    if (state === 'pending') {
      this.schedule();
      return;
    }
    const auth: AuthResponse = { userId: this.link.userId, username: this.link.username, deviceId: this.link.deviceId, token: this.link.token };
    const settle = this.settle;
    this.settle = undefined;
    try {
      await this.options.onApproved(auth, this.identity);
      settle.resolve();
    } catch (err) {
      settle.reject(err instanceof ClientError ? err : new ClientError('internal', 'could not start the approved device', { cause: err }));
    }
  }

  async cancel(): Promise<void> {
    if (this.settle === undefined) return;
    this.finish(new ClientError('closed', 'the link was cancelled'));
    try {
      await this.api.logout({ token: this.link.token, timeoutMs: 5_000 });
    } catch {
      // Gone already, or unreachable: it expires by itself.
    }
  }
}
