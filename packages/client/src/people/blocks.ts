import { checkUsername, UserIdSchema } from '@parley/protocol';
import type { UserId } from '@parley/protocol';
import type { ClientCore } from '../core/context.js';
import { ClientError } from '../errors.js';
import type { BlockedUser } from '../types.js';
import type { BlockEntry } from './people-entries.js';
import type { PeopleSync } from './people-sync.js';

function toBlocked(e: BlockEntry): BlockedUser {
  return { userId: e.userId, username: e.username, blockedAt: e.blockedAt };
}

/**
 * client.blocks: the users this user blocked, kept on the device and synced
 * between the user's devices (people-sync.ts). The set is held in memory too:
 * the inbox asks it, synchronously, about every decrypted message before it
 * is stored (people.ts drops what a blocked user sends). What blocking does
 * besides (requests from them deleted, direct chats left, the contact
 * removed, a new profile key) is in people.ts.
 */
export class Blocks {
  private readonly blocked = new Set<UserId>();

  constructor(
    private readonly core: ClientCore,
    private readonly sync: PeopleSync,
    private readonly now: () => number,
  ) {}

  /** Loads the set from the store (at each session start, before the connection). */
  async load(): Promise<void> {
    const entries = await this.sync.records.blocks();
    this.blocked.clear();
    for (const e of entries) if (e.blocked) this.blocked.add(e.userId);
  }

  isBlocked(userId: UserId): boolean {
    return this.blocked.has(userId);
  }

  /** Entries that won a merge, just stored: the in-memory set follows at once. */
  note(entries: readonly BlockEntry[]): void {
    for (const e of entries) {
      if (e.blocked) this.blocked.add(e.userId);
      else this.blocked.delete(e.userId);
    }
  }

  async list(): Promise<BlockedUser[]> {
    this.core.session();
    const entries = await this.sync.records.blocks();
    return entries.filter((e) => e.blocked).map(toBlocked).sort((a, b) => b.blockedAt - a.blockedAt);
  }

  /** Blocks a user given by id or by username (already blocked: nothing changes). The user is not told. */
  async block(userIdOrUsername: string): Promise<void> {
    const { account } = this.core.session();
    if (typeof userIdOrUsername !== 'string') throw new ClientError('bad_request', 'a user id or username is a string');
    const { userId, username } = await this.resolve(userIdOrUsername.trim());
    if (userId === account.userId) throw new ClientError('bad_request', 'you cannot block yourself');
    const held = await this.sync.records.block(userId);
    if (held?.blocked === true) return;
    const at = Math.max(this.now(), (held?.updatedAt ?? 0) + 1);
    await this.sync.local({ blocks: [{ userId, username, blockedAt: at, updatedAt: at, blocked: true }] });
  }

  async unblock(userId: UserId): Promise<void> {
    this.core.session();
    const held = await this.sync.records.block(userId);
    if (held?.blocked !== true) throw new ClientError('not_found', 'this user is not blocked');
    await this.sync.local({ blocks: [{ ...held, blocked: false, updatedAt: Math.max(this.now(), held.updatedAt + 1) }] });
  }

  /** A user id the directory knows (by id first: a username could look like one), else a username. */
  private async resolve(text: string): Promise<{ userId: UserId; username: string | null }> {
    const { directory } = this.core.session();
    const id = UserIdSchema.safeParse(text);
    if (id.success) {
      try {
        const user = await directory.lookupUserById(id.data);
        return { userId: user.userId, username: user.username };
      } catch (err) {
        if (!(err instanceof ClientError && err.code === 'unknown_user')) throw err;
      }
    }
    const name = checkUsername(text);
    if (!name.ok) throw new ClientError('unknown_user', 'no such user');
    const user = await directory.lookupUser(name.normalized);
    return { userId: user.userId, username: user.username };
  }
}
