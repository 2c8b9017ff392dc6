import { createDeviceIdentity, exportDeviceIdentity, generateDeviceKey } from '@parley/crypto';
import type { DeviceIdentity } from '@parley/crypto';
import { DeviceNameSchema, toBase64Url } from '@parley/protocol';
import type { AuthResponse } from '@parley/protocol';
import type { ClientCore } from '../core/context.js';
import { DEFAULT_DEVICE_NAME } from '../core/session.js';
import { requestLink } from '../devices/device-link.js';
import type { DeviceLink, PendingLink } from '../devices/device-link.js';
import { signIn, startOver } from '../devices/sign-in.js';
import { ClientError } from '../errors.js';
import { StoreBatch } from '../store/records.js';
import type { AccountRecord } from '../store/records.js';

const LINK_POLL_MS = 1_500;

/** What account set-up needs from the client: the core, two options, and starting or dropping a session. */
export interface AccountHost {
  readonly core: ClientCore;
  readonly options: { deviceName?: string; linkPollMs?: number };
  start(account: AccountRecord, identity: DeviceIdentity, options?: { uploadKeyPackages?: boolean }): Promise<void>;
  /** Drops a session the server ended, so that a new one can start. */
  endSession(): void;
}

/**
 * How a store comes to hold a device of an account: registering, signing in
 * again, linking a new device (approved on an existing one), starting over.
 * The calls are documented on ParleyClient, which delegates here.
 */
export class AccountSetup {
  private pending: PendingLink | undefined;

  constructor(private readonly host: AccountHost) {}

  private get core(): ClientCore {
    return this.host.core;
  }

  /** Stops a link request still waiting for approval (close()). */
  async cancelLink(): Promise<void> {
    await this.pending?.cancel();
  }

  async register(username: string, password: string): Promise<void> {
    await this.requireNoSession();
    const key = await generateDeviceKey();
    const deviceName = this.deviceName();
    const auth = await this.core.api.register(username, password, { signatureKey: toBase64Url(key.signaturePublicKey) });
    await this.adopt(auth, createDeviceIdentity(key, { userId: auth.userId, deviceId: auth.deviceId }), deviceName);
  }

  async login(username: string, password: string): Promise<void> {
    const current = this.core.current();
    if (current !== undefined && !current.ended) throw new ClientError('already_logged_in', 'this client is already signed in');
    const stored = await this.core.repo.account();
    if (stored === undefined) throw new ClientError('new_device', 'this store holds no device of this account: link it from an existing device, or start over');
    const { auth, identity } = await signIn(this.core.api, stored, username, password);
    const account = { ...stored, token: auth.token };
    await this.core.repo.commit(new StoreBatch().putAccount(account));
    this.host.endSession();
    await this.host.start(account, identity);
  }

  async linkDevice(username: string, password: string): Promise<DeviceLink> {
    await this.requireNoSession();
    if (this.pending?.pending === true) throw new ClientError('already_logged_in', 'a link request is already waiting');
    const deviceName = this.deviceName();
    this.pending = await requestLink(this.core.api, deviceName, username, password, {
      pollMs: this.host.options.linkPollMs ?? LINK_POLL_MS,
      onApproved: async (auth, identity) => {
        if (this.core.isClosed()) throw new ClientError('closed', 'the client was closed');
        await this.adopt(auth, identity, deviceName);
      },
    });
    return this.pending;
  }

  async resetIdentity(username: string, password: string): Promise<void> {
    await this.requireNoSession();
    const deviceName = this.deviceName();
    const { auth, identity } = await startOver(this.core.api, username, password);
    await this.adopt(auth, identity, deviceName);
  }

  /** The name from the options, checked before anything is sent (bad_request for one that is not 1-64 characters). */
  private deviceName(): string {
    const name = DeviceNameSchema.safeParse(this.host.options.deviceName ?? DEFAULT_DEVICE_NAME);
    if (!name.success) throw new ClientError('bad_request', 'a device name is 1-64 characters');
    return name.data;
  }

  private async requireNoSession(): Promise<void> {
    if (this.core.isClosed()) throw new ClientError('closed', 'the client is closed');
    if (this.core.current() !== undefined || (await this.core.repo.account()) !== undefined) {
      throw new ClientError('already_logged_in', 'this store already holds an account');
    }
  }

  private async adopt(auth: AuthResponse, identity: DeviceIdentity, deviceName: string): Promise<void> {
    const account: AccountRecord = {
      userId: auth.userId,
      username: auth.username,
      deviceId: auth.deviceId,
      token: auth.token,
      identity: exportDeviceIdentity(identity),
      deviceName,
    };
    await this.core.repo.commit(new StoreBatch().putAccount(account));
    this.core.api.token = auth.token;
    await this.host.start(account, identity, { uploadKeyPackages: true });
  }
}
