import type { ParleyClient, UserId } from '@parley/client';
import { pickName } from '../lib/people.js';
import type { NameOf } from './rules.js';

/**
 * Names for the senders of `userIds` as the app shows them (nickname >
 * display name > username), read from this device's contacts and cached
 * profiles — nothing is fetched for it. Unreadable parts fall back to the
 * username.
 */
export async function namesFor(client: ParleyClient, userIds: Iterable<UserId>): Promise<NameOf> {
  const nicknames = new Map<UserId, string | null>();
  const displayNames = new Map<UserId, string | null>();
  try {
    for (const c of await client.contacts.list()) nicknames.set(c.userId, c.nickname);
  } catch {
    /* no nicknames: display names or usernames */
  }
  for (const id of new Set(userIds)) {
    try {
      displayNames.set(id, (await client.profiles.get(id))?.displayName ?? null);
    } catch {
      displayNames.set(id, null);
    }
  }
  return (userId, username) => pickName(nicknames.get(userId), displayNames.get(userId), username);
}
