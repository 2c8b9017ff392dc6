import type { DeviceIdentity } from '@parley/crypto';
import type { GroupId } from '@parley/protocol';
import type { AccountSetup } from '../account/account.js';
import { checkCredentials, deleteAccountOnServer } from '../devices/sign-in.js';
import { ClientError } from '../errors.js';
import { sessionHooks, startFeatures } from '../features.js';
import type { Features } from '../features.js';
import type { ClientOptions } from '../options.js';
import type { AccountRecord } from '../store/records.js';
import type { Inbox } from '../sync/inbox.js';
import type { LogoutOptions } from '../types.js';
import type { ClientCore, Session } from './context.js';
import type { GroupState } from './group-state.js';
import type { Outbox } from './outbox.js';
import { buildSession, upgradeAccount } from './session.js';

/** A wiping logout does not wait longer than this for the server (an unreachable one must not keep the data). */
const WIPE_LOGOUT_TIMEOUT_MS = 5_000;
/** Deleting the account waits at most this long for leaving each conversation (best effort). */
const DELETE_LEAVE_TIMEOUT_MS = 5_000;

export interface LifecycleDeps {
  readonly core: ClientCore;
  readonly state: GroupState;
  readonly outbox: Outbox;
  readonly inbox: Inbox;
  readonly options: ClientOptions;
  /** Made after this object (they take the core, whose closures read this one). */
  readonly features: () => Features;
  readonly accountSetup: () => AccountSetup;
}

/**
 * A device's session from start to end: starting one (after register, login,
 * link or resume), the server ending it, signing out (with or without wiping
 * the store), deleting the account, and closing the client. It holds the one
 * `Session` the core's `session()`/`current()` hand out, whether the client is
 * closed, and the self group's id (hidden from every event).
 */
export class SessionLifecycle {
  session: Session | undefined;
  closed = false;
  /** This user's self group: never listed, and no conversation, membership or message event names it. */
  hiddenGroup: GroupId | undefined;

  constructor(private readonly d: LifecycleDeps) {}

  /** The live session; `closed` or `not_logged_in` otherwise. */
  require(): Session {
    if (this.closed) throw new ClientError('closed', 'the client is closed');
    if (this.session === undefined) throw new ClientError('not_logged_in', 'register or log in first');
    return this.session;
  }

  async start(stored: AccountRecord, identity: DeviceIdentity, options: { uploadKeyPackages?: boolean } = {}): Promise<void> {
    const { core, options: clientOptions } = this.d;
    const f = this.d.features();
    await core.repo.upgradeConversations();
    const account = await upgradeAccount(core.repo, stored, clientOptions.deviceName);
    core.api.token = account.token;
    const deps = { core, state: this.d.state, outbox: this.d.outbox, inbox: this.d.inbox, options: clientOptions, sessionEnded: (err: ClientError) => this.ended(err), ...sessionHooks(f) };
    const session = await buildSession(deps, account, identity);
    this.hiddenGroup = session.self.id;
    this.session = session;
    await startFeatures(f);
    // A request refused for want of a session ends it too: the socket may only notice at its next re-check.
    core.api.onSessionEnded = (err) => this.ended(err);
    if (options.uploadKeyPackages === true) await session.keyPackages.fill();
    session.connection.start();
    session.deviceSync.start(clientOptions.deviceSyncIntervalMs ?? 60_000);
    // Disappearing messages due while this device was off go now; then a timer for the next one.
    f.disappearing.start();
  }

  /** The server ended this device's session for good: stop, tell the app (login() may start a new one). */
  ended(err: ClientError): void {
    const session = this.session;
    if (session === undefined || session.ended) return;
    session.ended = true;
    session.connection.stop();
    this.d.core.emitError('fatal', err);
  }

  /** Drops a session the server ended (its connection has stopped already), so that a new one can start. */
  drop(): void {
    const old = this.session;
    if (old === undefined) return;
    old.deviceSync.stop();
    old.self.stop();
    this.d.features().disappearing.stop();
    old.connection.stop();
    this.d.core.groups.clear();
    this.d.inbox.forgetStalled();
    this.session = undefined;
  }

  /** logout(): signs out on the server, stops; with `wipe` deletes every record even when the server cannot be reached. */
  async logout(options: LogoutOptions = {}): Promise<void> {
    this.require();
    const { api } = this.d.core;
    if (options.wipe !== true) {
      await api.logout();
      await this.close();
      return;
    }
    try {
      await api.logout({ timeoutMs: WIPE_LOGOUT_TIMEOUT_MS });
    } catch {
      // Unreachable, timed out, or the session is already gone: the local wipe below matters more.
    }
    await this.close();
    await this.wipe();
  }

  /**
   * deleteAccount(): the password and this device's key are checked first
   * (nothing changes when either is wrong: invalid_credentials); then this
   * device leaves every conversation (best effort, each within
   * DELETE_LEAVE_TIMEOUT_MS), the server deletes the account, and this store
   * is wiped.
   */
  async deleteAccount(password: string): Promise<void> {
    const { account } = this.require();
    const { api } = this.d.core;
    await checkCredentials(api, account, password);
    await this.d.features().conversations.leaveAll(DELETE_LEAVE_TIMEOUT_MS);
    await deleteAccountOnServer(api, account, password);
    await this.close();
    await this.wipe();
  }

  /** Stops the connection and timers and lets in-flight writes finish. Does not close the store (its owner does). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const f = this.d.features();
    f.receipts.stop();
    f.typing.stop();
    await this.d.accountSetup().cancelLink();
    this.session?.deviceSync.stop();
    this.session?.self.stop();
    this.session?.connection.stop();
    f.disappearing.stop();
    this.d.core.acks.flush();
    // Let in-flight processing finish writing before the owner closes the store.
    await this.d.inbox.idle();
    await this.session?.deviceSync.idle();
    await f.media.idle();
    await f.profiles.idle();
  }

  /** Every record in every table, and the in-memory copies of the keys and group secrets. */
  private async wipe(): Promise<void> {
    await this.d.core.repo.wipe();
    this.d.core.groups.clear();
    this.session = undefined;
  }
}
