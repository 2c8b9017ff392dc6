import type { GroupId, UserId } from '@parley/protocol';
import type { ClientCore } from '../core/context.js';
import type { GroupState } from '../core/group-state.js';
import type { Outbox } from '../core/outbox.js';
import type { Conversations } from '../conversations/conversations.js';
import { Blocks } from './blocks.js';
import { Contacts, toContact } from './contacts.js';
import type { PeopleMessage } from './people-entries.js';
import { PeopleSync } from './people-sync.js';
import type { AppliedChange } from './people-sync.js';
import { Requests } from './requests.js';

/** client.contacts (the rest of Contacts is for the SDK itself). */
export type ContactsApi = Pick<Contacts, 'list' | 'get' | 'add' | 'myCode' | 'remove' | 'setNickname'>;
/** client.requests (Report: see Requests). */
export type RequestsApi = Pick<Requests, 'list' | 'accept' | 'delete' | 'block'>;
/** client.blocks. */
export type BlocksApi = Pick<Blocks, 'list' | 'block' | 'unblock'>;

/** What people/ uses of the profiles module when it is there (profiles/, issue #14): both optional. */
export interface ProfileHooks {
  /** Sends this user's profile key into a conversation (after a request is accepted). */
  shareWith?(conversationId: GroupId): Promise<void>;
  /** A new profile key (after blocking someone, so they can no longer read later profiles). */
  rotateKey?(): Promise<void>;
}

/**
 * Contacts, message requests and blocking (client.contacts, client.requests,
 * client.blocks): the three namespaces and what ties them together — the
 * follow-up of every change to the lists (events, the records of requests,
 * what blocking does) and the filters the inbox asks.
 */
export class People {
  readonly sync: PeopleSync;
  readonly contacts: Contacts;
  readonly blocks: Blocks;
  readonly requests: Requests;
  /** Set by wireFeatures: the contact list changed here (`local`) or on another own device (`remote`) (moments/). */
  contactsChanged: ((origin: 'local' | 'remote') => void) | undefined;
  /** Set by wireFeatures once a profiles module exists. */
  profiles: ProfileHooks | undefined;

  constructor(
    private readonly core: ClientCore,
    private readonly state: GroupState,
    outbox: Outbox,
    private readonly conversations: Conversations,
    now: () => number,
    /** A request accepted here: receipts for what arrived meanwhile may go now. */
    private readonly acceptedHook: (conversationId: GroupId) => void,
  ) {
    this.sync = new PeopleSync(core, state, outbox);
    this.contacts = new Contacts(core, this.sync, now);
    this.blocks = new Blocks(core, this.sync, now);
    this.requests = new Requests(core, state, outbox, this.sync, this.contacts, this.blocks, conversations, now);
    this.requests.hooks = { accepted: (id) => this.accepted(id) };
    this.sync.listener = (applied, origin) => this.changed(applied, origin);
    // The inbox's filter follows a stored block at once, before the next frame.
    this.sync.stored = (applied) => this.blocks.note(applied.blocks.map((b) => b.entry));
  }

  /** At each session start, before the connection: the block set the inbox filter reads. */
  load(): Promise<void> {
    return this.blocks.load();
  }

  /** Whether a decrypted message (history, reaction, edit, receipt…) from `userId` is kept: not when they are blocked. */
  keeps(userId: UserId): boolean {
    return !this.blocks.isBlocked(userId);
  }

  /** A people message from another device of this user (self group). */
  applySelf(message: PeopleMessage): Promise<() => void> {
    return this.sync.remote(message);
  }

  /** This device added devices to the self group: they get the lists. */
  async sendAll(): Promise<void> {
    await this.sync.sendAll(await this.requests.pendingEntries());
  }

  /** Replying to a pending message request accepts it (the reply tells the sender anyway). */
  async beforeSend(conversationId: GroupId): Promise<void> {
    if ((await this.core.repo.conversation(conversationId))?.request === 'pending') await this.requests.accept(conversationId);
  }

  /** After each sync: changes that could not reach the other devices go as a snapshot. */
  onSynced(): void {
    void this.requests
      .pendingEntries()
      .then((pending) => this.sync.resendIfUnsent(pending))
      .catch((err: unknown) => this.core.isClosed() || this.core.emitError('people', err));
  }

  /** A 1:1 chat this user started: the other user becomes a contact. */
  async chatStarted(other: { userId: UserId; username: string }): Promise<void> {
    if (this.blocks.isBlocked(other.userId)) return;
    await this.contacts.addUser(other.userId, other.username);
  }

  private accepted(conversationId: GroupId): void {
    this.acceptedHook(conversationId);
    void this.profiles?.shareWith?.(conversationId).catch((err: unknown) => this.core.isClosed() || this.core.emitError('people', err, { conversationId }));
  }

  private async changed(applied: AppliedChange, origin: 'local' | 'remote'): Promise<void> {
    if (applied.blocks.length > 0) {
      // The store holds the latest of every entry (follow-ups may finish out of order with local changes).
      await this.blocks.load();
      this.core.emit('blocks', await this.blocks.list());
      for (const { entry, before } of applied.blocks) {
        if (entry.blocked && before?.blocked !== true) await this.blocked(entry.userId, origin);
      }
    }
    if (applied.contacts.length > 0) {
      const list = (await this.sync.records.contacts()).filter((e) => !e.removed).map(toContact);
      this.core.emit('contacts', list);
      this.contactsChanged?.(origin);
      // A contact's chat is not a request: adding the inviter (here, or on a device that took the Welcome later) accepts theirs.
      const added = new Set(applied.contacts.filter(({ entry, before }) => !entry.removed && (before === undefined || before.removed) && !this.blocks.isBlocked(entry.userId)).map(({ entry }) => entry.userId));
      if (added.size > 0) {
        for (const c of await this.core.repo.conversations()) {
          if (c.request === 'pending' && c.invitedBy !== undefined && added.has(c.invitedBy)) {
            await this.requests.apply({ conversationId: c.id, state: 'accepted', inviter: c.invitedBy, updatedAt: 0 }, origin);
          }
        }
      }
    }
    for (const { entry } of applied.requests) await this.requests.apply(entry, origin);
  }


  /**
   * What blocking does besides filtering. On every device: pending requests
   * from the user are deleted. On the device where the user blocked: those
   * deletions are synced, direct chats with the blocked user are left, the
   * contact is removed (synced) and the profile key replaced.
   */
  private async blocked(userId: UserId, origin: 'local' | 'remote'): Promise<void> {
    const records = await this.core.repo.conversations();
    const fromThem = records.filter((c) => c.request === 'pending' && c.invitedBy === userId);
    if (origin === 'remote') {
      for (const c of fromThem) await this.requests.hide(c.id);
      return;
    }
    for (const c of fromThem) {
      await this.sync.local({ requests: [{ conversationId: c.id, state: 'deleted', inviter: userId, updatedAt: Date.now() }] });
    }
    await this.contacts.removeIfPresent(userId);
    for (const c of records) {
      const direct = this.state.toConversation(c).kind === 'direct';
      if (!direct || c.status !== 'active' || c.request !== undefined || !c.members.some((m) => m.userId === userId)) continue;
      try {
        await this.conversations.leave(c.id);
      } catch (err) {
        if (!this.core.isClosed()) this.core.emitError('people', err, { conversationId: c.id });
      }
    }
    try {
      await this.profiles?.rotateKey?.();
    } catch (err) {
      // The block holds; the old key stays until the next rotation.
      if (!this.core.isClosed()) this.core.emitError('people', err);
    }
  }
}
