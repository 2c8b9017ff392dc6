import { newGroupId } from '@parley/crypto';
import { toBase64Url } from '@parley/protocol';
import type { GroupId, UserId } from '@parley/protocol';
import type { ClientCore } from '../core/context.js';
import { putGroup } from '../core/group-state.js';
import type { GroupState } from '../core/group-state.js';
import type { Outbox } from '../core/outbox.js';
import { knownOwnDevices, trustOwnDevices, unapprovedError } from '../devices/approvals.js';
import type { ClaimTarget } from '../devices/device-sync.js';
import { activeDevices } from '../directory/device-directory.js';
import { ClientError } from '../errors.js';
import { MAX_TITLE_LENGTH } from '../meta.js';
import { newConversationRecord, StoreBatch } from '../store/records.js';
import type { ConversationRecord } from '../store/records.js';
import type { Conversation, ConversationKind, ConversationSummary } from '../types.js';

/** A Moments pair nobody chatted in yet: not listed (moments/). */
function quietNow(c: ConversationRecord): boolean {
  return c.quiet === true && c.lastMessageSeq === null;
}

/**
 * Conversations: creating them (one MLS group over every device of every
 * member), listing them, changing their members and title, leaving.
 * The calls are documented on ParleyClient, which delegates here.
 */
export class Conversations {
  /** A 1:1 chat this user started (people/: the other user becomes a contact). */
  onDirectCreated: ((other: { userId: UserId; username: string }) => Promise<void>) | undefined;

  constructor(
    private readonly core: ClientCore,
    private readonly state: GroupState,
    private readonly outbox: Outbox,
  ) {}

  /** `quiet`: a 1:1 group for Moments (moments/), listed as a chat only once a message is stored in it. */
  async create(usernames: readonly string[], options: { title?: string; kind?: ConversationKind; quiet?: boolean } = {}): Promise<Conversation> {
    const { engine, directory, account, identity } = this.core.session();
    if (options.title !== undefined && options.title.length > MAX_TITLE_LENGTH) throw new ClientError('bad_request', 'title is too long');
    const users = await Promise.all([...new Set(usernames)].map((u) => directory.lookupUser(u)));
    const others = users.filter((u) => u.userId !== account.userId);
    // A 1:1 chat is with exactly one other user; anything else, or anything with a title, is a group.
    const kind: ConversationKind = options.kind ?? (others.length === 1 && options.title === undefined ? 'direct' : 'group');
    if (kind === 'direct' && others.length !== 1) throw new ClientError('bad_request', 'a 1:1 chat is with exactly one other user');
    const me = await directory.lookupUserById(account.userId);
    const expected: ClaimTarget[] = [];
    for (const u of others) for (const device of activeDevices(u)) expected.push({ userId: u.userId, device });
    // This user's other devices: only those whose approval chain leads back to a device this one trusts (devices/approvals.ts).
    const known = await knownOwnDevices(account.userId, await this.core.repo.conversations(), (id) => this.state.load(id));
    const trust = await trustOwnDevices(me, account.deviceId, known, identity.ciphersuite);
    for (const device of activeDevices(me)) {
      if (device.id === account.deviceId) continue;
      const refused = trust.get(device.id);
      if (refused === undefined) expected.push({ userId: me.userId, device });
      else this.core.emitError('device_unapproved', unapprovedError(device.id, refused));
    }
    const keyPackages = await this.outbox.claimKeyPackages(expected);
    const owner = new Map(expected.map((t) => [t.device.id, t.userId]));
    const covered = new Set(keyPackages.map((kp) => owner.get(kp.deviceId)));
    for (const u of others) if (!covered.has(u.userId)) throw new ClientError('no_key_packages', `${u.username} has no device that can be added right now`);

    const idBytes = newGroupId();
    const groupId = toBase64Url(idBytes) as GroupId;
    await this.core.api.createGroup(groupId);
    const group = await engine.createGroup(idBytes);
    const conv = newConversationRecord({
      id: groupId,
      title: options.title ?? null,
      kind,
      members: [{ userId: account.userId, username: account.username, devices: [account.deviceId] }, ...others.map((u) => ({ userId: u.userId, username: u.username, devices: [] }))],
      ...(options.quiet === true && kind === 'direct' ? { quiet: true as const } : {}),
    });
    await this.core.repo.commit(putGroup(new StoreBatch(), groupId, group).putConversation(conv));
    this.core.groups.set(groupId, group);
    if (keyPackages.length > 0) await this.outbox.addKeyPackages(groupId, keyPackages);
    await this.outbox.sendRoster(groupId);
    const stored = await this.state.record(groupId);
    this.core.emit('conversation', this.state.toConversation(stored));
    const other = others[0];
    // A quiet Moments pair is not a chat the user started: it adds nobody as a contact.
    if (kind === 'direct' && other !== undefined && this.onDirectCreated !== undefined && options.quiet !== true) {
      await this.onDirectCreated({ userId: other.userId, username: other.username }).catch((err: unknown) => this.core.emitError('people', err, { conversationId: groupId }));
    }
    return this.state.toConversation(stored);
  }

  /** Deleted message requests (people/) are hidden tombstones: never listed. */
  async list(): Promise<Conversation[]> {
    return (await this.core.repo.conversations()).filter((c) => c.id !== this.core.hiddenGroup() && c.request !== 'deleted' && !quietNow(c)).map((c) => this.state.toConversation(c));
  }

  async get(conversationId: GroupId): Promise<Conversation> {
    this.state.visible(conversationId);
    return this.state.toConversation(await this.state.record(conversationId));
  }

  /** The main list (accepted conversations), or the pending message requests (people/requests.ts). */
  async summaries(which: 'main' | 'requests' = 'main'): Promise<ConversationSummary[]> {
    const summaries: ConversationSummary[] = [];
    for (const c of await this.core.repo.conversations()) {
      if (c.id === this.core.hiddenGroup() || c.request === 'deleted' || quietNow(c)) continue;
      if ((c.request === 'pending') !== (which === 'requests')) continue;
      const last = c.lastMessageSeq === null ? undefined : await this.core.repo.message(c.id, c.lastMessageSeq);
      const lastMessage = last === undefined ? null : this.state.toMessage(last);
      summaries.push({ ...this.state.toConversation(c), lastMessage, lastActivityAt: lastMessage?.receivedAt ?? c.createdAt });
    }
    // Pinned first, then the newest activity; archived ones stay listed (flagged: the app shows them apart).
    return summaries.sort((a, b) => Number(b.pinned) - Number(a.pinned) || b.lastActivityAt - a.lastActivityAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async addMembers(conversationId: GroupId, usernames: readonly string[]): Promise<Conversation> {
    const { directory } = this.core.session();
    this.state.visible(conversationId);
    const group = await this.state.load(conversationId);
    const users = await Promise.all([...new Set(usernames)].map((u) => directory.lookupUser(u)));
    const present = new Set(group.memberDevices().map((d) => d.deviceId));
    const expected: ClaimTarget[] = [];
    for (const u of users) for (const device of activeDevices(u)) if (!present.has(device.id)) expected.push({ userId: u.userId, device });
    // Adding someone new to a 1:1 chat makes it a group (new devices of its two users do not).
    const before = await this.state.record(conversationId);
    const newUser = users.some((u) => !before.members.some((m) => m.userId === u.userId));
    const keyPackages = await this.outbox.claimKeyPackages(expected);
    if (keyPackages.length > 0) {
      const result = await this.outbox.addKeyPackages(conversationId, keyPackages);
      if (result !== undefined) {
        const names = new Map(users.map((u) => [u.userId, u.username]));
        // Under the group lock: incoming messages update the same record (cursor, unread count).
        await this.core.locks.run(conversationId, async () => {
          const conv = await this.state.record(conversationId);
          const kind = newUser && conv.kind === 'direct' ? 'group' : conv.kind;
          await this.core.repo.commit(
            new StoreBatch().putConversation({
              ...conv,
              ...(kind !== undefined ? { kind } : {}),
              members: conv.members.map((m) => (m.username === null ? { ...m, username: names.get(m.userId) ?? null } : m)),
            }),
          );
        });
        await this.outbox.sendRoster(conversationId);
      }
    } else if (expected.length > 0) {
      throw new ClientError('no_key_packages', 'none of the new devices can be added right now');
    }
    return this.get(conversationId);
  }

  async removeMember(conversationId: GroupId, username: string): Promise<Conversation> {
    const { directory, account } = this.core.session();
    this.state.visible(conversationId);
    const conv = await this.state.record(conversationId);
    const userId = conv.members.find((m) => m.username === username)?.userId ?? (await directory.lookupUser(username)).userId;
    if (userId === account.userId) throw new ClientError('bad_request', 'use leave() to leave a conversation');
    const result = await this.outbox.runCommit(conversationId, async (group) => {
      const devices = group.memberDevices().filter((d) => d.userId === userId).map((d) => d.deviceId);
      return devices.length === 0 ? undefined : group.removeMembers(devices);
    });
    if (result !== undefined) await this.outbox.sendRoster(conversationId);
    return this.get(conversationId);
  }

  /** Leaves every conversation, best effort: each within `timeoutMs`, failures ignored (deleting the account: the server's revocation tells contacts anyway). */
  async leaveAll(timeoutMs: number): Promise<void> {
    // Quiet Moments pairs too.
    const all = (await this.core.repo.conversations()).filter((c) => c.id !== this.core.hiddenGroup() && c.request !== 'deleted');
    for (const c of all) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          this.leave(c.id),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error('timed out')), timeoutMs);
          }),
        ]);
      } catch {
        // Best effort: contacts' clients remove the revoked devices themselves.
      } finally {
        clearTimeout(timer);
      }
    }
  }

  async leave(conversationId: GroupId): Promise<void> {
    const { account } = this.core.session();
    this.state.visible(conversationId);
    await this.outbox.runCommit(conversationId, async (group) => {
      const mine = group.memberDevices().filter((d) => d.userId === account.userId && d.deviceId !== account.deviceId).map((d) => d.deviceId);
      return mine.length === 0 ? undefined : group.removeMembers(mine);
    });
    await this.outbox.proposeLeave(conversationId, true);
    this.core.emit('membership', { conversationId, addedDevices: [], removedDevices: [account.deviceId], members: (await this.state.record(conversationId)).members, removedSelf: true });
  }

  async setTitle(conversationId: GroupId, title: string | null): Promise<Conversation> {
    if (title !== null && title.length > MAX_TITLE_LENGTH) throw new ClientError('bad_request', 'title is too long');
    this.state.visible(conversationId);
    await this.core.locks.run(conversationId, async () => {
      const conv = await this.state.record(conversationId);
      await this.core.repo.commit(new StoreBatch().putConversation({ ...conv, title }));
    });
    await this.outbox.sendRoster(conversationId);
    const updated = await this.get(conversationId);
    this.core.emit('conversation', updated);
    return updated;
  }
}
