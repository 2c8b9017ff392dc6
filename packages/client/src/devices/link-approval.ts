import { signWithDevice } from '@parley/crypto';
import type { DeviceIdentity } from '@parley/crypto';
import { bytesEqual, fromBase64Url, linkApprovalMessage, normalizeLinkCode, parseLinkUri, toBase64Url } from '@parley/protocol';
import type { DeviceId, LinkUri, PendingDeviceResponse } from '@parley/protocol';
import { ClientError } from '../errors.js';
import type { HttpApi } from '../transport/http-api.js';

/**
 * A device waiting for approval, as the approving device shows it. It has no
 * name: the server holds names only encrypted, and a pending device has none
 * yet (it uploads its name once approved and given the account key).
 */
export interface PendingDevice {
  readonly deviceId: DeviceId;
  /** YYYY-MM-DD (UTC) */
  readonly createdDay: string;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
  /** True when a QR code was given and its key equals the one the server holds (a typed code cannot check this). */
  readonly keyChecked: boolean;
}

/** approveLink's options. */
export interface ApproveLinkOptions {
  /**
   * How much of the history this device sends the new one once it is added
   * (history/): 'none' (default), 'month' (received in the last 30 days) or
   * 'all'. The archive goes encrypted as blobs; its key only in the self group.
   */
  readonly history?: 'none' | 'month' | 'all';
}

interface Inspected {
  code: string;
  pending: PendingDeviceResponse;
  key: Uint8Array;
  keyChecked: boolean;
}

/**
 * The approving side of linking, on an active device of the same user.
 * With a QR code the new device's key travels device to device, so a server
 * that substitutes its own key is caught (link_key_mismatch); the approval
 * itself is this device's signature over the user, the new device and that
 * exact key, so it cannot activate another key.
 */
export class LinkApproval {
  constructor(
    private readonly api: HttpApi,
    private readonly identity: DeviceIdentity,
  ) {}

  async inspect(codeOrUri: string): Promise<PendingDevice> {
    const { pending, keyChecked } = await this.lookup(codeOrUri);
    return { deviceId: pending.deviceId, createdDay: pending.createdDay, expiresAt: pending.expiresAt * 1000, keyChecked };
  }

  /** Returns the id of the device it approved. */
  async approve(codeOrUri: string): Promise<DeviceId> {
    const { code, pending, key } = await this.lookup(codeOrUri);
    const signature = await signWithDevice(this.identity, linkApprovalMessage(this.identity.userId, pending.deviceId, key));
    await notFoundAsLink(this.api.approveLink(code, { deviceId: pending.deviceId, signature: toBase64Url(signature) }));
    return pending.deviceId;
  }

  async reject(codeOrUri: string): Promise<void> {
    const { code } = parse(codeOrUri);
    await notFoundAsLink(this.api.rejectLink(code));
  }

  private async lookup(codeOrUri: string): Promise<Inspected> {
    const { code, uri } = parse(codeOrUri);
    const pending = await notFoundAsLink(this.api.pendingDevice(code));
    const key = fromBase64Url(pending.signatureKey);
    if (key === undefined) throw new ClientError('bad_response', 'the pending device key is not base64url');
    if (uri !== undefined) {
      if (uri.userId !== this.identity.userId) throw new ClientError('link_not_found', 'this QR code is for another account');
      if (uri.deviceId !== pending.deviceId || !bytesEqual(uri.signatureKey, key)) {
        throw new ClientError('link_key_mismatch', "the server's key for this device differs from the QR code's: do not approve");
      }
    }
    return { code, pending, key, keyChecked: uri !== undefined };
  }
}

function parse(codeOrUri: string): { code: string; uri?: LinkUri } {
  const uri = parseLinkUri(codeOrUri);
  if (uri !== undefined) return { code: uri.code, uri };
  const code = normalizeLinkCode(codeOrUri);
  if (code === undefined) throw new ClientError('link_not_found', 'not a link code');
  return { code };
}

async function notFoundAsLink<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof ClientError && err.code === 'not_found') throw new ClientError('link_not_found', 'no pending link with this code', { cause: err });
    throw err;
  }
}
