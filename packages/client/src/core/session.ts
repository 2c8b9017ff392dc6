import { TsMlsEngine } from '@parley/crypto';
import type { DeviceIdentity, MlsEngine } from '@parley/crypto';
import { DeviceNameSchema } from '@parley/protocol';
import type { RejoinServerFrame, TypingServerFrame } from '@parley/protocol';
import { DeviceNames } from '../devices/device-names.js';
import { DeviceSync } from '../devices/device-sync.js';
import { KeyPackageStock } from '../devices/key-packages.js';
import { LinkApproval } from '../devices/link-approval.js';
import { DeviceDirectoryCache } from '../directory/device-directory.js';
import { ClientError } from '../errors.js';
import { SelfGroup } from '../self/self-group.js';
import type { ConversationPrefsMessage, ProfileKeySelfMessage, ReadReceiptsMessage, MomentListsMessage, MomentFriendsMessage } from '../self/self-messages.js';
import type { HistoryArchiveMessage } from '../history/archive-message.js';
import type { PeopleMessage } from '../people/people-entries.js';
import { StoreBatch } from '../store/records.js';
import type { AccountRecord, ClientRepository } from '../store/records.js';
import type { Inbox } from '../sync/inbox.js';
import { Connection } from '../transport/connection.js';
import { globalWebSocket, standardSocketFactory } from '../transport/socket.js';
import type { WireSocketFactory } from '../transport/socket.js';
import { NoticeWriter } from '../verification/notices.js';
import { Verifications } from '../verification/verifications.js';
import type { ClientCore, Session } from './context.js';
import type { GroupState } from './group-state.js';
import type { Outbox } from './outbox.js';

export const DEFAULT_DEVICE_NAME = 'Parley client';
const DEFAULT_KEY_PACKAGE_STOCK = 30;

/** The client options a session is built from. */
export interface SessionOptions {
  serverUrl: string;
  deviceName?: string;
  webSocket?: WireSocketFactory;
  keyPackageStock?: number;
  reconnect?: { initialMs: number; maxMs: number };
}

export interface SessionDeps {
  core: ClientCore;
  state: GroupState;
  outbox: Outbox;
  inbox: Inbox;
  options: SessionOptions;
  /** The server ended this device's session for good. */
  sessionEnded(err: ClientError): void;
  /** Another device of this user changed a conversation's preferences (settings/prefs.ts). */
  applyPrefs?(prefs: ConversationPrefsMessage): Promise<() => void>;
  /** This device added devices to the self group: they get this user's conversation preferences (settings/prefs.ts). */
  ownDevicesAdded?(): Promise<void>;
  /** Another device of this user changed the read-receipt setting (messages/receipts.ts). */
  applyReadReceipts?(setting: ReadReceiptsMessage): Promise<() => void>;
  /** This user's profile key from another of its devices (profiles/). */
  applyProfileKey?(message: ProfileKeySelfMessage): Promise<() => void>;
  /** A history archive's key arrived in the self group (history/history.ts). */
  applyHistory?(batch: StoreBatch, message: HistoryArchiveMessage): () => void;
  /** Another device of this user changed contacts, blocks or message requests (people/). */
  applyPeople?(message: PeopleMessage): Promise<() => void>;
  /** Another device of this user changed the Moments lists, or passed on its friendships (moments/). */
  applyMoments?(message: MomentListsMessage | MomentFriendsMessage): Promise<() => void>;
  /** An ephemeral typing frame (messages/typing.ts), as it arrives: the step to run in the inbox's order, if any. */
  onTyping?(frame: TypingServerFrame, payload: Uint8Array): (() => Promise<void>) | undefined;
  /** A member device asks to be re-added to a group (healing/): the step to run in the inbox's order, if any. */
  onRejoin?(frame: RejoinServerFrame, payload: Uint8Array): (() => Promise<void>) | undefined;
}

/**
 * Builds the services of one signed-in device (directory, MLS engine,
 * connection, device sync, key packages, self group, device names) and wires
 * them to the core. Nothing is started here: the caller starts the
 * connection and the device sync once the session is in place.
 */
export async function buildSession(deps: SessionDeps, account: AccountRecord, identity: DeviceIdentity): Promise<Session> {
  const { core, state, outbox, inbox, options } = deps;
  const directory = new DeviceDirectoryCache(core.api);
  directory.learn(account.userId, account.username);
  for (const c of await core.repo.conversations()) {
    for (const m of c.members) if (m.username !== null && m.userId !== account.userId) directory.learn(m.userId, m.username);
  }
  const engine = await TsMlsEngine.create({ identity, directory: directory.check });
  const wsUrl = options.serverUrl.replace(/\/+$/, '').replace(/^http/, 'ws') + '/v1/ws';
  const connection = new Connection({
    url: wsUrl,
    token: account.token,
    socketFactory: await socketFactory(options.webSocket),
    ...(options.reconnect === undefined ? {} : { backoff: options.reconnect }),
    handlers: {
      onReady: (frame) => inbox.onReady(frame),
      onMessage: (frame, payload) => inbox.deliver(frame, payload),
      onSynced: () => inbox.enqueue(() => inbox.onSynced()),
      // In order with the messages before it: decrypting it must not ratchet past stored messages not yet processed.
      onTyping: (frame, payload) => {
        const task = deps.onTyping?.(frame, payload);
        if (task !== undefined) inbox.enqueue(task);
      },
      // In order with the frames before it (its step only notes the epoch; the answer runs outside the inbox).
      onRejoin: (frame, payload) => {
        const task = deps.onRejoin?.(frame, payload);
        if (task !== undefined) inbox.enqueue(task);
      },
      onKeyPackagesLow: () => void keyPackages.refill(),
      onDevicesChanged: (userId) => (userId === undefined ? deviceSync.schedule(0) : deviceSync.scheduleUser(userId)),
      onState: (state, detail) => core.emit('connection', { state, ...(detail?.code === undefined ? {} : { code: detail.code }), ...(detail?.attempt === undefined ? {} : { attempt: detail.attempt }) }),
      onFatal: (err) => deps.sessionEnded(err),
      onServerError: (frame) => core.emitError('server', new ClientError('internal', `server error ${frame.code}: ${frame.message}`)),
    },
  });
  const verifications = new Verifications(core.repo, directory, account);
  const deviceSync = new DeviceSync(
    {
      me: account,
      ciphersuite: identity.ciphersuite,
      isReady: () => connection.isReady,
      isClosed: () => core.isClosed(),
      conversations: () => core.repo.conversations(),
      loadGroup: (id) => state.load(id),
      claimKeyPackages: (targets) => outbox.claimKeyPackages(targets),
      runCommit: (id, build) => outbox.runCommit(id, build),
      sendRoster: (id) => outbox.sendRoster(id),
      beforeOwnSync: () => self.ensure().catch((err: unknown) => self.fail(err)),
      reportError: (err, conversationId) => core.emitError('device_sync', err, conversationId === undefined ? {} : { conversationId }),
      reportUnapproved: (err, conversationId) => core.emitError('device_unapproved', err, { conversationId }),
    },
    directory,
  );
  const links = new LinkApproval(core.api, identity);
  const keyPackages = new KeyPackageStock(core.api, core.repo, engine, options.keyPackageStock ?? DEFAULT_KEY_PACKAGE_STOCK, (code, err) => core.emitError(code, err));
  const { self, names } = selfFeatures(deps, account, identity, engine, directory, () => connection.isReady);
  const notices = new NoticeWriter(account, verifications);
  return { account, identity, engine, directory, connection, verifications, notices, deviceSync, links, keyPackages, self, names, ended: false };
}

/** Account records from before device names were encrypted get this device's name from the options. */
export async function upgradeAccount(repo: ClientRepository, account: AccountRecord, deviceName: string | undefined): Promise<AccountRecord> {
  if (account.deviceName !== undefined) return account;
  const name = DeviceNameSchema.safeParse(deviceName ?? DEFAULT_DEVICE_NAME);
  const upgraded = { ...account, deviceName: name.success ? name.data : DEFAULT_DEVICE_NAME };
  await repo.commit(new StoreBatch().putAccount(upgraded));
  return upgraded;
}

/** The self group (account key) and encrypted device names: wiring only, the logic is in self/ and devices/. */
function selfFeatures(deps: SessionDeps, account: AccountRecord, identity: DeviceIdentity, engine: MlsEngine, directory: DeviceDirectoryCache, isReady: () => boolean): { self: SelfGroup; names: DeviceNames } {
  const { core, state, outbox } = deps;
  const self: SelfGroup = new SelfGroup({
    me: account,
    ciphersuite: identity.ciphersuite,
    api: core.api,
    repo: core.repo,
    isReady,
    isClosed: () => core.isClosed(),
    engine,
    withLock: (id, fn) => core.locks.run(id, fn),
    loadGroup: (id) => state.load(id),
    cacheGroup: (id, group) => {
      if (group === undefined) core.groups.delete(id);
      else core.groups.set(id, group);
    },
    send: async (id, plaintext) => {
      await outbox.sendPlaintext(id, plaintext, []);
    },
    lookupMe: () => directory.lookupUserById(account.userId),
    conversations: () => core.repo.conversations(),
    keysChanged: (rotatedHere) => void (rotatedHere ? names.resealAll() : names.syncOwn()).catch((err: unknown) => core.isClosed() || core.emitError('device_name', err)),
    report: (err) => core.emitError('account_key', err),
    ...(deps.applyPrefs === undefined ? {} : { applyPrefs: deps.applyPrefs }),
    ...(deps.ownDevicesAdded === undefined ? {} : { devicesAdded: deps.ownDevicesAdded }),
    ...(deps.applyReadReceipts === undefined ? {} : { applyReadReceipts: deps.applyReadReceipts }),
    ...(deps.applyProfileKey === undefined ? {} : { applyProfileKey: deps.applyProfileKey }),
    ...(deps.applyHistory === undefined ? {} : { applyHistory: deps.applyHistory }),
    ...(deps.applyPeople === undefined ? {} : { applyPeople: deps.applyPeople }),
    ...(deps.applyMoments === undefined ? {} : { applyMoments: deps.applyMoments }),
  });
  const names: DeviceNames = new DeviceNames({
    me: account,
    api: core.api,
    keyRing: () => self.keyRing(),
    ownName: () => account.deviceName ?? DEFAULT_DEVICE_NAME,
    missingKey: () => void self.requestKeys().catch((err: unknown) => self.fail(err)),
    report: (err) => core.emitError('device_name', err),
  });
  return { self, names };
}

async function socketFactory(webSocket: WireSocketFactory | undefined): Promise<WireSocketFactory> {
  if (webSocket !== undefined) return webSocket;
  const standard = globalWebSocket();
  if (standard !== undefined) return standardSocketFactory(standard);
  // A runtime without a global WebSocket (Node before 22): the Node adapter fails each connect, saying why.
  const { nodeSocketFactory } = await import('../transport/node-websocket.js');
  return nodeSocketFactory;
}
