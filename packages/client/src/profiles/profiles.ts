import {
  decryptProfile,
  encryptAttachment,
  encryptProfile,
  generateProfileKey,
  ProfileError,
  profileVersion,
} from '@parley/crypto';
import type { ProfileData, ProfilePicture } from '@parley/crypto';
import { bytesEqual } from '@parley/protocol';
import type { GroupId, UserId } from '@parley/protocol';
import type { ClientCore } from '../core/context.js';
import type { GroupState } from '../core/group-state.js';
import type { Outbox } from '../core/outbox.js';
import { ClientError } from '../errors.js';
import type { ProfileKeySelfMessage } from '../self/self-messages.js';
import { StoreBatch } from '../store/records.js';
import type { ContentHandler, IncomingContent, InboxBatch } from '../sync/content-handlers.js';
import { ProfileRecords } from './profile-records.js';
import type { CachedProfile, OwnKeyRecord } from './profile-records.js';
import { downloadPicture } from './profile-pictures.js';
import { membersDigest, ProfileSharing } from './profile-sharing.js';
import { checkInput, isCode, sameProfile, view } from './profile-input.js';
import type { Profile, ProfileInput } from './profile-types.js';

/** A profile read longer ago than this is fetched again (after a sync, or when asked for). */
export const PROFILE_TTL_MS = 60 * 60 * 1000;
/** A profile asked for (`get`: the app shows that person) is read again once it is older than this. */
export const PROFILE_SHOWN_TTL_MS = 5 * 60 * 1000;
/** The lock this user's own key and profile change under (not a group id: those are base64url). */
const OWN_LOCK = 'profile/own';

/** Profiles fetched again after one sync, at most (the server allows an account 600 requests a minute). */
const MAX_REFRESH_PER_SYNC = 50;
/** get() starts a background fetch of one user at most this often. */
const RETRY_MS = 60_000;

const EMPTY: ProfileData = { displayName: null, about: null, picture: null, updatedAt: 0 };

/**
 * client.profiles: encrypted profiles after Signal's profile key (see
 * @parley/crypto profile.ts and docs/threat-model.md, "Profiles").
 *
 * - This user's key is made by the first device that needs it (set, rotate,
 *   or — on a device that is its user's only one — sharing), which uploads
 *   the profile under its version BEFORE the key leaves the device (so nobody
 *   who learns the key can take the version first), then sends it to the
 *   user's other devices (self group, the newest key wins) and shares it.
 * - Sharing: a `profile_key` message into each accepted conversation, once
 *   per key per set of member users (profile-sharing.ts). A profile change is
 *   one upload and no message: holders fetch it after a sync once their copy
 *   is older than PROFILE_TTL_MS, when asked (`refresh`), or when a new key
 *   arrives.
 * - A received key is bound to the MLS-authenticated SENDER: nobody can set
 *   another user's profile. Whatever does not decrypt or validate is dropped
 *   with a `profile_invalid` error event (the username is shown instead).
 */
export class Profiles implements ContentHandler {
  readonly records: ProfileRecords;
  private readonly sharing: ProfileSharing;
  private readonly refreshing = new Map<UserId, Promise<void>>();
  private readonly downloads = new Map<UserId, Promise<Uint8Array | null>>();
  private readonly background = new Set<Promise<unknown>>();
  /** When get() last started a fetch per user. */
  private readonly triedAt = new Map<UserId, number>();
  /**
   * Users this user's key must not reach (set by wireFeatures from people/: blocked users). A
   * conversation with one of them in it gets no key; rotateKey() after a block leaves them the old one.
   */
  withholdFrom: (userId: UserId) => boolean = () => false;
  /** Until when "another device of this user is listed" holds without asking the directory again. */
  private notAloneUntil = 0;

  constructor(
    private readonly core: ClientCore,
    state: GroupState,
    outbox: Outbox,
    private readonly now: () => number,
  ) {
    this.records = new ProfileRecords(core.repo.store);
    this.sharing = new ProfileSharing(core, state, outbox, this.records, (userId) => this.withholdFrom(userId));
  }

  private me(): UserId {
    return this.core.session().account.userId;
  }

  /* ---------------- public API ---------------- */

  /** This user's profile as this device knows it (all null until one is set). */
  async mine(): Promise<Profile> {
    const me = this.me();
    const cached = await this.records.cached(me);
    if (cached === undefined && (await this.records.ownKey()) !== undefined) await this.refresh(me).catch(() => undefined);
    return view(me, (await this.records.cached(me)) ?? EMPTY);
  }

  /** Changes this user's profile: one upload (picture first), no message to anyone. */
  async set(input: ProfileInput): Promise<Profile> {
    const me = this.me();
    const checked = checkInput(input);
    let upload: { picture: ProfilePicture; bytes: Uint8Array } | undefined;
    if (checked.picture !== undefined && checked.picture !== null) {
      const encrypted = await encryptAttachment(checked.picture.bytes);
      await this.core.api.putBlob(encrypted.digest, encrypted.ciphertext);
      upload = { picture: { digest: encrypted.digest, key: encrypted.key, nonce: encrypted.nonce, size: checked.picture.bytes.length, mimeType: checked.picture.mimeType }, bytes: checked.picture.bytes };
    }
    const { profile, newKey } = await this.core.locks.run(OWN_LOCK, async () => {
      // No key yet: made here, and this upload claims its version (nothing else goes up before it).
      const held = await this.records.ownKey();
      const ready = held === undefined ? { own: { key: generateProfileKey(), createdAt: this.now() }, fresh: true } : await this.ownLocked('never');
      if (ready === undefined) throw new ClientError('internal', 'no profile key');
      const current = (await this.records.cached(me)) ?? EMPTY;
      const data: ProfileData = {
        displayName: checked.displayName === undefined ? current.displayName : checked.displayName,
        about: checked.about === undefined ? current.about : checked.about,
        picture: checked.picture === undefined ? current.picture : (upload?.picture ?? null),
        updatedAt: Math.max(this.now(), current.updatedAt + 1),
      };
      const stored = await this.uploadLocked(ready.own, data);
      const batch = new StoreBatch();
      this.records.putCached(batch, stored.cached);
      if (upload !== undefined) this.records.putPicture(batch, me, upload.picture.digest, upload.bytes);
      else if (data.picture === null) this.records.dropPicture(batch, me);
      await this.core.repo.commit(batch);
      return { profile: stored.cached, newKey: ready.fresh || stored.rotated ? stored.own : undefined };
    });
    if (newKey !== undefined) await this.distribute(newKey);
    const out = view(me, profile);
    this.core.emit('profile', out);
    return out;
  }

  /** Another user's profile (or this user's) from this device's copy; null: no key, nothing readable, or not fetched yet. */
  async get(userId: UserId): Promise<Profile | null> {
    this.core.session();
    const cached = await this.records.cached(userId);
    const now = this.now();
    // Missing or read a while ago: fetched in the background, at most once a minute per user (an app asks when it shows
    // someone). Shown profiles are kept fresher than the TTL that syncs use, so a change reaches people who look soon.
    if ((cached === undefined || cached.fetchedAt + PROFILE_SHOWN_TTL_MS < now) && (this.triedAt.get(userId) ?? -Infinity) + RETRY_MS < now) {
      this.triedAt.set(userId, now);
      this.inBackground(this.refresh(userId));
    }
    return cached === undefined ? null : view(userId, cached);
  }

  /** The decrypted picture (kept on the device once fetched); null: none, or no longer on the server. */
  async picture(userId: UserId): Promise<Uint8Array | null> {
    this.core.session();
    const cached = await this.records.cached(userId);
    if (cached === undefined || cached.picture === null) return null;
    const kept = await this.records.picture(userId, cached.picture.digest);
    if (kept !== undefined) return kept;
    let p = this.downloads.get(userId);
    if (p === undefined) {
      p = downloadPicture(this.core, this.records, cached).finally(() => this.downloads.delete(userId));
      this.downloads.set(userId, p);
    }
    return p;
  }

  /** Fetches a user's profile again (all of them without `userId`): after a sync this happens by itself past the TTL. */
  async refresh(userId?: UserId): Promise<void> {
    const me = this.me();
    if (userId === undefined) {
      for (const id of [me, ...(await this.records.usersWithKeys())]) await this.refresh(id);
      return;
    }
    let p = this.refreshing.get(userId);
    if (p === undefined) {
      p = (userId === me ? this.refreshOwn() : this.refreshOther(userId)).finally(() => this.refreshing.delete(userId));
      this.refreshing.set(userId, p);
    }
    return p;
  }

  /**
   * A new key: the profile is uploaded under the new version (the server
   * deletes the old one at once, so holders of the old key read nothing
   * more), then the key goes to this user's devices and into every accepted
   * conversation. Blocking someone uses it: they are in none of them.
   */
  async rotateKey(): Promise<void> {
    const me = this.me();
    const own = await this.core.locks.run(OWN_LOCK, async () => {
      const ready = await this.ownLocked('always');
      const current = ready === undefined ? undefined : await this.records.cached(me);
      const next: OwnKeyRecord = { key: generateProfileKey(), createdAt: Math.max(this.now(), (ready?.own.createdAt ?? 0) + 1) };
      const stored = await this.uploadLocked(next, current ?? EMPTY);
      return stored.own;
    });
    await this.distribute(own);
  }

  /**
   * Sends this user's profile key into the conversation if it is accepted
   * and the key has not gone there for its current members (people/ calls it
   * when a request is accepted; events call it on joins and member changes).
   */
  async shareWith(conversationId: GroupId): Promise<void> {
    this.core.session();
    const ready = await this.core.locks.run(OWN_LOCK, () => this.ownLocked('if-alone'));
    if (ready === undefined) return;
    if (ready.fresh) await this.distribute(ready.own);
    await this.sharing.share(conversationId, ready.own.key, ready.version);
  }

  /* ---------------- wiring (features.ts) ---------------- */

  /** A `profile_key` message: the SENDER's key (bound to the MLS-authenticated sender user). */
  async apply(into: InboxBatch, incoming: IncomingContent): Promise<void> {
    const { content, sender } = incoming;
    if (content.type !== 'profile_key' || incoming.conversationId === this.core.hiddenGroup()) return;
    const me = this.core.current()?.account.userId;
    if (me === undefined) return;
    if (sender.userId === me) {
      // Another device of this user shared the key this device holds: no need to send it there again for these members.
      const own = await this.records.ownKey(into.batch);
      if (own !== undefined && bytesEqual(own.key, content.key)) {
        this.records.putShared(into.batch, { conversationId: incoming.conversationId, version: await profileVersion(own.key, me), members: await membersDigest(into.conv) });
      }
      return;
    }
    const held = await this.records.userKeys(sender.userId, into.batch);
    if (held?.keys.some((k) => bytesEqual(k.key, content.key)) === true) {
      if ((await this.records.cached(sender.userId, into.batch)) === undefined) into.afterCommit(() => this.inBackground(this.refresh(sender.userId)));
      return;
    }
    // A key not seen before goes first (keys already held keep their place: a late copy of an old one does not jump ahead).
    this.records.putUserKeys(into.batch, { userId: sender.userId, keys: [{ key: content.key, receivedAt: incoming.receivedAt }, ...(held?.keys ?? [])] });
    into.afterCommit(() => this.inBackground(this.refresh(sender.userId)));
  }

  /** This user's key from another of its devices (self group): kept if newer; returns what to do once the message is stored. */
  async applyOwnKey(message: ProfileKeySelfMessage): Promise<() => void> {
    const adopted = await this.core.locks.run(OWN_LOCK, async () => {
      const held = await this.records.ownKey();
      if (held !== undefined && (held.createdAt > message.createdAt || (held.createdAt === message.createdAt && !newerKey(message.key, held.key)))) return false;
      const batch = new StoreBatch();
      this.records.putOwnKey(batch, { key: message.key, createdAt: message.createdAt });
      await this.core.repo.commit(batch);
      return true;
    });
    // Its device uploaded under it before sending it; this device reads it (or, if its own profile is newer, uploads).
    return adopted ? () => this.inBackground((async () => this.refresh(this.me()))()) : () => undefined;
  }

  /** This device added devices to the self group: they get the key. */
  async sendOwnKey(): Promise<void> {
    const own = await this.records.ownKey();
    if (own !== undefined) await this.sharing.sendToOwnDevices(own);
  }

  /** A conversation appeared or changed (joined, accepted, members): share the key there if it should be. */
  noteConversation(conversationId: GroupId): void {
    if (this.core.isClosed() || conversationId === this.core.hiddenGroup()) return;
    this.inBackground(this.shareWith(conversationId));
  }

  /** After each sync: shares left undone (offline, a restart), and profiles read longer ago than the TTL. */
  onSynced(): void {
    this.inBackground(this.afterSync());
  }

  /** Resolves once no background fetch or share is running. */
  async idle(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  /* ---------------- own key and profile ---------------- */

  private async afterSync(): Promise<void> {
    const ready = await this.core.locks.run(OWN_LOCK, () => this.ownLocked('if-alone'));
    if (ready !== undefined) await this.sharing.shareAll(ready.own.key, ready.version);
    const now = this.now();
    let fetched = 0;
    for (const id of [this.me(), ...(await this.records.usersWithKeys())]) {
      // The rest wait for the next sync (their copies stay old): a long contact list does not eat the request budget.
      if (this.core.isClosed() || fetched >= MAX_REFRESH_PER_SYNC) return;
      const cached = await this.records.cached(id);
      if (cached !== undefined && cached.fetchedAt + PROFILE_TTL_MS >= now) continue;
      fetched++;
      try {
        await this.refresh(id);
      } catch (err) {
        if (isCode(err, 'rate_limited')) return;
        this.report(err);
      }
    }
  }

  /**
   * This user's key, made if `create` allows and there is none, and its
   * profile uploaded under its version (claimed) before anyone else can learn
   * it. Under OWN_LOCK. `fresh`: made here now (the caller sends it on).
   */
  private async ownLocked(create: 'always' | 'if-alone' | 'never'): Promise<{ own: OwnKeyRecord; version: string; fresh: boolean } | undefined> {
    const me = this.me();
    const held = await this.records.ownKey();
    if (held === undefined) {
      if (create === 'never' || (create === 'if-alone' && !(await this.alone()))) return undefined;
      const made: OwnKeyRecord = { key: generateProfileKey(), createdAt: this.now() };
      const stored = await this.uploadLocked(made, EMPTY);
      return { own: stored.own, version: stored.cached.version, fresh: true };
    }
    const version = await profileVersion(held.key, me);
    const cached = await this.records.cached(me);
    if (cached?.version === version) return { own: held, version, fresh: false };
    // Adopted from another device (or never uploaded here): read what is stored under it; upload this device's
    // copy when there is none, it does not open, or this one is newer (two devices that made a key at once).
    const found = await this.fetchOwn(held, version);
    if (typeof found === 'object' && (cached === undefined || cached.updatedAt <= found.updatedAt)) {
      await this.keep(me, { ...found, userId: me, version, fetchedAt: this.now() });
      return { own: held, version, fresh: false };
    }
    const stored = await this.uploadLocked(held, cached ?? EMPTY);
    if (cached !== undefined) this.core.emit('profile', view(me, stored.cached));
    return { own: stored.own, version: stored.cached.version, fresh: stored.rotated };
  }

  /** No other active device of this user (which might hold a key already) is listed. */
  private async alone(): Promise<boolean> {
    if (this.now() < this.notAloneUntil) return false;
    const { directory, account } = this.core.session();
    const user = await directory.lookupUserById(account.userId);
    const alone = user.devices.every((d) => d.revokedAt !== null || d.id === account.deviceId);
    if (!alone) this.notAloneUntil = this.now() + RETRY_MS;
    return alone;
  }

  /**
   * Encrypts and uploads `data` under `own`'s version and stores key and
   * profile (one batch). A version another account holds already
   * (profile_version_taken: someone who knew the key took it first) gets a
   * new key, once (`rotated`).
   */
  private async uploadLocked(own: OwnKeyRecord, data: ProfileData): Promise<{ own: OwnKeyRecord; cached: CachedProfile; rotated: boolean }> {
    const me = this.me();
    let key = own;
    let rotated = false;
    for (;;) {
      const { version, ciphertext } = await encryptProfile(key.key, me, data);
      try {
        await this.core.api.putProfile({ version, ciphertext, pictureBlob: data.picture?.digest ?? null });
      } catch (err) {
        if (!isCode(err, 'profile_version_taken') || rotated) throw err;
        key = { key: generateProfileKey(), createdAt: Math.max(this.now(), key.createdAt + 1) };
        rotated = true;
        continue;
      }
      const cached: CachedProfile = { ...data, userId: me, version, fetchedAt: this.now() };
      const batch = new StoreBatch();
      this.records.putOwnKey(batch, key);
      this.records.putCached(batch, cached);
      await this.core.repo.commit(batch);
      return { own: key, cached, rotated };
    }
  }

  /** This user's profile as stored under its current key (under OWN_LOCK). */
  private async fetchOwn(own: OwnKeyRecord, version: string): Promise<ProfileData | 'missing' | 'invalid'> {
    const res = await this.core.api.getProfile(version);
    if (res === null) return 'missing';
    // Uploaded by another account under a version it learned: not this user's profile.
    if (res.userId !== this.me()) return 'missing';
    try {
      return await decryptProfile(own.key, this.me(), res.ciphertext);
    } catch (err) {
      if (!(err instanceof ProfileError)) throw err;
      this.core.emitError('profile_invalid', new ClientError('bad_response', `this user's profile could not be read (${err.code})`, { cause: err }));
      return 'invalid';
    }
  }

  /** Reads this user's profile again (another device may have changed it). Uploads nothing unless the key is new here. */
  private async refreshOwn(): Promise<void> {
    const me = this.me();
    const own = await this.core.locks.run(OWN_LOCK, async () => {
      const before = await this.records.cached(me);
      const ready = await this.ownLocked('never');
      if (ready === undefined) return undefined;
      if (before?.version === ready.version) {
        // Missing or unreadable under a key this device uploaded to: a newer key is on its way from another device.
        const found = await this.fetchOwn(ready.own, ready.version);
        if (typeof found === 'object') await this.keep(me, { ...found, userId: me, version: ready.version, fetchedAt: this.now() });
      }
      return ready.fresh ? ready.own : undefined;
    });
    if (own !== undefined) await this.distribute(own);
  }

  /** A new own key: to this user's other devices, then into every accepted conversation. */
  private async distribute(own: OwnKeyRecord): Promise<void> {
    try {
      await this.sharing.sendToOwnDevices(own);
    } catch (err) {
      // Stored here; another device asks again when it starts (key sync after adding devices), or takes a newer one.
      this.core.emitError('account_key', err);
    }
    const version = await profileVersion(own.key, this.me());
    this.inBackground(this.sharing.shareAll(own.key, version));
  }

  /* ---------------- other users ---------------- */

  /** Tries the user's keys newest first; the first version the server has is the profile. */
  private async refreshOther(userId: UserId): Promise<void> {
    const held = await this.records.userKeys(userId);
    if (held === undefined) return;
    for (const { key } of held.keys) {
      const version = await profileVersion(key, userId);
      const res = await this.core.api.getProfile(version);
      if (res === null) continue;
      if (res.userId !== userId) {
        // Another account uploaded under this key's version (it held the key once; the owner rotated away): not this user's.
        this.core.emitError('profile_invalid', new ClientError('bad_response', 'a profile under this key was uploaded by another account; the username is shown instead', { detail: { userId } }));
        continue;
      }
      let data: ProfileData;
      try {
        data = await decryptProfile(key, userId, res.ciphertext);
      } catch (err) {
        if (!(err instanceof ProfileError)) throw err;
        await this.forget(userId);
        this.core.emitError('profile_invalid', new ClientError('bad_response', `a profile could not be read (${err.code}); the username is shown instead`, { cause: err, detail: { userId } }));
        return;
      }
      await this.keep(userId, { ...data, userId, version, fetchedAt: this.now() });
      return;
    }
    // None of the keys names a stored profile (none set yet, or rotated away from this user): nothing to show.
    await this.forget(userId);
  }

  /** Stores a fetched profile (one batch); a new picture replaces the kept one. Emits 'profile' when it changed. */
  private async keep(userId: UserId, next: CachedProfile): Promise<void> {
    const before = await this.records.cached(userId);
    const batch = new StoreBatch();
    this.records.putCached(batch, next);
    if (before?.picture != null && before.picture.digest !== next.picture?.digest) this.records.dropPicture(batch, userId);
    await this.core.repo.commit(batch);
    if (!sameProfile(before, next)) {
      this.core.emit('profile', view(userId, next));
      if (next.picture !== null) this.inBackground(this.picture(userId));
    }
  }

  private async forget(userId: UserId): Promise<void> {
    const before = await this.records.cached(userId);
    if (before === undefined) return;
    const batch = new StoreBatch();
    this.records.dropCached(batch, userId);
    await this.core.repo.commit(batch);
    this.core.emit('profile', view(userId, EMPTY));
  }

  /* ---------------- background work ---------------- */

  private inBackground(p: Promise<unknown>): void {
    const run = p.catch((err: unknown) => this.report(err)).finally(() => this.background.delete(run));
    this.background.add(run);
  }

  /**
   * Network trouble is retried after the next sync; a session that ended while
   * a fetch was out (`unauthenticated`: the app already got the `fatal` event)
   * is not this module's to report; the rest is reported.
   */
  private report(err: unknown): void {
    if (this.core.isClosed()) return;
    const quiet = ['network', 'disconnected', 'closed', 'not_logged_in', 'rate_limited', 'unauthenticated'];
    if (err instanceof ClientError && quiet.includes(err.code)) return;
    this.core.emitError('internal', err);
  }
}

/** The tie-break between two keys made at the same millisecond: the greater bytes win, on every device alike. */
function newerKey(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return (a[i] as number) > (b[i] as number);
  return a.length > b.length;
}
