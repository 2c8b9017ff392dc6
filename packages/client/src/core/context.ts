import type { DeviceIdentity, MlsEngine, MlsGroup } from '@parley/crypto';
import type { GroupId } from '@parley/protocol';
import type { DeviceNames } from '../devices/device-names.js';
import type { DeviceSync } from '../devices/device-sync.js';
import type { KeyPackageStock } from '../devices/key-packages.js';
import type { LinkApproval } from '../devices/link-approval.js';
import type { DeviceDirectoryCache } from '../directory/device-directory.js';
import type { KeyedMutex } from '../mutex.js';
import type { SelfGroup } from '../self/self-group.js';
import type { AccountRecord, ClientRepository } from '../store/records.js';
import type { AckBatcher } from '../transport/ack-batcher.js';
import type { Connection } from '../transport/connection.js';
import type { HttpApi } from '../transport/http-api.js';
import type { ClientEventError, ClientEvents } from '../types.js';
import type { NoticeWriter } from '../verification/notices.js';
import type { Verifications } from '../verification/verifications.js';

/** One signed-in device: its account, keys and the services started for it. */
export interface Session {
  account: AccountRecord;
  identity: DeviceIdentity;
  engine: MlsEngine;
  directory: DeviceDirectoryCache;
  connection: Connection;
  verifications: Verifications;
  notices: NoticeWriter;
  deviceSync: DeviceSync;
  links: LinkApproval;
  keyPackages: KeyPackageStock;
  /** The hidden group of this user's own devices, carrying the account key. */
  self: SelfGroup;
  names: DeviceNames;
  /** Set when the server ended the session for good (signed out, revoked): login() may start a new one. */
  ended: boolean;
}

/** Where an error event points to. */
export interface ErrorPlace {
  conversationId?: GroupId;
  seq?: number;
}

/**
 * The narrow core every module of the client works through: the store, the
 * server, the per-group lock, the loaded MLS groups, the current session and
 * the client's events. Built once by ParleyClient (the only wiring point).
 */
export interface ClientCore {
  readonly repo: ClientRepository;
  readonly api: HttpApi;
  /** One async section at a time per group: incoming messages, sends and commits touch the same records. */
  readonly locks: KeyedMutex;
  readonly acks: AckBatcher;
  /** Loaded MLS groups (see GroupState.load). */
  readonly groups: Map<GroupId, MlsGroup>;
  /** The current session; throws `closed` / `not_logged_in`. */
  session(): Session;
  /** The current session, if any (no check). */
  current(): Session | undefined;
  isClosed(): boolean;
  /** This user's self group: never listed, and no conversation, membership or message event names it. */
  hiddenGroup(): GroupId | undefined;
  emit<K extends keyof ClientEvents>(event: K, ...args: Parameters<ClientEvents[K]>): void;
  emitError(code: ClientEventError['code'], error: unknown, where?: ErrorPlace): void;
}

/** Runs follow-up work (a commit) outside the incoming queue, so it never waits on itself. */
export function runLater(core: ClientCore, task: () => Promise<void>, conversationId: GroupId): void {
  setTimeout(() => {
    if (core.isClosed()) return;
    task().catch((err: unknown) => {
      if (!core.isClosed()) core.emitError('internal', err, { conversationId });
    });
  }, 0);
}
