import { encodeContent, newContentId } from '@parley/crypto';
import type { ProfileKeyContent } from '@parley/crypto';
import { toHex } from '@parley/protocol';
import type { GroupId, UserId } from '@parley/protocol';
import type { ClientCore } from '../core/context.js';
import type { GroupState } from '../core/group-state.js';
import type { Outbox } from '../core/outbox.js';
import { ClientError } from '../errors.js';
import { encodeSelfMessage } from '../self/self-messages.js';
import { StoreBatch } from '../store/records.js';
import type { ConversationRecord } from '../store/records.js';
import type { OwnKeyRecord, ProfileRecords } from './profile-records.js';

/** A digest of a conversation's member users (sorted ids): "the same people as last time". */
export async function membersDigest(conv: Pick<ConversationRecord, 'members'>): Promise<string> {
  const ids = conv.members.map((m) => m.userId).sort();
  const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(ids.join('\n'))));
  return toHex(hash.subarray(0, 16));
}

/**
 * Whether this user's profile key may go into `conv`: an active conversation
 * (not the self group) with someone else in it, that the user accepted — a
 * pending message request (people/, `request: 'pending'`) learns nothing.
 * The field is read defensively: records from before requests have none.
 */
export function acceptsProfileKey(conv: ConversationRecord, me: string, selfGroup: GroupId | undefined): boolean {
  if (conv.id === selfGroup || conv.status !== 'active') return false;
  const request: unknown = (conv as { request?: unknown }).request;
  if (request === 'pending' || request === 'deleted') return false;
  return conv.members.some((m) => m.userId !== me);
}

/**
 * Sends this user's profile key where it should go: a `profile_key` content
 * message into each accepted conversation, once per key per set of member
 * users (the `profile/shared/<id>` record remembers what went where), and a
 * `profile_key` self message to the user's other devices. A profile change
 * sends nothing: holders of the key fetch the new ciphertext themselves.
 */
export class ProfileSharing {
  /** One share at a time per conversation (events come in bursts: joined, roster, members). */
  private readonly running = new Map<GroupId, Promise<void>>();

  constructor(
    private readonly core: ClientCore,
    private readonly state: GroupState,
    private readonly outbox: Outbox,
    private readonly records: ProfileRecords,
    /** Users no key may reach (people/: blocked users): a conversation with one of them in it gets none. */
    private readonly withheldFrom: (userId: UserId) => boolean,
  ) {}

  /** Shares `key` (whose version is `version`) into the conversation unless it went there already for these members. */
  share(conversationId: GroupId, key: Uint8Array, version: string): Promise<void> {
    const prev = this.running.get(conversationId) ?? Promise.resolve();
    const next = prev.then(() => this.shareNow(conversationId, key, version));
    const tail = next.catch(() => undefined);
    this.running.set(conversationId, tail);
    void tail.then(() => {
      if (this.running.get(conversationId) === tail) this.running.delete(conversationId);
    });
    return next;
  }

  private async shareNow(conversationId: GroupId, key: Uint8Array, version: string): Promise<void> {
    const session = this.core.current();
    if (session === undefined || this.core.isClosed()) return;
    const conv = await this.core.repo.conversation(conversationId);
    if (conv === undefined || !acceptsProfileKey(conv, session.account.userId, this.core.hiddenGroup())) return;
    if (conv.members.some((m) => this.withheldFrom(m.userId))) return;
    const members = await membersDigest(conv);
    const shared = await this.records.shared(conversationId);
    if (shared?.version === version && shared.members === members) return;
    const content: ProfileKeyContent = { type: 'profile_key', v: 1, id: newContentId(), sentAt: Date.now(), key };
    try {
      // Like a receipt: an application message that is no history entry. Offline it fails at once and goes after the next sync.
      await this.outbox.sendPlaintext(conversationId, encodeContent(content), [], undefined, { readyTimeoutMs: 0 });
    } catch (err) {
      if (err instanceof ClientError && (err.code === 'disconnected' || err.code === 'closed' || err.code === 'not_active' || err.code === 'unknown_conversation')) return;
      throw err;
    }
    // Members as they were when it was sent: a change since then shares again.
    const batch = new StoreBatch();
    this.records.putShared(batch, { conversationId, version, members });
    await this.core.repo.commit(batch);
  }

  /** Every conversation this key should be in (after a new key, a reconnect, a restart). */
  async shareAll(key: Uint8Array, version: string): Promise<void> {
    for (const c of await this.core.repo.conversations()) {
      if (this.core.isClosed()) return;
      await this.share(c.id, key, version);
    }
  }

  /** This user's other devices, through the self group (once it exists with another device in it). */
  async sendToOwnDevices(own: OwnKeyRecord): Promise<void> {
    const { self } = this.core.session();
    const selfConv = await this.core.repo.conversation(self.id);
    if (selfConv?.status !== 'active' || (await this.state.load(self.id)).memberDevices().length < 2) return;
    await this.outbox.sendPlaintext(self.id, encodeSelfMessage({ kind: 'profile_key', key: own.key, createdAt: own.createdAt }), []);
  }
}
