import { checkUsername, UserIdSchema } from '@parley/protocol';
import type { UserId } from '@parley/protocol';
import type { ClientCore } from '../core/context.js';
import { ClientError } from '../errors.js';
import type { Contact } from '../types.js';
import { nicknameProblem } from './people-entries.js';
import type { ContactEntry } from './people-entries.js';
import type { PeopleSync } from './people-sync.js';

/** The start of a contact code (the text of a contact's QR code): `parley:contact/<username>#<userId>`. */
export const CONTACT_CODE_PREFIX = 'parley:contact/';

/** A contact code's parts, or undefined when `text` is not one. */
export function parseContactCode(text: string): { username: string; userId: UserId } | undefined {
  if (!text.startsWith(CONTACT_CODE_PREFIX)) return undefined;
  const rest = text.slice(CONTACT_CODE_PREFIX.length);
  const hash = rest.lastIndexOf('#');
  if (hash <= 0) return undefined;
  let username: string;
  try {
    username = decodeURIComponent(rest.slice(0, hash));
  } catch {
    return undefined;
  }
  const id = UserIdSchema.safeParse(rest.slice(hash + 1));
  return id.success ? { username, userId: id.data } : undefined;
}

/** A nickname as given to the API: trimmed; empty means none; refused (bad_request) when too long or with control/bidi characters. */
export function checkNickname(nickname: unknown): string | null {
  if (nickname === null || nickname === undefined) return null;
  if (typeof nickname !== 'string') throw new ClientError('bad_request', 'a nickname is a string or null');
  const trimmed = nickname.trim();
  if (trimmed.length === 0) return null;
  const problem = nicknameProblem(trimmed);
  if (problem !== undefined) throw new ClientError('bad_request', problem);
  return trimmed;
}

export function toContact(e: ContactEntry): Contact {
  return { userId: e.userId, username: e.username, nickname: e.nickname, addedAt: e.addedAt };
}

/**
 * client.contacts: this user's contact list, kept on the device (never on the
 * server) and synced between the user's devices (people-sync.ts). Adding
 * someone checks them against the server's directory; a contact code also
 * names the user id, and the directory must give that same id for the name
 * (else `contact_mismatch`: a wrong or forged code, or a name that changed hands).
 */
export class Contacts {
  constructor(
    private readonly core: ClientCore,
    private readonly sync: PeopleSync,
    private readonly now: () => number,
  ) {}

  async list(): Promise<Contact[]> {
    this.core.session();
    const entries = await this.sync.records.contacts();
    return entries.filter((e) => !e.removed).map(toContact).sort((a, b) => (a.username < b.username ? -1 : a.username > b.username ? 1 : 0));
  }

  async get(userId: UserId): Promise<Contact | null> {
    this.core.session();
    const e = await this.sync.records.contact(userId);
    return e === undefined || e.removed ? null : toContact(e);
  }

  /** Whether `userId` is a contact now. */
  async has(userId: UserId): Promise<boolean> {
    const e = await this.sync.records.contact(userId);
    return e !== undefined && !e.removed;
  }

  /** The text of this user's contact code (for a QR code): `parley:contact/<username>#<userId>`. */
  myCode(): string {
    const { account } = this.core.session();
    return `${CONTACT_CODE_PREFIX}${encodeURIComponent(account.username)}#${account.userId}`;
  }

  /** Adds a user by username or contact code (an existing contact keeps its date; a given nickname replaces its nickname). */
  async add(usernameOrCode: string, options: { nickname?: string | null } = {}): Promise<Contact> {
    const { account, directory } = this.core.session();
    if (typeof usernameOrCode !== 'string') throw new ClientError('bad_request', 'a username or contact code is a string');
    const nickname = options.nickname === undefined ? undefined : checkNickname(options.nickname);
    const code = parseContactCode(usernameOrCode.trim());
    if (code === undefined && usernameOrCode.trim().startsWith(CONTACT_CODE_PREFIX)) throw new ClientError('bad_request', 'not a valid contact code');
    const name = checkUsername(code?.username ?? usernameOrCode.trim());
    if (!name.ok) throw new ClientError('unknown_user', 'no such user: not a valid username');
    const user = await directory.lookupUser(name.normalized);
    if (code !== undefined && code.userId !== user.userId) {
      throw new ClientError('contact_mismatch', 'the contact code names another account than the one the directory has under that name', { detail: { username: user.username } });
    }
    if (user.userId === account.userId) throw new ClientError('bad_request', 'you cannot add yourself as a contact');
    return this.addUser(user.userId, user.username, nickname);
  }

  /** Adds a known user (a chat started with them, a request accepted); a present contact is only updated if `nickname` is given. */
  async addUser(userId: UserId, username: string, nickname?: string | null): Promise<Contact> {
    const held = await this.sync.records.contact(userId);
    if (held !== undefined && !held.removed && (nickname === undefined || nickname === held.nickname) && held.username === username) return toContact(held);
    const entry: ContactEntry = {
      userId,
      username,
      nickname: nickname === undefined ? (held?.removed === false ? held.nickname : null) : nickname,
      addedAt: held !== undefined && !held.removed ? held.addedAt : this.now(),
      updatedAt: this.nextTime(held),
      removed: false,
    };
    await this.sync.local({ contacts: [entry] });
    return toContact(entry);
  }

  async remove(userId: UserId): Promise<void> {
    this.core.session();
    const held = await this.sync.records.contact(userId);
    if (held === undefined || held.removed) throw new ClientError('not_found', 'not a contact');
    await this.sync.local({ contacts: [{ ...held, removed: true, updatedAt: this.nextTime(held) }] });
  }

  /** Removes the contact if there is one (blocking). */
  async removeIfPresent(userId: UserId): Promise<void> {
    const held = await this.sync.records.contact(userId);
    if (held !== undefined && !held.removed) await this.sync.local({ contacts: [{ ...held, removed: true, updatedAt: this.nextTime(held) }] });
  }

  async setNickname(userId: UserId, nickname: string | null): Promise<Contact> {
    this.core.session();
    const checked = checkNickname(nickname);
    const held = await this.sync.records.contact(userId);
    if (held === undefined || held.removed) throw new ClientError('not_found', 'not a contact');
    const entry: ContactEntry = { ...held, nickname: checked, updatedAt: this.nextTime(held) };
    await this.sync.local({ contacts: [entry] });
    return toContact(entry);
  }

  /** Strictly later than what this device holds, even if its clock went back. */
  private nextTime(held: { updatedAt: number } | undefined): number {
    return Math.max(this.now(), (held?.updatedAt ?? 0) + 1);
  }
}
