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

/** The preferences of a record (records from before them: all off). */
export function prefsOf(c: Pick<ConversationRecord, 'muted' | 'pinned' | 'archived'>): { muted: boolean; pinned: boolean; archived: boolean } {
  return { muted: c.muted ?? false, pinned: c.pinned ?? false, archived: c.archived ?? false };
}

/**
 * Mute, pin and archive: this user's own view of a conversation, stored in
 * its record and synced to the user's other devices through the self group
 * (a `conversation_prefs` self message with the time it was set; the latest
 * wins on every device, whatever the arrival order). A device linked later
 * learns a conversation's preferences at their next change.
 *
 * A message from someone else in an archived conversation brings it back
 * unless it is muted (as WhatsApp does: a muted archived chat stays out of
 * the way). Each device applies that rule itself to the same message, so it
 * needs no sync, and it does not count as a change (a later archive on
 * another device still wins).
 */
export class ConversationPrefsSync {
  constructor(
    private readonly core: ClientCore,
    private readonly state: GroupState,
    private readonly outbox: Outbox,
    private readonly now: () => number,
  ) {}

  async set(conversationId: GroupId, prefs: ConversationPrefs): Promise<Conversation> {
    const { self } = this.core.session();
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
    // The user's other devices: only through the self group, once it exists with another device in it.
    try {
      const selfConv = await this.core.repo.conversation(self.id);
      if (selfConv?.status === 'active' && (await this.state.load(self.id)).memberDevices().length > 1) {
        const message: ConversationPrefsMessage = { kind: 'conversation_prefs', conversationId, ...prefsOf(updated), updatedAt: updated.prefsUpdatedAt ?? 0 };
        await this.outbox.sendPlaintext(self.id, encodeSelfMessage(message), []);
      }
    } catch (err) {
      // Stored here; the other devices catch up at the next change.
      this.core.emitError('account_key', err, { conversationId });
    }
    return view;
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
      if (conv === undefined || prefs.updatedAt <= (conv.prefsUpdatedAt ?? 0)) return undefined;
      const next: ConversationRecord = { ...conv, muted: prefs.muted, pinned: prefs.pinned, archived: prefs.archived, prefsUpdatedAt: prefs.updatedAt };
      await this.core.repo.commit(new StoreBatch().putConversation(next));
      return next;
    });
    if (updated === undefined) return none;
    const view = this.state.toConversation(updated);
    return () => this.core.emit('conversation', view);
  }

  /** A history entry about to be stored: someone else's message unarchives an archived conversation that is not muted. */
  async beforeStore(into: InboxBatch, record: MessageRecord): Promise<MessageRecord> {
    const { account } = this.core.session();
    if (record.outgoing || record.senderUserId === account.userId) return record;
    if (into.conv.archived === true && into.conv.muted !== true) into.conv = { ...into.conv, archived: false };
    return record;
  }
}
