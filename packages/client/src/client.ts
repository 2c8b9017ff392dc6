import { importDeviceIdentity } from '@parley/crypto';
import type { AttachmentContent, DeviceIdentity, MlsGroup, VoiceContent } from '@parley/crypto';
import { checkUsername } from '@parley/protocol';
import type { DeviceId, GroupId, UserId } from '@parley/protocol';
import type { DeviceLink } from './devices/device-link.js';
import type { PendingDevice } from './devices/link-approval.js';
import { changePassword } from './devices/sign-in.js';
import { TypedEmitter } from './emitter.js';
import type { ClientCore, Session } from './core/context.js';
import { GroupState } from './core/group-state.js';
import { Outbox } from './core/outbox.js';
import { buildSession, upgradeAccount } from './core/session.js';
import { Inbox } from './sync/inbox.js';
import { ContentHandlers } from './sync/content-handlers.js';
import { AccountSetup } from './account/account.js';
import { Conversations } from './conversations/conversations.js';
import { Messages } from './messages/messages.js';
import { MessageChanges } from './messages/changes.js';
import { LostReplies } from './messages/lost-replies.js';
import { OrderedMessageEvents } from './messages/views.js';
import { RecentContentIds } from './messages/duplicates.js';
import { DEFAULT_RECEIPT_DELAY_MS, Receipts } from './messages/receipts.js';
import { Typing } from './messages/typing.js';
import { Media } from './media/media.js';
import { Disappearing } from './settings/disappearing.js';
import { ConversationPrefsSync } from './settings/prefs.js';
import { ClientError } from './errors.js';
import type { ClientOptions } from './options.js';
import { KeyedMutex } from './mutex.js';
import { ClientRepository } from './store/records.js';
import type { AccountRecord } from './store/records.js';
import { HttpApi } from './transport/http-api.js';
import { AckBatcher } from './transport/ack-batcher.js';
import type {
  AttachmentInput,
  ClientEventError,
  ClientEvents,
  Conversation,
  ConversationKind,
  ConversationPrefs,
  ConversationSummary,
  DeviceSummary,
  LogoutOptions,
  MediaSettings,
  MediaUsage,
  Message,
  MessagesOptions,
  MessageTarget,
  ReceiptSummary,
  SendOptions,
  UserRef,
  Verification,
  VoiceInput,
} from './types.js';

const ACK_DELAY_MS = 50;
const ACK_EVERY = 100;
const DEFAULT_OFFLINE_SEND_TIMEOUT_MS = 3_000;
/** A wiping logout does not wait longer than this for the server (an unreachable one must not keep the data). */
const WIPE_LOGOUT_TIMEOUT_MS = 5_000;

/** Creates a client. If the store already holds an account, the client resumes it and connects. */
export async function createClient(options: ClientOptions): Promise<ParleyClient> {
  const client = new ParleyClient(options);
  await client.resume();
  return client;
}

/**
 * The headless Parley client: one device of one user. All cryptography goes
 * through @parley/crypto; everything received is validated; every change
 * caused by a network event is one atomic store write, acknowledged to the
 * server only after it is stored.
 */
export class ParleyClient extends TypedEmitter<ClientEvents> {
  private readonly repo: ClientRepository;
  private readonly api: HttpApi;
  private session: Session | undefined;
  private readonly groups = new Map<GroupId, MlsGroup>();
  private readonly locks = new KeyedMutex();
  private readonly acks: AckBatcher;
  /** This user's self group: never listed, and no conversation, membership or message event names it. */
  private hiddenGroup: GroupId | undefined;
  private closed = false;
  /** What the modules get from this client (core/context.ts). */
  private readonly core: ClientCore;
  private readonly state: GroupState;
  private readonly outbox: Outbox;
  private readonly inbox: Inbox;
  /** Who applies which non-history content type (reactions, edits, receipts, …): registered below, once. */
  private readonly handlers = new ContentHandlers();
  private readonly conversationList: Conversations;
  private readonly messageOps: Messages;
  private readonly changes: MessageChanges;
  private readonly lostReplies: LostReplies;
  private readonly messageEvents: OrderedMessageEvents;
  private readonly receiptOps: Receipts;
  private readonly typingOps: Typing;
  private readonly media: Media;
  private readonly disappearing: Disappearing;
  private readonly prefs: ConversationPrefsSync;
  private readonly accountSetup: AccountSetup;

  constructor(private readonly options: ClientOptions) {
    super((err) => this.emitError('internal', err));
    this.repo = new ClientRepository(options.store);
    this.api = new HttpApi(options.serverUrl.replace(/\/+$/, ''));
    this.acks = new AckBatcher((group, seq) => this.session?.connection.ack(group, seq), options.ackDelayMs ?? ACK_DELAY_MS, ACK_EVERY);
    this.core = {
      repo: this.repo,
      api: this.api,
      locks: this.locks,
      acks: this.acks,
      groups: this.groups,
      session: () => this.requireSession(),
      current: () => this.session,
      isClosed: () => this.closed,
      hiddenGroup: () => this.hiddenGroup,
      emit: (event, ...args) => this.emit(event, ...args),
      emitError: (code, error, where) => this.emitError(code, error, where),
    };
    this.state = new GroupState(this.core);
    this.outbox = new Outbox(this.core, this.state);
    this.inbox = new Inbox(this.core, this.state, this.outbox, this.handlers);
    this.conversationList = new Conversations(this.core, this.state, this.outbox);
    this.accountSetup = new AccountSetup({
      core: this.core,
      options,
      start: (account, identity, opts) => this.start(account, identity, opts),
      endSession: () => this.endSession(),
    });
    this.media = new Media(this.core);
    const now = options.now ?? Date.now;
    this.disappearing = new Disappearing(this.core, this.state, this.outbox, now);
    this.prefs = new ConversationPrefsSync(this.core, this.state, this.outbox, now);
    this.state.addHistoryHook(this.disappearing);
    this.state.addHistoryHook(this.prefs);
    // Preferences that arrived (from another own device) before their conversation did.
    this.on('conversation', (c) => this.prefs.noteConversation(c.id));
    this.receiptOps = new Receipts(this.core, this.state, this.outbox, options.receiptDelayMs ?? DEFAULT_RECEIPT_DELAY_MS);
    this.typingOps = new Typing(this.core, this.state, () => this.receiptOps.readReceiptsOn);
    this.handlers.register(['receipt'], this.receiptOps);
    this.state.messageStatus = (m) => this.receiptOps.statusOf(m);
    // Receipts cover what arrived; a message ends its sender's typing indicator; member lists feed "read by N of M".
    this.on('message', (message) => {
      this.receiptOps.noteMessage(message);
      this.typingOps.noteMessage(message);
    });
    this.on('conversation', (c) => this.receiptOps.noteMembers(c.id, c.members));
    this.on('membership', (e) => this.receiptOps.noteMembers(e.conversationId, e.members));
    this.on('connection', (e) => {
      if (e.state === 'synced') this.receiptOps.onSynced();
    });
    const offlineSendTimeoutMs = options.offlineSendTimeoutMs ?? DEFAULT_OFFLINE_SEND_TIMEOUT_MS;
    this.messageEvents = new OrderedMessageEvents(this.repo, (userId) => this.state.nameOf(userId));
    this.lostReplies = new LostReplies(this.core, this.state);
    this.changes = new MessageChanges(this.core, this.state, this.outbox, offlineSendTimeoutMs);
    this.handlers.register(['reaction', 'edit', 'delete'], this.changes);
    this.handlers.registerOwnCopy(this.lostReplies);
    const recent = new RecentContentIds();
    this.handlers.registerHistoryFilter((conversationId, seq, userId, content) => recent.keep(conversationId, seq, userId, content));
    this.on('connection', (e) => this.lostReplies.noteConnection(e.state));
    this.messageOps = new Messages(this.core, this.state, this.outbox, offlineSendTimeoutMs, this.media, this.lostReplies);
    // Media arriving is queued in the batch that stores its message and downloaded in the background; downloads left pending are picked up after each sync.
    this.state.addHistoryHook(this.media);
    this.on('connection', (event) => {
      if (event.state === 'synced') this.media.resume().catch((err: unknown) => this.closed || this.emitError('internal', err));
    });
  }

  /** Events about the self group stay inside the client (errors aside). */
  protected override emit<K extends keyof ClientEvents>(event: K, ...args: Parameters<ClientEvents[K]>): void {
    const [payload] = args as unknown[];
    if (this.hiddenGroup !== undefined && typeof payload === 'object' && payload !== null) {
      const about = event === 'conversation' ? (payload as Conversation).id : event === 'message' || event === 'membership' ? (payload as { conversationId: GroupId }).conversationId : undefined;
      if (about === this.hiddenGroup) return;
    }
    // A reply's quote is read from the store before its message goes out (in order with the others).
    if (event === 'message') return this.messageEvents.emit(payload as Message, (m) => super.emit('message', m));
    super.emit(event, ...args);
  }

  /* ---------------- identity and session ---------------- */

  get userId(): UserId | undefined {
    return this.session?.account.userId;
  }

  get deviceId(): DeviceId | undefined {
    return this.session?.account.deviceId;
  }

  get username(): string | undefined {
    return this.session?.account.username;
  }

  /** Loads the stored account, if any, and connects. Called by createClient. */
  async resume(): Promise<void> {
    if (this.session !== undefined) return;
    const account = await this.repo.account();
    if (account === undefined) return;
    const identity = await importDeviceIdentity(account.identity);
    await this.start(account, identity);
  }

  /** Creates an account with this device as its first device. */
  register(username: string, password: string): Promise<void> {
    return this.accountSetup.register(username, password);
  }

  /**
   * Signs in again on the device this store holds (after signing out, or
   * when the server ended the session): the password AND a signature by the
   * stored device key over a single-use challenge. On a store without an
   * account: ClientError('new_device') — a new device is linked with
   * `linkDevice` (approved on an existing device) or starts over with
   * `resetIdentity`.
   */
  login(username: string, password: string): Promise<void> {
    return this.accountSetup.login(username, password);
  }

  /**
   * Asks to link this (fresh) store as a new device of the account. Nothing
   * is stored and nothing can be read until one of the user's existing
   * devices approves the link (`approveLink`, with the code or the QR uri);
   * then `approved` resolves with this client signed in, and the user's
   * devices add this one to their conversations.
   */
  linkDevice(username: string, password: string): Promise<DeviceLink> {
    return this.accountSetup.linkDevice(username, password);
  }

  /**
   * Starts the account over on this (fresh) store, for a user who lost every
   * device: all other devices are revoked and this one becomes the account's
   * only device — a new identity. Contacts see a safety-number notice and
   * add it back to their conversations; nothing from before is readable.
   */
  resetIdentity(username: string, password: string): Promise<void> {
    return this.accountSetup.resetIdentity(username, password);
  }

  /** What a link code or QR uri from a new device stands for, to show before approving. */
  async inspectLink(codeOrUri: string): Promise<PendingDevice> {
    return this.requireSession().links.inspect(codeOrUri);
  }

  /** Approves a new device of this user (signed with this device's key); with a QR uri, only if the server holds its key. */
  async approveLink(codeOrUri: string): Promise<void> {
    await this.requireSession().links.approve(codeOrUri);
  }

  async rejectLink(codeOrUri: string): Promise<void> {
    await this.requireSession().links.reject(codeOrUri);
  }

  /** Changes the password (the current one is checked again); `signOutOthers` ends every other session of the user. */
  async changePassword(currentPassword: string, newPassword: string, options: { signOutOthers?: boolean } = {}): Promise<void> {
    this.requireSession();
    await changePassword(this.api, currentPassword, newPassword, options);
  }

  /** The server ended this device's session for good: stop, tell the app (login() may start a new one). */
  private sessionEnded(err: ClientError): void {
    const session = this.session;
    if (session === undefined || session.ended) return;
    session.ended = true;
    session.connection.stop();
    this.emitError('fatal', err);
  }

  /** Drops a session the server ended (its connection has stopped already), so that a new one can start. */
  private endSession(): void {
    const old = this.session;
    if (old === undefined) return;
    old.deviceSync.stop();
    old.self.stop();
    this.disappearing.stop();
    old.connection.stop();
    this.groups.clear();
    this.inbox.forgetStalled();
    this.session = undefined;
  }

  private async start(stored: AccountRecord, identity: DeviceIdentity, options: { uploadKeyPackages?: boolean } = {}): Promise<void> {
    await this.repo.upgradeConversations();
    const account = await upgradeAccount(this.repo, stored, this.options.deviceName);
    this.api.token = account.token;
    const session = await buildSession({ core: this.core, state: this.state, outbox: this.outbox, inbox: this.inbox, options: this.options, sessionEnded: (err) => this.sessionEnded(err), onTyping: (frame, payload) => this.typingOps.arrived(frame, payload), applyReadReceipts: (setting) => this.receiptOps.applySetting(setting), applyPrefs: (prefs) => this.prefs.apply(prefs), ownDevicesAdded: () => this.prefs.sendAll() }, account, identity);
    this.hiddenGroup = session.self.id;
    this.session = session;
    await this.receiptOps.load();
    // A request refused for want of a session ends it too: the socket may only notice at its next re-check.
    this.api.onSessionEnded = (err) => this.sessionEnded(err);
    if (options.uploadKeyPackages === true) await session.keyPackages.fill();
    session.connection.start();
    session.deviceSync.start(this.options.deviceSyncIntervalMs ?? 60_000);
    // Disappearing messages due while this device was off go now; then a timer for the next one.
    this.disappearing.start();
  }

  private requireSession(): Session {
    if (this.closed) throw new ClientError('closed', 'the client is closed');
    if (this.session === undefined) throw new ClientError('not_logged_in', 'register or log in first');
    return this.session;
  }

  /**
   * Signs this device out on the server and stops. Without `wipe` the store
   * keeps the keys and history (and a server error is thrown, the client
   * staying open). With `wipe: true`, everything in the store (every table)
   * is then deleted in one batch — even if the server could not be reached
   * or refused (the call then still resolves): signing out must not depend
   * on the network. The store itself stays open; its owner closes it (for
   * IndexedDbStore, `IndexedDbStore.destroy` then removes the database).
   */
  async logout(options: LogoutOptions = {}): Promise<void> {
    this.requireSession();
    if (options.wipe !== true) {
      await this.api.logout();
      await this.close();
      return;
    }
    try {
      await this.api.logout({ timeoutMs: WIPE_LOGOUT_TIMEOUT_MS });
    } catch {
      // Unreachable, timed out, or the session is already gone: the local wipe below matters more.
    }
    await this.close();
    await this.repo.wipe();
    // Drop the in-memory copies of the keys and group secrets too.
    this.groups.clear();
    this.session = undefined;
  }

  /** Stops the connection and timers. Does not close the store (its owner does). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.receiptOps.stop();
    this.typingOps.stop();
    await this.accountSetup.cancelLink();
    this.session?.deviceSync.stop();
    this.session?.self.stop();
    this.session?.connection.stop();
    this.disappearing.stop();
    this.acks.flush();
    // Let in-flight processing finish writing before the owner closes the store.
    await this.inbox.idle();
    await this.session?.deviceSync.idle();
    await this.media.idle();
  }

  /** Resolves after the next (or a past, if `sinceStart`) end of backlog. */
  whenSynced(): Promise<void> {
    return this.inbox.whenSynced();
  }

  private emitError(code: ClientEventError['code'], error: unknown, where: { conversationId?: GroupId; seq?: number } = {}): void {
    const err = error instanceof Error ? error : new Error(String(error));
    this.emit('error', { code, error: err, ...where });
  }

  /**
   * Sends a text or an attachment; resolves with the stored message once the
   * server accepted it (and marks the conversation read up to it).
   *
   * Not connected: waits up to `offlineSendTimeoutMs` (default 3 s) for the
   * connection, then fails with ClientError('disconnected') whose
   * `detail.delivery` is 'not_sent' — nothing left this device, a retry is
   * safe. If the connection drops after the message left (or the server
   * does not answer within 30 s), it fails with 'disconnected' and
   * `detail.delivery` 'unknown' and `detail.contentId`: the server may have
   * stored it. The device kept the message and stores it as its own once it
   * sees the server's copy after the next sync; retry with
   * `{ retryOf: detail.contentId }`, which resolves with that copy or sends
   * the kept message again (same content id). Nothing is queued or retried
   * automatically. `replyTo: { seq, id }` quotes a message this device has.
   *
   * A member this user verified whose devices changed since: fails with
   * ClientError('safety_number_changed', detail.users) unless
   * `confirmSafetyNumberChange` (which resets those verifications).
   */
  send(conversationId: GroupId, input: string | AttachmentInput | VoiceInput, options: SendOptions = {}): Promise<Message> {
    return this.messageOps.send(conversationId, input, options);
  }

  /**
   * Reacts to a message with one emoji, replacing this user's earlier
   * reaction to it; `null` removes it. Any member may react to a text,
   * attachment or voice message. Resolves with the message as stored after.
   */
  react(conversationId: GroupId, target: MessageTarget, emoji: string | null): Promise<Message> {
    return this.changes.react(conversationId, target, emoji);
  }

  /**
   * Replaces the text of this user's own text message (or an attachment's
   * caption) on every device, up to EDIT_WINDOW_MS (24 h) after it was sent.
   * Not allowed: ClientError('bad_request') before anything is sent.
   */
  editMessage(conversationId: GroupId, target: MessageTarget, text: string): Promise<Message> {
    return this.changes.edit(conversationId, target, text);
  }

  /**
   * Deletes this user's own message for everyone, up to DELETE_WINDOW_MS
   * (48 h) after it was sent: every device that receives the delete drops its
   * content, reactions, edits and kept media and shows a placeholder.
   */
  deleteForEveryone(conversationId: GroupId, target: MessageTarget): Promise<Message> {
    return this.changes.deleteForEveryone(conversationId, target);
  }

  /** One stored message by seq (null when this device has none there), its quote resolved. */
  message(conversationId: GroupId, seq: number): Promise<Message | null> {
    return this.messageOps.message(conversationId, seq);
  }

  /* ---------------- media kept on the device ---------------- */

  /**
   * The bytes of an attachment or voice message: the copy this device keeps
   * if it has one, else downloaded, checked against the digest, key and size
   * in the message, and kept if it fits `mediaSettings().autoDownloadMaxBytes`.
   * ClientError('blob_gone') when this device keeps no copy and the server
   * no longer has the file.
   */
  attachment(message: Message | AttachmentContent | VoiceContent): Promise<Uint8Array> {
    return this.media.attachment(message);
  }

  /** The former name of `attachment` (same behaviour). */
  downloadAttachment(message: Message | AttachmentContent | VoiceContent): Promise<Uint8Array> {
    return this.media.attachment(message);
  }

  /** Up to which size attachments and voice messages are downloaded on arrival and kept (default 25 MiB). */
  mediaSettings(): Promise<MediaSettings> {
    return this.media.settings();
  }

  /** Changes it (0 to 1 GiB; 0 keeps nothing new). Already kept files stay until `clearMedia`. */
  setMediaSettings(settings: MediaSettings): Promise<void> {
    return this.media.setSettings(settings);
  }

  /** What this device keeps: total bytes and number of files. */
  mediaUsage(): Promise<MediaUsage> {
    return this.media.usage();
  }

  /** Deletes every kept file (they are fetched again on demand while the server still has them). */
  clearMedia(): Promise<void> {
    return this.media.clear();
  }

  /* ---------------- conversations ---------------- */

  /**
   * Creates a 1:1 or group conversation: one MLS group over every device of
   * every member, this user's other devices included. Devices without a key
   * package are left out (they are added later by their own user's devices).
   */
  createConversation(usernames: readonly string[], options: { title?: string; kind?: ConversationKind } = {}): Promise<Conversation> {
    return this.conversationList.create(usernames, options);
  }

  conversations(): Promise<Conversation[]> {
    return this.conversationList.list();
  }

  conversation(conversationId: GroupId): Promise<Conversation> {
    return this.conversationList.get(conversationId);
  }

  /**
   * Every conversation with its last message and unread count, most recent
   * activity first. Cheap: the counts and the last-message pointer live in
   * the conversation records (one extra read per conversation).
   */
  conversationSummaries(): Promise<ConversationSummary[]> {
    return this.conversationList.summaries();
  }

  /**
   * The stored history of a conversation, always in ascending seq order.
   * `afterSeq` and `beforeSeq` are exclusive bounds. `limit` alone (or with
   * `afterSeq`) gives the OLDEST messages in range, as before; with
   * `beforeSeq` or `latest: true` it gives the NEWEST ones — the page just
   * below `beforeSeq`, or the last `limit` messages. Paging backwards:
   * `messages(id, { latest: true, limit: 50 })`, then
   * `messages(id, { beforeSeq: oldest.seq, limit: 50 })` until a page comes
   * back shorter than the limit.
   */
  messages(conversationId: GroupId, options: MessagesOptions = {}): Promise<Message[]> {
    return this.messageOps.history(conversationId, options);
  }

  /**
   * Moves the read position of a conversation up to `seq` (never back, and
   * never past the last seq this device knows), recounts its unread
   * messages and emits `conversation` — only if something changed.
   */
  async markRead(conversationId: GroupId, seq: number): Promise<void> {
    await this.messageOps.markRead(conversationId, seq);
    this.receiptOps.noteRead(conversationId);
  }

  /**
   * Who of the other members stored (`deliveredTo`) and read (`readBy`)
   * message `seq`, from their cumulative receipts: "Read by 3 of 5". readBy
   * is empty while this user does not share read receipts.
   */
  receipts(conversationId: GroupId, seq: number): Promise<ReceiptSummary> {
    return this.receiptOps.summary(conversationId, seq);
  }

  /** Whether this user shares read receipts on this device (default true). */
  readReceipts(): Promise<boolean> {
    return this.receiptOps.readReceipts();
  }

  /**
   * Off: receipts say only what was delivered, others' read receipts are not
   * shown (no 'read' status, empty readBy), typing is neither sent nor shown.
   * Synced to the user's other devices through the self group (the latest change wins).
   */
  setReadReceipts(on: boolean): Promise<void> {
    return this.receiptOps.setReadReceipts(on);
  }

  /**
   * Tells the conversation's other members (their devices online now) that
   * this user is typing, or stopped. Throttled: call it on every keystroke;
   * 'started' leaves at most every 3 s, 'stopped' only after a 'started'.
   * Ephemeral: never stored, never sent late (offline: dropped). A no-op
   * while read receipts are off.
   */
  setTyping(conversationId: GroupId, typing: boolean): Promise<void> {
    return this.typingOps.set(conversationId, typing);
  }

  /** Adds users (all their devices) to a conversation. */
  addMembers(conversationId: GroupId, usernames: readonly string[]): Promise<Conversation> {
    return this.conversationList.addMembers(conversationId, usernames);
  }

  /** Removes a user: one commit removing every one of their devices. */
  removeMember(conversationId: GroupId, username: string): Promise<Conversation> {
    return this.conversationList.removeMember(conversationId, username);
  }

  /**
   * Leaves a conversation: removes this user's other devices, then proposes
   * this device's removal, which the next member to see it commits.
   */
  leave(conversationId: GroupId): Promise<void> {
    return this.conversationList.leave(conversationId);
  }

  /** Renames a conversation (the title travels encrypted, in a roster message). */
  setTitle(conversationId: GroupId, title: string | null): Promise<Conversation> {
    return this.conversationList.setTitle(conversationId, title);
  }

  /**
   * Sets the conversation's disappearing-message timer for everyone (any
   * member may): one of DISAPPEAR_TIMERS_MS (5 min, 1 h, 1 day, 1 week, 4
   * weeks) or null (off); anything else is ClientError('bad_request') before
   * anything is sent. Announced in the chat as a `settings` message; every
   * message sent after it is deleted on every device that long after it was
   * sent, and the server keeps the conversation's messages no longer.
   */
  setDisappearing(conversationId: GroupId, ms: number | null): Promise<Conversation> {
    return this.disappearing.set(conversationId, ms);
  }

  /**
   * Mutes, pins or archives a conversation for this user (only the given
   * fields change), on all of the user's devices (synced through the self
   * group; the latest change wins). Pinned conversations come first in
   * `conversationSummaries`; archived ones are flagged.
   */
  setConversationPrefs(conversationId: GroupId, prefs: ConversationPrefs): Promise<Conversation> {
    return this.prefs.set(conversationId, prefs);
  }

  /* ---------------- devices and verification ---------------- */

  /**
   * This user's devices, pending ones (waiting for approval) included, with
   * their names decrypted on this device (null: "Unnamed device", see
   * devices/device-names.ts).
   */
  async devices(): Promise<DeviceSummary[]> {
    return this.requireSession().names.list();
  }

  /** Revokes one of this user's devices and removes it from every conversation. */
  async revokeDevice(deviceId: DeviceId): Promise<void> {
    const { account, deviceSync } = this.requireSession();
    if (deviceId === account.deviceId) throw new ClientError('bad_request', 'a device cannot revoke itself here; use logout');
    await this.api.revokeDevice(deviceId);
    await deviceSync.sync();
  }

  /**
   * Brings every active conversation in line with this user's devices in the
   * directory: adds active ones (with a Welcome), removes revoked ones. Also
   * runs on connect, on `devices_changed` and every `deviceSyncIntervalMs`.
   */
  syncDevices(): Promise<void> {
    return this.requireSession().deviceSync.sync();
  }

  /** The safety number between this user and `username`, over both users' active devices. */
  async safetyNumber(username: string): Promise<string> {
    return (await this.requireSession().verifications.current(username)).safetyNumber;
  }

  /**
   * Finds a user by name in the server's directory. Throws
   * ClientError('unknown_user') if there is no such user, including for names
   * that cannot exist (checked here first, with the server's own rules).
   */
  async lookupUser(username: string): Promise<UserRef> {
    const { directory } = this.requireSession();
    const name = checkUsername(username);
    if (!name.ok) throw new ClientError('unknown_user', 'no such user: not a valid username');
    const user = await directory.lookupUser(name.normalized);
    return { userId: user.userId, username: user.username };
  }

  /**
   * The current safety number with `username`, and whether it is verified:
   * true only while it equals the number stored by `setVerified(username,
   * true)` and no commit changed the user's devices since (see the
   * `safety_number_changed` notice).
   */
  async verification(username: string): Promise<Verification> {
    return this.requireSession().verifications.verification(username);
  }

  /**
   * Marks `username` as verified (stores the current safety number) or not
   * (forgets it). Pass `expectedSafetyNumber` — the number the user actually
   * compared — to fail with ClientError('safety_number_changed') if a device
   * changed meanwhile, instead of verifying a number nobody looked at.
   */
  async setVerified(username: string, verified: boolean, options: { expectedSafetyNumber?: string } = {}): Promise<void> {
    await this.requireSession().verifications.setVerified(username, verified, options);
  }

  /* ---------------- test hooks ---------------- */

  /** For tests: misbehaving on purpose. Not for applications. */
  readonly testing = {
    /** Sends arbitrary plaintext (e.g. malformed content) as an application message. */
    sendPlaintext: async (conversationId: GroupId, plaintext: Uint8Array): Promise<void> => {
      await this.outbox.sendPlaintext(conversationId, plaintext, []);
    },
    /** Drops the WebSocket; the client reconnects with backoff. */
    dropConnection: (): void => {
      this.session?.connection.reconnect();
    },
    /** Deletes the disappearing messages due by the client's clock (`now` option) now, without waiting for the timer. */
    expireNow: (): Promise<void> => this.disappearing.sweepNow(),
  };
}
