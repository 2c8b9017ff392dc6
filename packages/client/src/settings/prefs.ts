import { z } from 'zod';
import { GroupIdSchema } from '@parley/protocol';
import type { GroupId } from '@parley/protocol';
import type { ClientCore } from '../core/context.js';
import type { GroupState } from '../core/group-state.js';
import type { Outbox } from '../core/outbox.js';
import { ClientError } from '../errors.js';
import { encodeSelfMessage } from '../self/self-messages.js';
import type { ConversationPrefsMessage } from '../self/self-messages.js';
import { StoreBatch } from '../store/records.js';
import type { ConversationRecord, MessageRecord } from '../store/records.js';
import type { InboxBatch } from '../sync/content-handlers.js';
import type { Conversation, ConversationPrefs } from '../types.js';

/**
 * Preferences from another device for a conversation this device has not
 * joined yet (a device linked later gets them before its Welcomes): kept in
 * `meta` under `prefs-pending/<conversation>` and applied when it arrives.
 */
const PENDING_PREFIX = 'prefs-pending/';
const PendingSchema = z.object({
  v: z.literal(1),
  conversationId: GroupIdSchema,
  muted: z.boolean(),
  pinned: z.boolean(),
  archived: z.boolean(),
  updatedAt: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
});

function parsePending(key: string, text: string): ConversationPrefsMessage | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const r = PendingSchema.safeParse(json);
  if (!r.success || key !== PENDING_PREFIX + r.data.conversationId) return undefined;
  const { conversationId, muted, pinned, archived, updatedAt } = r.data;
  return { kind: 'conversation_prefs', conversationId, muted, pinned, archived, updatedAt };
}

/** The preferences of a record (records from before them: all off). */
export function prefsOf(c: Pick<ConversationRecord, 'muted' | 'pinned' | 'archived'>): { muted: boolean; pinned: boolean; archived: boolean } {
  return { muted: c.muted ?? false, pinned: c.pinned ?? false, archived: c.archived ?? false };
}

/**
 * Mute, pin and archive: this user's own view of a conversation, stored in
 * its record and synced to the user's other devices through the self group
 * (a `conversation_prefs` self message with the time it was set; the latest
 * wins on every device, whatever the arrival order). The device that adds a
 * new device to the self group sends it every conversation's preferences;
 * those for conversations it has not joined yet wait in `meta` until their
 * Welcome arrives.
 *
 * A message from someone else in an archived conversation brings it back
 * unless it is muted (as WhatsApp does: a muted archived chat stays out of
 * the way). Each device applies that rule itself to the same message, so it
 * needs no sync, and it does not count as a change (a later archive on
 * another device still wins).
 */
export class ConversationPrefsSync {
  /** Conversations with preferences waiting for them (loaded from the store once). */
  private pending: Promise<Set<GroupId>> | undefined;

  constructor(
    private readonly core: ClientCore,
    private readonly state: GroupState,
    private readonly outbox: Outbox,
    private readonly now: () => number,
  ) {}

  async set(conversationId: GroupId, prefs: ConversationPrefs): Promise<Conversation> {
    this.core.session();
    this.state.visible(conversationId);
    if (typeof prefs !== 'object' || prefs === null) throw new ClientError('bad_request', 'prefs must be an object');
    for (const key of ['muted', 'pinned', 'archived'] as const) {
      const v: unknown = prefs[key];
      if (v !== undefined && typeof v !== 'boolean') throw new ClientError('bad_request', `${key} must be true or false`);
    }
    const updated = await this.core.locks.run(conversationId, async () => {
      const conv = await this.state.record(conversationId);
      const next: ConversationRecord = {
        ...conv,
        ...prefsOf(conv),
        ...(prefs.muted === undefined ? {} : { muted: prefs.muted }),
        ...(prefs.pinned === undefined ? {} : { pinned: prefs.pinned }),
        ...(prefs.archived === undefined ? {} : { archived: prefs.archived }),
        // Strictly later than what this device holds, even if its clock went back.
        prefsUpdatedAt: Math.max(this.now(), (conv.prefsUpdatedAt ?? 0) + 1),
      };
      await this.core.repo.commit(new StoreBatch().putConversation(next));
      return next;
    });
    const view = this.state.toConversation(updated);
    this.core.emit('conversation', view);
    try {
      await this.sendToOwnDevices(updated);
    } catch (err) {
      // Stored here; the other devices catch up at the next change.
      this.core.emitError('account_key', err, { conversationId });
    }
    return view;
  }

  /** The user's other devices: only through the self group, once it exists with another device in it. */
  private async sendToOwnDevices(conv: ConversationRecord): Promise<void> {
    const { self } = this.core.session();
    const selfConv = await this.core.repo.conversation(self.id);
    if (selfConv?.status !== 'active' || (await this.state.load(self.id)).memberDevices().length < 2) return;
    const message: ConversationPrefsMessage = { kind: 'conversation_prefs', conversationId: conv.id, ...prefsOf(conv), updatedAt: conv.prefsUpdatedAt ?? 0 };
    await this.outbox.sendPlaintext(self.id, encodeSelfMessage(message), []);
  }

  /** This device added devices to the self group: every conversation's preferences that were ever set go to them. */
  async sendAll(): Promise<void> {
    for (const c of await this.core.repo.conversations()) {
      if (c.id === this.core.hiddenGroup() || c.prefsUpdatedAt === undefined || this.core.isClosed()) continue;
      await this.sendToOwnDevices(c);
    }
  }

  /** A conversation event: if preferences were waiting for this conversation, they apply now. */
  noteConversation(conversationId: GroupId): void {
    void this.applyPending(conversationId).catch((err: unknown) => this.core.isClosed() || this.core.emitError('internal', err, { conversationId }));
  }

  private pendingSet(): Promise<Set<GroupId>> {
    this.pending ??= this.core.repo.store.list('meta', { prefix: PENDING_PREFIX }).then((rows) => new Set(rows.map((r) => r.key.slice(PENDING_PREFIX.length) as GroupId)));
    return this.pending;
  }

  private async applyPending(conversationId: GroupId): Promise<void> {
    const pending = await this.pendingSet();
    if (!pending.has(conversationId)) return;
    const key = PENDING_PREFIX + conversationId;
    const updated = await this.core.locks.run(conversationId, async () => {
      const conv = await this.core.repo.conversation(conversationId);
      if (conv === undefined) return undefined;
      pending.delete(conversationId);
      const text = await this.core.repo.store.get('meta', key);
      const prefs = text === undefined ? undefined : parsePending(key, text);
      const batch = new StoreBatch().deleteAll([{ table: 'meta', key }]);
      const next = prefs !== undefined && prefs.updatedAt > (conv.prefsUpdatedAt ?? 0) ? { ...conv, muted: prefs.muted, pinned: prefs.pinned, archived: prefs.archived, prefsUpdatedAt: prefs.updatedAt } : undefined;
      if (next !== undefined) batch.putConversation(next);
      await this.core.repo.commit(batch);
      return next;
    });
    if (updated !== undefined) this.core.emit('conversation', this.state.toConversation(updated));
  }

  /**
   * Another device's change, from the self group: stored under the
   * conversation's lock if it is newer than what this device holds.
   * Unknown conversations (not joined here yet) are left for the next change.
   */
  async apply(prefs: ConversationPrefsMessage): Promise<() => void> {
    const none = () => undefined;
    if (prefs.conversationId === this.core.hiddenGroup()) return none;
    const updated = await this.core.locks.run(prefs.conversationId, async () => {
      const conv = await this.core.repo.conversation(prefs.conversationId);
      if (conv === undefined) {
        await this.keepPending(prefs);
        return undefined;
      }
      if (prefs.updatedAt <= (conv.prefsUpdatedAt ?? 0)) return undefined;
      const next: ConversationRecord = { ...conv, muted: prefs.muted, pinned: prefs.pinned, archived: prefs.archived, prefsUpdatedAt: prefs.updatedAt };
      await this.core.repo.commit(new StoreBatch().putConversation(next));
      return next;
    });
    if (updated === undefined) return none;
    const view = this.state.toConversation(updated);
    return () => this.core.emit('conversation', view);
  }

  /** Not joined here yet: kept (the newest per conversation) until the conversation arrives. */
  private async keepPending(prefs: ConversationPrefsMessage): Promise<void> {
    const key = PENDING_PREFIX + prefs.conversationId;
    const text = await this.core.repo.store.get('meta', key);
    const held = text === undefined ? undefined : parsePending(key, text);
    if (held !== undefined && held.updatedAt >= prefs.updatedAt) return;
    const { conversationId, muted, pinned, archived, updatedAt } = prefs;
    await this.core.repo.commit(new StoreBatch().putText('meta', key, JSON.stringify({ v: 1, conversationId, muted, pinned, archived, updatedAt })));
    (await this.pendingSet()).add(conversationId);
  }

  /** A history entry about to be stored: someone else's message unarchives an archived conversation that is not muted. */
  async beforeStore(into: InboxBatch, record: MessageRecord): Promise<MessageRecord> {
    const { account } = this.core.session();
    if (record.outgoing || record.senderUserId === account.userId) return record;
    if (into.conv.archived === true && into.conv.muted !== true) into.conv = { ...into.conv, archived: false };
    return record;
  }
}
