import type { ClientCore } from './core/context.js';
import type { GroupState } from './core/group-state.js';
import type { Outbox } from './core/outbox.js';
import { Conversations } from './conversations/conversations.js';
import { Healing } from './healing/healing.js';
import { Profiles } from './profiles/profiles.js';
import { History } from './history/history.js';
import { People } from './people/people.js';
import { Media } from './media/media.js';
import { MessageChanges } from './messages/changes.js';
import { RecentContentIds } from './messages/duplicates.js';
import { LostReplies } from './messages/lost-replies.js';
import { Messages } from './messages/messages.js';
import { DEFAULT_RECEIPT_DELAY_MS, Receipts } from './messages/receipts.js';
import { Typing } from './messages/typing.js';
import type { ClientOptions } from './options.js';
import { Disappearing } from './settings/disappearing.js';
import { ConversationPrefsSync } from './settings/prefs.js';
import { Search } from './search/search.js';
import { Moments } from './moments/moments.js';
import type { ContentHandlers } from './sync/content-handlers.js';
import type { ClientEvents } from './types.js';
import type { SessionDeps } from './core/session.js';

const DEFAULT_OFFLINE_SEND_TIMEOUT_MS = 3_000;

/** The feature modules of one client (each in its own folder), built on the core. */
export interface Features {
  readonly conversations: Conversations;
  readonly messages: Messages;
  readonly changes: MessageChanges;
  readonly lostReplies: LostReplies;
  readonly receipts: Receipts;
  readonly typing: Typing;
  readonly media: Media;
  readonly disappearing: Disappearing;
  readonly prefs: ConversationPrefsSync;
  readonly healing: Healing;
  readonly profiles: Profiles;
  readonly history: History;
  readonly people: People;
  readonly search: Search;
  readonly moments: Moments;
}

type Subscribe = <K extends keyof ClientEvents>(event: K, fn: ClientEvents[K]) => void;

/**
 * Builds every feature module and connects it to the core: which content
 * types it applies (ContentHandlers), which history hooks it adds (every
 * stored history entry passes them, in the entry's batch) and which client
 * events it follows. The one place where features meet; ParleyClient calls
 * it once and delegates its public calls to the result.
 */
export function wireFeatures(core: ClientCore, state: GroupState, outbox: Outbox, handlers: ContentHandlers, options: ClientOptions, on: Subscribe): Features {
  const now = options.now ?? Date.now;
  const offlineSendTimeoutMs = options.offlineSendTimeoutMs ?? DEFAULT_OFFLINE_SEND_TIMEOUT_MS;

  const conversations = new Conversations(core, state, outbox);
  const media = new Media(core);
  const disappearing = new Disappearing(core, state, outbox, now);
  const prefs = new ConversationPrefsSync(core, state, outbox, now);
  const receipts = new Receipts(core, state, outbox, options.receiptDelayMs ?? DEFAULT_RECEIPT_DELAY_MS);
  const typing = new Typing(core, state, () => receipts.readReceiptsOn);
  const lostReplies = new LostReplies(core, state);
  const changes = new MessageChanges(core, state, outbox, offlineSendTimeoutMs);
  const messages = new Messages(core, state, outbox, offlineSendTimeoutMs, media, lostReplies);
  const healing = new Healing(core, state, outbox, now);
  // Encrypted profiles: this user's profile key goes into accepted conversations; others' keys fetch their profiles.
  const profiles = new Profiles(core, state, outbox, now);
  // History on a newly linked device: sent after approveLink, imported when its key arrives in the self group.
  const history = new History(core, state, outbox, now, options.historyPartBytes);
  // Contacts, message requests, blocking: a request accepted here lets receipts for what arrived meanwhile go.
  const people = new People(core, state, outbox, conversations, now, (id) => receipts.noteRead(id));
  conversations.onDirectCreated = (other) => people.chatStarted(other);
  messages.beforeSend = (id) => people.beforeSend(id);
  // Blocking rotates the profile key; accepting a request shares it.
  people.profiles = profiles;
  // ...and no profile key goes into a conversation that has a blocked user in it.
  profiles.withholdFrom = (userId) => !people.keeps(userId);

  // Every stored history entry: its expiry (disappearing), unarchiving (prefs), its media queued for download.
  state.addHistoryHook(disappearing);
  state.addHistoryHook(prefs);
  state.addHistoryHook(media);
  state.messageStatus = (m) => receipts.statusOf(m);
  // Search: every batch that writes a history entry (stored, edited, deleted, expired) carries its index change.
  const search = new Search(core, state);
  search.attach();

  handlers.register(['receipt'], receipts);
  handlers.register(['reaction', 'edit', 'delete'], changes);
  handlers.register(['profile_key'], profiles);
  // Moments: a friend is a contact who said hello; every contact change says hello or goodbye in the pair's group.
  const moments = new Moments(core, state, outbox, conversations, now);
  moments.contacts = people.contacts;
  moments.autoDownloadMaxBytes = async () => (await media.settings()).autoDownloadMaxBytes;
  history.moments = { lines: (since) => moments.archiveLines(since), importInto: (batch, items) => moments.importInto(batch, items) };
  handlers.register(['moment_post', 'moment_delete', 'moment_comment', 'moment_comment_delete', 'moment_hello'], moments);
  people.contactsChanged = (origin) => {
    moments.reconcile(origin === 'local').catch((err: unknown) => core.isClosed() || core.emitError('moment_invalid', err));
  };
  handlers.registerOwnCopy(lostReplies);
  // A conversation whose state broke (the inbox marked it rejoining): ask the members to re-add this device.
  handlers.registerBroken((conversationId) => healing.broken(conversationId));
  const recent = new RecentContentIds();
  handlers.registerHistoryFilter((conversationId, seq, userId, content) => recent.keep(conversationId, seq, userId, content));
  // Nothing from a blocked user is stored or applied (messages, reactions, edits, receipts), nor their typing shown.
  handlers.registerSenderFilter((userId) => people.keeps(userId));
  typing.keepsSender = (userId) => people.keeps(userId);
  // A Welcome from someone who is not a contact is a message request; from a blocked user, refused.
  handlers.registerJoinPolicy((id, inviter, existing, users) => people.requests.decide(id, inviter, existing, users));

  // Receipts cover what arrived; a message ends its sender's typing indicator; member lists feed "read by N of M".
  on('message', (message) => {
    receipts.noteMessage(message);
    typing.noteMessage(message);
  });
  on('conversation', (c) => {
    receipts.noteMembers(c.id, c.members);
    // An accepted request: the receipts it held back go now.
    if (!c.request) receipts.noteAccepted(c.id);
    // Preferences that arrived (from another own device) before their conversation did.
    prefs.noteConversation(c.id);
    // Joined, accepted or changed: this user's profile key goes there once per set of member users.
    profiles.noteConversation(c.id);
    // A history archive that waits for this conversation's Welcome.
    history.noteConversation(c.id);
  });
  on('membership', (e) => {
    receipts.noteMembers(e.conversationId, e.members);
    profiles.noteConversation(e.conversationId);
  });
  on('connection', (e) => {
    if (e.state === 'synced') receipts.onSynced();
    // People changes made offline reach this user's other devices (a snapshot).
    if (e.state === 'synced') people.onSynced();
    lostReplies.noteConnection(e.state);
    // Downloads left pending (a failure, a restart) are picked up after each sync.
    if (e.state === 'synced') media.resume().catch((err: unknown) => core.isClosed() || core.emitError('internal', err));
    // Conversations still rejoining (after a reconnect or a restart) ask again.
    if (e.state === 'synced') healing.resume().catch((err: unknown) => core.isClosed() || core.emitError('internal', err));
    // Profile keys not shared yet (offline, a restart), and profiles read longer ago than the TTL.
    if (e.state === 'synced') profiles.onSynced();
    // History archives received before a restart and not imported yet.
    if (e.state === 'synced') history.resume().catch((err: unknown) => core.isClosed() || core.emitError('history', err));
    // History stored before this device had the search index: indexed once, in bounded batches.
    if (e.state === 'synced') search.backfill().catch((err: unknown) => core.isClosed() || core.emitError('internal', err));
    // Moments: sends left over, hellos owed, bodies still to fetch, posts past their author's window.
    if (e.state === 'synced') moments.onSynced().catch((err: unknown) => core.isClosed() || core.emitError('moment_invalid', err));
  });

  return { conversations, messages, changes, lostReplies, receipts, typing, media, disappearing, prefs, healing, people, history, profiles, search, moments };
}

/** What a feature does when the session hands it something (core/session.ts SessionDeps): the self group's messages, ephemeral frames, own devices added. */
export type SessionHooks = Pick<SessionDeps, 'onTyping' | 'onRejoin' | 'applyReadReceipts' | 'applyPrefs' | 'applyProfileKey' | 'applyHistory' | 'applyPeople' | 'applyMoments' | 'ownDevicesAdded'>;

export function sessionHooks(f: Features): SessionHooks {
  return {
    onTyping: (frame, payload) => f.typing.arrived(frame, payload),
    onRejoin: (frame, payload) => f.healing.requested(frame, payload),
    applyReadReceipts: (setting) => f.receipts.applySetting(setting),
    applyPrefs: (prefs) => f.prefs.apply(prefs),
    applyProfileKey: (m) => f.profiles.applyOwnKey(m),
    applyHistory: (batch, m) => f.history.received(batch, m),
    applyPeople: (m) => f.people.applySelf(m),
    applyMoments: (m) => (m.kind === 'moment_lists' ? f.moments.listStore.applyOwn(m) : f.moments.listStore.applyOwnFriends(m)),
    // Devices this device just added to the self group get this user's preferences, contacts and blocks, and profile key.
    ownDevicesAdded: async () => {
      await f.prefs.sendAll();
      await f.people.sendAll();
      await f.profiles.sendOwnKey();
      await f.moments.listStore.sendToOwnDevices();
    },
  };
}

/** A session started: features that keep per-session state (the read-receipt setting, contacts and blocks) load it. */
export async function startFeatures(f: Features): Promise<void> {
  await f.receipts.load();
  await f.people.load();
}
