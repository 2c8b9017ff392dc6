import { importDeviceIdentity } from '@parley/crypto';
import type { AttachmentContent, MlsGroup, VoiceContent } from '@parley/crypto';
import { checkUsername } from '@parley/protocol';
import type { DeviceId, GroupId, UserId } from '@parley/protocol';
import type { DeviceLink } from './devices/device-link.js';
import type { ApproveLinkOptions, PendingDevice } from './devices/link-approval.js';
import { changePassword } from './devices/sign-in.js';
import { TypedEmitter } from './emitter.js';
import type { ClientCore } from './core/context.js';
import { GroupState } from './core/group-state.js';
import { Outbox } from './core/outbox.js';
import { SessionLifecycle } from './core/lifecycle.js';
import { Inbox } from './sync/inbox.js';
import { ContentHandlers } from './sync/content-handlers.js';
import { AccountSetup } from './account/account.js';
import { OrderedMessageEvents } from './messages/views.js';
import { wireFeatures } from './features.js';
import type { SearchApi } from './search/search.js';
import type { Features } from './features.js';
import type { Profiles } from './profiles/profiles.js';
import type { MomentsApi } from './moments/moments.js';
import type { BlocksApi, ContactsApi, RequestsApi } from './people/people.js';
import { ClientError } from './errors.js';
import type { ClientOptions } from './options.js';
import { KeyedMutex } from './mutex.js';
import { ClientRepository } from './store/records.js';
import { HttpApi } from './transport/http-api.js';
import { AckBatcher } from './transport/ack-batcher.js';
import { Push, type PushApi } from './push/push.js';
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
  private readonly groups = new Map<GroupId, MlsGroup>();
  private readonly locks = new KeyedMutex();
  private readonly acks: AckBatcher;
  /** The session from start to end (core/lifecycle.ts): start, end, logout, account deletion, close. */
  private readonly life: SessionLifecycle;
  /** What the modules get from this client (core/context.ts). */
  private readonly core: ClientCore;
  private readonly state: GroupState;
  private readonly outbox: Outbox;
  private readonly inbox: Inbox;
  /** Who applies which non-history content type (reactions, edits, receipts, …): registered below, once. */
  private readonly handlers = new ContentHandlers();
  /** The feature modules (features.ts); every public call below is a delegation to one of them. */
  private readonly f: Features;
  private readonly messageEvents: OrderedMessageEvents;
  private readonly pushApi: Push;
  private readonly accountSetup: AccountSetup;

  constructor(private readonly options: ClientOptions) {
    super((err) => this.emitError('internal', err));
    this.repo = new ClientRepository(options.store);
    this.api = new HttpApi(options.serverUrl.replace(/\/+$/, ''));
    this.acks = new AckBatcher((group, seq) => this.life.session?.connection.ack(group, seq), options.ackDelayMs ?? ACK_DELAY_MS, ACK_EVERY);
    this.core = {
      repo: this.repo,
      api: this.api,
      locks: this.locks,
      acks: this.acks,
      groups: this.groups,
      session: () => this.life.require(),
      current: () => this.life.session,
      isClosed: () => this.life.closed,
      hiddenGroup: () => this.life.hiddenGroup,
      emit: (event, ...args) => this.emit(event, ...args),
      emitError: (code, error, where) => this.emitError(code, error, where),
    };
    this.state = new GroupState(this.core);
    this.outbox = new Outbox(this.core, this.state);
    this.inbox = new Inbox(this.core, this.state, this.outbox, this.handlers);
    this.life = new SessionLifecycle({ core: this.core, state: this.state, outbox: this.outbox, inbox: this.inbox, options, features: () => this.f, accountSetup: () => this.accountSetup });
    this.accountSetup = new AccountSetup({
      core: this.core,
      options,
      start: (account, identity, opts) => this.life.start(account, identity, opts),
      endSession: () => this.life.drop(),
    });
    this.f = wireFeatures(this.core, this.state, this.outbox, this.handlers, options, (event, fn) => this.on(event, fn));
    this.messageEvents = new OrderedMessageEvents(this.repo, (userId) => this.state.nameOf(userId));
    this.pushApi = new Push(this.core);
  }

  /** Events about the self group stay inside the client (errors aside). */
  protected override emit<K extends keyof ClientEvents>(event: K, ...args: Parameters<ClientEvents[K]>): void {
    const [payload] = args as unknown[];
    const hidden = this.life.hiddenGroup;
    if (hidden !== undefined && typeof payload === 'object' && payload !== null) {
      const about = event === 'conversation' ? (payload as Conversation).id : event === 'message' || event === 'membership' ? (payload as { conversationId: GroupId }).conversationId : undefined;
      if (about === hidden) return;
    }
    // A reply's quote is read from the store before its message goes out (in order with the others).
    if (event === 'message') return this.messageEvents.emit(payload as Message, (m) => super.emit('message', m));
    super.emit(event, ...args);
  }

  /* ---------------- identity and session ---------------- */

  get userId(): UserId | undefined {
    return this.life.session?.account.userId;
  }

  get deviceId(): DeviceId | undefined {
    return this.life.session?.account.deviceId;
  }

  get username(): string | undefined {
    return this.life.session?.account.username;
  }

  /** Loads the stored account, if any, and connects. Called by createClient. */
  async resume(): Promise<void> {
    if (this.life.session !== undefined) return;
    const account = await this.repo.account();
    if (account === undefined) return;
    const identity = await importDeviceIdentity(account.identity);
    await this.life.start(account, identity);
  }

  /** Creates an account with this device as its first device. */
  register(username: string, password: string): Promise<void> {
    return this.accountSetup.register(username, password);
  }

  /** Signs in again on the device this store holds: the password AND the stored device key (a fresh store: `new_device`). */
  login(username: string, password: string): Promise<void> {
    return this.accountSetup.login(username, password);
  }

  /** Asks to link this fresh store as a new device; nothing is stored or readable until an existing device approves. */
  linkDevice(username: string, password: string): Promise<DeviceLink> {
    return this.accountSetup.linkDevice(username, password);
  }

  /** Starts the account over on this fresh store: every other device revoked, a new identity (contacts are told). */
  resetIdentity(username: string, password: string): Promise<void> {
    return this.accountSetup.resetIdentity(username, password);
  }

  /** What a link code or QR uri from a new device stands for, to show before approving. */
  async inspectLink(codeOrUri: string): Promise<PendingDevice> {
    return this.life.require().links.inspect(codeOrUri);
  }

  /**
   * Approves a new device of this user (signed with this device's key); with a QR uri, only if the server holds its key.
   * `history` ('none' by default, 'month', 'all'): once device sync added the new device, this device sends it that much history (history/).
   */
  async approveLink(codeOrUri: string, options: ApproveLinkOptions = {}): Promise<void> {
    const deviceId = await this.life.require().links.approve(codeOrUri);
    await this.f.history.approved(deviceId, options.history ?? 'none');
  }

  async rejectLink(codeOrUri: string): Promise<void> {
    await this.life.require().links.reject(codeOrUri);
  }

  /** Changes the password (the current one is checked again); `signOutOthers` ends every other session of the user. */
  async changePassword(currentPassword: string, newPassword: string, options: { signOutOthers?: boolean } = {}): Promise<void> {
    this.life.require();
    await changePassword(this.api, currentPassword, newPassword, options);
  }

  /**
   * Deletes the account, for good. The password and this device's key are
   * checked first (nothing changes when either is wrong: invalid_credentials);
   * then this device leaves every conversation (best effort, each within
   * 5 s, so contacts see the user's devices removed), the server revokes
   * every device and deletes the account, and this store is wiped like
   * logout({ wipe: true }).
   */
  deleteAccount(password: string): Promise<void> {
    return this.life.deleteAccount(password);
  }

  /**
   * Signs this device out and stops. With `wipe: true` every record in every
   * table is then deleted, even when the server cannot be reached (the store
   * stays open for its owner to close).
   */
  logout(options: LogoutOptions = {}): Promise<void> {
    return this.life.logout(options);
  }

  /** Stops the connection and timers. Does not close the store (its owner does). */
  close(): Promise<void> {
    return this.life.close();
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
   * Sends a text, attachment or voice message (`replyTo` quotes one); resolves
   * with the stored message once the server gave it a seq. Offline:
   * `disconnected` with `detail.delivery` 'not_sent' (safe to retry) or
   * 'unknown' with `detail.contentId` — retry with `{ retryOf }`, which never
   * makes a second copy (README, "Sending offline").
   */
  send(conversationId: GroupId, input: string | AttachmentInput | VoiceInput, options: SendOptions = {}): Promise<Message> {
    return this.f.messages.send(conversationId, input, options);
  }

  /** One emoji per person per message (replaces this user's earlier one; `null` removes it). */
  react(conversationId: GroupId, target: MessageTarget, emoji: string | null): Promise<Message> {
    return this.f.changes.react(conversationId, target, emoji);
  }

  /** New text for this user's own message (or caption), on every device, up to EDIT_WINDOW_MS (24 h) after sending. */
  editMessage(conversationId: GroupId, target: MessageTarget, text: string): Promise<Message> {
    return this.f.changes.edit(conversationId, target, text);
  }

  /** Deletes this user's own message on every device (content, reactions, edits, kept media), up to 48 h after sending. */
  deleteForEveryone(conversationId: GroupId, target: MessageTarget): Promise<Message> {
    return this.f.changes.deleteForEveryone(conversationId, target);
  }

  /** One stored message by seq (null when this device has none there), its quote resolved. */
  message(conversationId: GroupId, seq: number): Promise<Message | null> {
    return this.f.messages.message(conversationId, seq);
  }

  /* ---------------- media kept on the device ---------------- */

  /** An attachment's or voice message's bytes: the kept copy, else downloaded and checked (`blob_gone` when the server lost it). */
  attachment(message: Message | AttachmentContent | VoiceContent): Promise<Uint8Array> {
    return this.f.media.attachment(message);
  }

  /** The former name of `attachment` (same behaviour). */
  downloadAttachment(message: Message | AttachmentContent | VoiceContent): Promise<Uint8Array> {
    return this.f.media.attachment(message);
  }

  /** Up to which size attachments and voice messages are downloaded on arrival and kept (default 25 MiB). */
  mediaSettings(): Promise<MediaSettings> {
    return this.f.media.settings();
  }

  /** Changes it (0 to 1 GiB; 0 keeps nothing new). Already kept files stay until `clearMedia`. */
  setMediaSettings(settings: MediaSettings): Promise<void> {
    return this.f.media.setSettings(settings);
  }

  /** What this device keeps: total bytes and number of files. */
  mediaUsage(): Promise<MediaUsage> {
    return this.f.media.usage();
  }

  /** Deletes every kept file (they are fetched again on demand while the server still has them). */
  clearMedia(): Promise<void> {
    return this.f.media.clear();
  }

  /* ---------------- people ---------------- */

  /** This user's contacts, synced between the user's devices (people/contacts.ts). */
  get contacts(): ContactsApi {
    return this.f.people.contacts;
  }

  /** Message requests: conversations started by someone who is not a contact (people/requests.ts). */
  get requests(): RequestsApi {
    return this.f.people.requests;
  }

  /** Blocked users, synced between the user's devices (people/blocks.ts). */
  get blocks(): BlocksApi {
    return this.f.people.blocks;
  }

  /** Encrypted profiles: display name, about line, picture (profiles/). */
  get profiles(): Profiles {
    return this.f.profiles;
  }

  /** Moments: a friends-only feed, end-to-end encrypted to the audience its author chose (moments/, docs/moments.md). */
  get moments(): MomentsApi {
    return this.f.moments;
  }

  /** Full-text search over this device's history; the index and the queries never leave the device (search/). */
  get search(): SearchApi {
    return this.f.search;
  }

  /** Web Push wake-ups for this device: the VAPID key, subscribe, unsubscribe (push/). */
  get push(): PushApi {
    return this.pushApi;
  }

  /* ---------------- conversations ---------------- */

  /** A 1:1 or group conversation: one MLS group over every device of every member (this user's other devices included). */
  createConversation(usernames: readonly string[], options: { title?: string; kind?: ConversationKind } = {}): Promise<Conversation> {
    return this.f.conversations.create(usernames, options);
  }

  conversations(): Promise<Conversation[]> {
    return this.f.conversations.list();
  }

  conversation(conversationId: GroupId): Promise<Conversation> {
    return this.f.conversations.get(conversationId);
  }

  /** Every conversation with its last message and unread count; pinned first, then most recent activity. */
  conversationSummaries(): Promise<ConversationSummary[]> {
    return this.f.conversations.summaries();
  }

  /** Stored history in ascending seq order; `{ latest: true, limit }` then `{ beforeSeq, limit }` pages backwards. */
  messages(conversationId: GroupId, options: MessagesOptions = {}): Promise<Message[]> {
    return this.f.messages.history(conversationId, options);
  }

  /** Moves the read position up to `seq` (never back), recounts unread, and tells the other members if read receipts are on. */
  async markRead(conversationId: GroupId, seq: number): Promise<void> {
    await this.f.messages.markRead(conversationId, seq);
    this.f.receipts.noteRead(conversationId);
  }

  /** Who of the other members stored (`deliveredTo`) and read (`readBy`) message `seq`: "Read by 3 of 5". */
  receipts(conversationId: GroupId, seq: number): Promise<ReceiptSummary> {
    return this.f.receipts.summary(conversationId, seq);
  }

  /** Whether this user shares read receipts on this device (default true). */
  readReceipts(): Promise<boolean> {
    return this.f.receipts.readReceipts();
  }

  /** Off: no read receipts or typing either way; synced to this user's other devices. */
  setReadReceipts(on: boolean): Promise<void> {
    return this.f.receipts.setReadReceipts(on);
  }

  /** Typing started/stopped, to members' devices online now (ephemeral, throttled: call it on every keystroke). */
  setTyping(conversationId: GroupId, typing: boolean): Promise<void> {
    return this.f.typing.set(conversationId, typing);
  }

  /** Adds users (all their devices) to a conversation. */
  addMembers(conversationId: GroupId, usernames: readonly string[]): Promise<Conversation> {
    return this.f.conversations.addMembers(conversationId, usernames);
  }

  /** Removes a user: one commit removing every one of their devices. */
  removeMember(conversationId: GroupId, username: string): Promise<Conversation> {
    return this.f.conversations.removeMember(conversationId, username);
  }

  /** Removes this user's other devices, then proposes this device's removal (another member commits it). */
  leave(conversationId: GroupId): Promise<void> {
    return this.f.conversations.leave(conversationId);
  }

  /** Renames a conversation (the title travels encrypted, in a roster message). */
  setTitle(conversationId: GroupId, title: string | null): Promise<Conversation> {
    return this.f.conversations.setTitle(conversationId, title);
  }

  /** The disappearing-message timer for everyone (one of DISAPPEAR_TIMERS_MS, or null: off), announced in the chat. */
  setDisappearing(conversationId: GroupId, ms: number | null): Promise<Conversation> {
    return this.f.disappearing.set(conversationId, ms);
  }

  /** Mutes, pins or archives a conversation on all of this user's devices (only the given fields change). */
  setConversationPrefs(conversationId: GroupId, prefs: ConversationPrefs): Promise<Conversation> {
    return this.f.prefs.set(conversationId, prefs);
  }

  /* ---------------- devices and verification ---------------- */

  /** This user's devices (pending ones included), names decrypted here (null: "Unnamed device"). */
  async devices(): Promise<DeviceSummary[]> {
    return this.life.require().names.list();
  }

  /** Revokes one of this user's devices and removes it from every conversation. */
  async revokeDevice(deviceId: DeviceId): Promise<void> {
    const { account, deviceSync } = this.life.require();
    if (deviceId === account.deviceId) throw new ClientError('bad_request', 'a device cannot revoke itself here; use logout');
    await this.api.revokeDevice(deviceId);
    await deviceSync.sync();
  }

  /** Adds this user's active devices to every conversation and removes revoked ones (also runs by itself). */
  syncDevices(): Promise<void> {
    return this.life.require().deviceSync.sync();
  }

  /** The safety number between this user and `username`, over both users' active devices. */
  async safetyNumber(username: string): Promise<string> {
    return (await this.life.require().verifications.current(username)).safetyNumber;
  }

  /** A user from the server's directory (`unknown_user` for a missing or impossible name). */
  async lookupUser(username: string): Promise<UserRef> {
    const { directory } = this.life.require();
    const name = checkUsername(username);
    if (!name.ok) throw new ClientError('unknown_user', 'no such user: not a valid username');
    const user = await directory.lookupUser(name.normalized);
    return { userId: user.userId, username: user.username };
  }

  /** The current safety number with `username`, and whether it is still the one this user verified. */
  async verification(username: string): Promise<Verification> {
    return this.life.require().verifications.verification(username);
  }

  /** Marks `username` verified or not; `expectedSafetyNumber` (the number compared) must still match. */
  async setVerified(username: string, verified: boolean, options: { expectedSafetyNumber?: string } = {}): Promise<void> {
    await this.life.require().verifications.setVerified(username, verified, options);
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
      this.life.session?.connection.reconnect();
    },
    /** Deletes the disappearing messages due by the client's clock (`now` option) now, without waiting for the timer. */
    expireNow: (): Promise<void> => this.f.disappearing.sweepNow(),
  };
}
