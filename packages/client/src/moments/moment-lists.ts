import { newContentId } from '@parley/crypto';
import { UserIdSchema } from '@parley/protocol';
import type { UserId } from '@parley/protocol';
import type { ClientCore } from '../core/context.js';
import type { Outbox } from '../core/outbox.js';
import { ClientError } from '../errors.js';
import { encodeSelfMessage } from '../self/self-messages.js';
import type { MomentFriendsMessage, MomentListsMessage } from '../self/self-messages.js';
import { StoreBatch } from '../store/records.js';
import type { MomentRecords } from './moment-records.js';
import { MAX_MOMENT_FRIENDS, MAX_MOMENT_LIST_MEMBERS, MAX_MOMENT_LIST_NAME_LENGTH, MAX_MOMENT_LISTS } from './moment-types.js';
import type { MomentAudience, MomentList } from './moment-types.js';

// eslint-disable-next-line no-control-regex
const UNSAFE_NAME = /[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/;

/**
 * Lists of friends for audiences ("Close friends", "Family"), and what else
 * of Moments travels between this user's own devices. Lists never leave the
 * user's devices: the whole set travels in the self group as one snapshot,
 * and the newest snapshot wins on every device. A device added to the self
 * group also gets the friendships it missed (`moment_friends`).
 */
export class MomentLists {
  constructor(
    private readonly core: ClientCore,
    private readonly outbox: Outbox,
    private readonly records: MomentRecords,
    private readonly now: () => number,
    private readonly friends: () => Promise<UserId[]>,
  ) {}

  async list(): Promise<MomentList[]> {
    this.core.session();
    return (await this.records.lists()).lists;
  }

  async save(input: { id?: string; name: string; members: readonly UserId[] }): Promise<MomentList> {
    this.core.session();
    if (typeof input !== 'object' || input === null) throw new ClientError('bad_request', 'a list is an object');
    const name = typeof input.name === 'string' ? input.name.trim() : '';
    if (name.length === 0 || name.length > MAX_MOMENT_LIST_NAME_LENGTH || UNSAFE_NAME.test(name)) throw new ClientError('bad_request', `a list name is 1 to ${MAX_MOMENT_LIST_NAME_LENGTH} characters on one line`);
    if (!Array.isArray(input.members) || input.members.length > MAX_MOMENT_LIST_MEMBERS || !input.members.every((m) => UserIdSchema.safeParse(m).success)) throw new ClientError('bad_request', 'members are user ids');
    const held = await this.records.lists();
    const id = input.id ?? newContentId();
    const existing = held.lists.find((l) => l.id === id);
    if (input.id !== undefined && existing === undefined) throw new ClientError('not_found', 'no such list');
    if (existing === undefined && held.lists.length >= MAX_MOMENT_LISTS) throw new ClientError('too_large', `at most ${MAX_MOMENT_LISTS} lists`);
    const updatedAt = Math.max(this.now(), held.updatedAt + 1);
    const list: MomentList = { id, name, members: [...new Set(input.members)], updatedAt };
    await this.store({ lists: [...held.lists.filter((l) => l.id !== id), list], updatedAt });
    return list;
  }

  async remove(id: string): Promise<void> {
    this.core.session();
    const held = await this.records.lists();
    if (!held.lists.some((l) => l.id === id)) throw new ClientError('not_found', 'no such list');
    await this.store({ lists: held.lists.filter((l) => l.id !== id), updatedAt: Math.max(this.now(), held.updatedAt + 1) });
  }

  private async store(next: { lists: MomentList[]; updatedAt: number }): Promise<void> {
    const batch = new StoreBatch();
    this.records.putLists(batch, { lists: next.lists.map((l) => ({ ...l, members: [...l.members] })), updatedAt: next.updatedAt });
    await this.core.repo.commit(batch);
    this.core.emit('moments', { kind: 'lists' });
    await this.sendListsToOwnDevices().catch((err: unknown) => this.core.isClosed() || this.core.emitError('moment_invalid', err));
  }

  /** A device just added to the self group missed the hellos: it gets this device's friendships and window, and the lists. */
  async sendToOwnDevices(): Promise<void> {
    const { self } = this.core.session();
    const friends = await this.records.friends();
    const settings = await this.records.settings();
    if (friends.length > 0 || settings.updatedAt > 0) {
      const message = { kind: 'moment_friends' as const, friends: friends.slice(0, MAX_MOMENT_FRIENDS), window: settings.window, windowUpdatedAt: settings.updatedAt };
      await this.outbox.sendPlaintext(self.id, encodeSelfMessage(message), [], undefined, { readyTimeoutMs: 0 });
    }
    await this.sendListsToOwnDevices();
  }

  /** Friendships from another device of this user: taken where this device knows nothing of that person yet, or heard them earlier. */
  async applyOwnFriends(m: MomentFriendsMessage): Promise<() => void> {
    const batch = new StoreBatch();
    for (const f of m.friends) {
      const held = await this.records.friend(f.userId);
      if (held === undefined) this.records.putFriend(batch, f);
      // What they said, as the other device heard it later than this one did.
      else if (f.heardAt !== null && (held.heardAt === null || f.heardAt > held.heardAt)) this.records.putFriend(batch, { ...held, theySay: f.theySay, window: f.window, heardAt: f.heardAt, backfilled: held.backfilled || f.backfilled });
    }
    const settings = await this.records.settings();
    if (m.windowUpdatedAt > settings.updatedAt) this.records.putSettings(batch, { window: m.window, updatedAt: m.windowUpdatedAt });
    if (batch.writes.length === 0) return () => undefined;
    await this.core.repo.commit(batch);
    return () => this.core.emit('moments', { kind: 'friends' });
  }

  /** The lists to this user's other devices (self group), when there are any. */
  async sendListsToOwnDevices(): Promise<void> {
    const { self } = this.core.session();
    const selfConv = await this.core.repo.conversation(self.id);
    if (selfConv?.status !== 'active') return;
    const held = await this.records.lists();
    if (held.updatedAt === 0) return;
    await this.outbox.sendPlaintext(self.id, encodeSelfMessage({ kind: 'moment_lists', lists: held.lists, updatedAt: held.updatedAt }), [], undefined, { readyTimeoutMs: 0 });
  }

  /** Lists from another device of this user: the newer snapshot wins. */
  async applyOwn(m: MomentListsMessage): Promise<() => void> {
    const held = await this.records.lists();
    if (m.updatedAt <= held.updatedAt) return () => undefined;
    const batch = new StoreBatch();
    this.records.putLists(batch, { lists: m.lists.map((l) => ({ ...l, members: [...l.members] })), updatedAt: m.updatedAt });
    await this.core.repo.commit(batch);
    return () => this.core.emit('moments', { kind: 'lists' });
  }

  /** The friends a post with this audience goes to. An unknown list is refused. */
  async audienceOf(audience: MomentAudience): Promise<UserId[]> {
    const friends = await this.friends();
    if (audience.kind === 'friends') return friends;
    const { lists } = await this.records.lists();
    const members = new Set<UserId>();
    for (const id of audience.lists) {
      const list = lists.find((l) => l.id === id);
      if (list === undefined) throw new ClientError('not_found', 'no such list');
      for (const m of list.members) members.add(m);
    }
    return friends.filter((f) => (audience.kind === 'lists' ? members.has(f) : !members.has(f)));
  }
}
