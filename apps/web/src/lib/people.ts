import type { Contact, ParleyClient, Profile, UserId } from '@parley/client';

/** How a person is called: the nickname this user gave them, else their own display name, else their username. */
export type NameOf = (userId: UserId, username: string | null) => string;

export const UNKNOWN_USER = 'Unknown user';

/** The name rule on its own (for code that has the parts at hand). */
export function pickName(nickname: string | null | undefined, displayName: string | null | undefined, username: string | null): string {
  const nick = nickname?.trim();
  if (nick !== undefined && nick !== '') return nick;
  const display = displayName?.trim();
  if (display !== undefined && display !== '') return display;
  return username ?? UNKNOWN_USER;
}

interface Picture {
  readonly updatedAt: number;
  readonly url: string | null;
}

/**
 * The people this device knows, for display: contacts (nicknames) and
 * profiles (display names, pictures), read from the client once and kept
 * current by its 'contacts' and 'profile' events. Profiles and pictures are
 * loaded the first time someone is shown; a picture is a blob URL of the
 * decrypted bytes, revoked when it changes or the book is closed.
 *
 * Reading never waits: what is not loaded yet falls back to the username,
 * and subscribers are told once it arrives (a version number for
 * useSyncExternalStore).
 */
/** A picture that could not be fetched is asked for again after this long. */
const PICTURE_RETRY_MS = 10_000;

export class PeopleBook {
  private readonly listeners = new Set<() => void>();
  private readonly profiles = new Map<UserId, Profile | null>();
  private readonly loadingProfiles = new Set<UserId>();
  private readonly pictures = new Map<UserId, Picture>();
  private readonly loadingPictures = new Map<UserId, number>();
  private contacts = new Map<UserId, Contact>();
  private contactsLoaded = false;
  private closed = false;
  private v = 0;
  private readonly onProfile = (p: Profile) => {
    this.profiles.set(p.userId, p);
    // A read still under way started before this event: its answer is older and must not replace it.
    this.loadingProfiles.delete(p.userId);
    this.bump();
  };
  private readonly onContacts = (list: readonly Contact[]) => this.setContacts(list);

  constructor(private readonly client: ParleyClient) {
    client.on('profile', this.onProfile);
    client.on('contacts', this.onContacts);
    void client.contacts.list().then(
      (list) => this.setContacts(list),
      () => undefined,
    );
  }

  close(): void {
    this.closed = true;
    this.client.off('profile', this.onProfile);
    this.client.off('contacts', this.onContacts);
    for (const p of this.pictures.values()) if (p.url !== null) URL.revokeObjectURL(p.url);
    this.pictures.clear();
    this.listeners.clear();
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  readonly version = (): number => this.v;

  /** Nickname > display name > username. */
  readonly name: NameOf = (userId, username) => {
    const contact = this.contacts.get(userId);
    return pickName(contact?.nickname, this.profile(userId)?.displayName, username ?? contact?.username ?? null);
  };

  /** The profile as far as it is known (null: none shared with this user, or not loaded yet). */
  profile(userId: UserId): Profile | null {
    if (!this.profiles.has(userId)) this.loadProfile(userId);
    return this.profiles.get(userId) ?? null;
  }

  contact(userId: UserId): Contact | null {
    return this.contacts.get(userId) ?? null;
  }

  /** Null until the contact list is read. */
  isContact(userId: UserId): boolean | null {
    return this.contactsLoaded ? this.contacts.has(userId) : null;
  }

  /** A blob URL of the person's picture, or null (none, or not loaded yet). */
  pictureUrl(userId: UserId): string | null {
    const profile = this.profile(userId);
    if (profile === null || !profile.hasPicture) return null;
    const have = this.pictures.get(userId);
    if (have?.updatedAt !== profile.updatedAt) this.loadPicture(userId, profile.updatedAt);
    return have?.url ?? null;
  }

  private setContacts(list: readonly Contact[]): void {
    this.contacts = new Map(list.map((c) => [c.userId, c]));
    this.contactsLoaded = true;
    this.bump();
  }

  private loadProfile(userId: UserId): void {
    if (this.loadingProfiles.has(userId) || this.closed) return;
    this.loadingProfiles.add(userId);
    const read = userId === this.client.userId ? this.client.profiles.mine() : this.client.profiles.get(userId);
    read.then(
      (p) => {
        // A 'profile' event arrived meanwhile (it ended the loading): it is newer than this read.
        if (!this.loadingProfiles.delete(userId)) return;
        this.profiles.set(userId, p);
        this.bump();
      },
      () => {
        if (!this.loadingProfiles.delete(userId)) return;
        this.profiles.set(userId, null);
        this.bump();
      },
    );
  }

  private loadPicture(userId: UserId, updatedAt: number): void {
    if (this.loadingPictures.get(userId) === updatedAt || this.closed) return;
    this.loadingPictures.set(userId, updatedAt);
    this.client.profiles.picture(userId).then(
      (bytes) => {
        if (this.loadingPictures.get(userId) === updatedAt) this.loadingPictures.delete(userId);
        if (this.closed) return;
        const old = this.pictures.get(userId);
        if (old !== undefined && old.updatedAt > updatedAt) return;
        if (old?.url != null) URL.revokeObjectURL(old.url);
        const url = bytes === null ? null : URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>]));
        this.pictures.set(userId, { updatedAt, url });
        this.bump();
      },
      () => {
        if (this.loadingPictures.get(userId) === updatedAt) this.loadingPictures.delete(userId);
        if (this.closed) return;
        this.pictures.set(userId, { updatedAt, url: null });
        // Not fetched (offline, the server busy): asked again a little later, not only at the next profile change.
        setTimeout(() => {
          if (this.closed || this.pictures.get(userId)?.url !== null) return;
          this.pictures.delete(userId);
          this.bump();
        }, PICTURE_RETRY_MS);
      },
    );
  }

  private bump(): void {
    if (this.closed) return;
    this.v++;
    for (const l of [...this.listeners]) l();
  }
}
