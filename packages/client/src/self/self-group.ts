import { accountKeyId, generateAccountKey } from '@parley/crypto';
import type { CommitResult, MemberDevice, MlsCiphersuiteId, MlsEngine, MlsGroup } from '@parley/crypto';
import { bytesEqual, selfGroupId, selfGroupIdBytes } from '@parley/protocol';
import type { DeviceId, GroupId, UserId } from '@parley/protocol';
import { knownOwnDevices, trustOwnDevices } from '../devices/approvals.js';
import type { DirectoryUser } from '../directory/device-directory.js';
import { ClientError } from '../errors.js';
import { putGroup } from '../core/group-state.js';
import { MAX_ACCOUNT_KEYS, newConversationRecord, StoreBatch } from '../store/records.js';
import type { ClientRepository, ConversationRecord } from '../store/records.js';
import type { HttpApi } from '../transport/http-api.js';
import { decodeSelfMessage, encodeSelfMessage } from './self-messages.js';
import type { ConversationPrefsMessage, ProfileKeySelfMessage, ReadReceiptsMessage, MomentListsMessage, MomentFriendsMessage } from './self-messages.js';
import type { HistoryArchiveMessage } from '../history/archive-message.js';
import type { PeopleMessage } from '../people/people-entries.js';

/** The account keys this device holds. */
export interface AccountKeyRing {
  /** Oldest first. */
  readonly keys: readonly Uint8Array[];
  /** The newest key, which new names are sealed with; undefined while this device holds none. */
  readonly current: Uint8Array | undefined;
  readonly currentId: string | undefined;
}

/** What the self group needs from the client core. */
export interface SelfGroupOps {
  readonly me: { readonly userId: UserId; readonly username: string; readonly deviceId: DeviceId };
  readonly ciphersuite: MlsCiphersuiteId;
  readonly api: Pick<HttpApi, 'createGroup' | 'group'>;
  readonly repo: ClientRepository;
  readonly engine: Pick<MlsEngine, 'createGroup'>;
  isReady(): boolean;
  isClosed(): boolean;
  /** Runs `fn` under the group's lock (the one incoming messages and commits take). */
  withLock<T>(groupId: GroupId, fn: () => Promise<T>): Promise<T>;
  loadGroup(groupId: GroupId): Promise<MlsGroup>;
  /** Keeps (or, with undefined, drops) the client's in-memory copy of a group's state. */
  cacheGroup(groupId: GroupId, group: MlsGroup | undefined): void;
  /** Sends one application message to the group. */
  send(groupId: GroupId, plaintext: Uint8Array): Promise<void>;
  lookupMe(): Promise<DirectoryUser>;
  conversations(): Promise<ConversationRecord[]>;
  /**
   * The keys changed, or are known for the first time this session: re-seal
   * this device's name (`rotatedHere`: this device made the new key, it
   * re-seals every name it can read).
   */
  keysChanged(rotatedHere: boolean): void;
  /**
   * Another device of this user changed a conversation's preferences
   * (settings/prefs.ts): stored by the callee (under that conversation's
   * lock) before this message is; returns what to do once it is.
   */
  applyPrefs?(prefs: ConversationPrefsMessage): Promise<() => void>;
  /** This device added devices to the self group (after their keys went out): what they should learn from it (settings/prefs.ts). */
  devicesAdded?(): Promise<void>;
  /** Another device of this user changed the read-receipt setting (messages/receipts.ts); like applyPrefs. */
  applyReadReceipts?(setting: ReadReceiptsMessage): Promise<() => void>;
  /** This user's profile key from another of its devices (profiles/); like applyPrefs. */
  applyProfileKey?(message: ProfileKeySelfMessage): Promise<() => void>;
  /** A history archive's key (history/): kept in `batch` if it is for this device; returns what to do once stored. */
  applyHistory?(batch: StoreBatch, message: HistoryArchiveMessage): () => void;
  /** Another device of this user changed contacts, blocks or message requests (people/); like applyPrefs. */
  applyPeople?(message: PeopleMessage): Promise<() => void>;
  /** Another device of this user changed the Moments lists, or passed on its friendships (moments/); like applyPrefs. */
  applyMoments?(message: MomentListsMessage | MomentFriendsMessage): Promise<() => void>;
  report(error: Error): void;
}

/** After finding the group taken, a device waits this long before trying to create it again (it may have been deleted: everyone started over). */
const RETRY_CREATE_MS = 30_000;
/** How long a device that joined waits for the keys before it asks for them. */
const JOIN_WAIT_MS = 5_000;
/** At most one key request per this interval (a request stays in the group's log until a holder answers). */
const REQUEST_EVERY_MS = 30_000;
/** Holders answer a request after a random delay in this range; the first answer cancels the others'. */
const REPLY_MIN_MS = 200;
const REPLY_SPREAD_MS = 1_500;

/**
 * The self group: an MLS group of this user's own devices and nobody else's,
 * hidden from conversation lists, which carries the ACCOUNT KEY — 32 random
 * bytes only these devices hold, that seal what the server keeps for the
 * user but must not read (device names now, contacts later).
 *
 * - It exists once per user, under an id derived from the user id
 *   (protocol self-group.ts): devices racing to create it ask the server for
 *   the same id; `group_exists` tells the losers to wait until a member adds
 *   them. Device sync (devices/device-sync.ts) keeps it complete, exactly as it
 *   does conversations: only own devices whose approval chain verifies.
 * - Whoever adds devices sends its keys after the commit; whoever removes one
 *   (a revoked device) makes a new key and sends it, so a removed device never
 *   learns keys made after it left. A member that joined without receiving
 *   keys, or meets a name sealed under a key it lacks, asks; holders answer.
 * - Keys only accumulate, oldest first; the newest is current. A message never
 *   moves a known key, so an old key cannot become current again.
 * - A Welcome into it is accepted only if every leaf is a device of this user
 *   that this device trusts (devices/approvals.ts): a server that makes up a
 *   device and a group of its own cannot hand this device a key it knows.
 */
export class SelfGroup {
  readonly id: GroupId;
  private ring: AccountKeyRing | undefined;
  /** The server lists this device in the stored group (checked once per session). */
  private confirmed = false;
  /** keysChanged was called this session. */
  private announced = false;
  private ensuring: Promise<void> | undefined;
  private lastRequestAt = 0;
  /** No creation attempt before this time (the group was taken: a member adds this device). */
  private retryCreateAt = 0;
  private reply: ReturnType<typeof setTimeout> | undefined;
  private joinWait: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly ops: SelfGroupOps) {
    this.id = selfGroupId(ops.me.userId);
  }

  isSelf(groupId: GroupId): boolean {
    return groupId === this.id;
  }

  stop(): void {
    if (this.reply !== undefined) clearTimeout(this.reply);
    if (this.joinWait !== undefined) clearTimeout(this.joinWait);
  }

  async keyRing(): Promise<AccountKeyRing> {
    this.ring ??= await ringOf(await this.ops.repo.accountKeys());
    return this.ring;
  }

  /**
   * Makes sure this device is in the self group or waits to be added: creates
   * it if nobody has; confirms once per session that the server lists this
   * device in the group it stored; asks for keys if it holds none. Runs before
   * each own-device sync, which then adds this user's other devices to it.
   */
  ensure(): Promise<void> {
    this.ensuring ??= this.settle().finally(() => {
      this.ensuring = undefined;
    });
    return this.ensuring;
  }

  private async settle(): Promise<void> {
    if (!this.ops.isReady() || this.ops.isClosed()) return;
    const state = await this.ops.withLock(this.id, () => this.joinOrCreate());
    if (state === 'waiting') return;
    const ring = await this.keyRing();
    if (ring.current !== undefined) {
      if (!this.announced) {
        this.announced = true;
        this.ops.keysChanged(false);
      }
      return;
    }
    // A member without keys: alone, nobody can send them (the creator stored its key with the group; this is a lost one).
    if ((await this.ops.loadGroup(this.id)).memberDevices().length === 1) await this.rotate();
    else await this.requestKeys();
  }

  private async joinOrCreate(): Promise<'member' | 'waiting'> {
    const conv = await this.ops.repo.conversation(this.id);
    if (conv?.status === 'active') {
      if (this.confirmed) return 'member';
      try {
        await this.ops.api.group(this.id);
        this.confirmed = true;
        return 'member';
      } catch (err) {
        if (!isCode(err, 'not_member')) throw err;
      }
      // Stored here, not on the server: this device's creation never got there (an error, a crash), or it was dropped.
      if (await this.createOnServer()) return 'member';
      await this.forgetLocal((await this.keyRing()).keys);
      return 'waiting';
    }
    // Not in it (never, or removed): create it — stored before the server hears of it, so a crash leaves nothing orphaned.
    if (Date.now() < this.retryCreateAt) return 'waiting';
    const before = (await this.keyRing()).keys;
    const keys = [...before, generateAccountKey()];
    await this.createLocal(keys);
    this.ring = await ringOf(keys);
    if (await this.createOnServer()) return 'member';
    // Another device of this user created it first: give way, it adds this one.
    this.retryCreateAt = Date.now() + RETRY_CREATE_MS;
    await this.forgetLocal(before);
    this.ring = await ringOf(before);
    return 'waiting';
  }

  /** Creates the MLS group locally and stores its state, its (hidden) conversation record and `keys`, in one batch. */
  private async createLocal(keys: readonly Uint8Array[]): Promise<void> {
    const { me } = this.ops;
    const group = await this.ops.engine.createGroup(selfGroupIdBytes(me.userId));
    const conv = newConversationRecord({ id: this.id, title: null, kind: 'unknown', members: [{ userId: me.userId, username: me.username, devices: [me.deviceId] }] });
    await this.ops.repo.commit(putGroup(new StoreBatch(), this.id, group).putConversation(conv).putAccountKeys(keys));
    this.ops.cacheGroup(this.id, group);
  }

  /** Forgets the local group (its state, record and cached copy) and stores `keys` instead, in one batch. */
  private async forgetLocal(keys: readonly Uint8Array[]): Promise<void> {
    await this.ops.repo.commit(new StoreBatch().deleteGroup(this.id).putAccountKeys(keys));
    this.ops.cacheGroup(this.id, undefined);
  }

  private async createOnServer(): Promise<boolean> {
    try {
      await this.ops.api.createGroup(this.id);
      this.confirmed = true;
      return true;
    } catch (err) {
      if (isCode(err, 'group_exists')) return false;
      throw err;
    }
  }

  /**
   * Checks a Welcome into the self group before it is stored: every leaf must
   * be a device of this user, and every active one trusted along approvals
   * (revoked leaves are removed by device sync, which makes a new key).
   */
  async checkJoin(group: MlsGroup): Promise<Error | undefined> {
    const stranger = group.memberDevices().find((d) => d.userId !== this.ops.me.userId);
    if (stranger !== undefined) return new ClientError('account_key', 'refused a self group holding a device of another user', { detail: { deviceId: stranger.deviceId } });
    const me = await this.ops.lookupMe();
    const others = (await this.ops.conversations()).filter((c) => c.id !== this.id);
    const known = await knownOwnDevices(this.ops.me.userId, others, (id) => this.ops.loadGroup(id));
    const trust = await trustOwnDevices(me, this.ops.me.deviceId, known, this.ops.ciphersuite);
    for (const d of group.memberDevices()) {
      if (d.deviceId === this.ops.me.deviceId || !trust.has(d.deviceId)) continue;
      const reason = trust.get(d.deviceId);
      if (reason !== undefined) return new ClientError('account_key', `refused a self group holding device ${d.deviceId}, which this device does not trust (${reason})`, { detail: { deviceId: d.deviceId, reason } });
    }
    return undefined;
  }

  /** After a Welcome into the self group was stored: the keys follow it; if they do not, ask. */
  joined(): void {
    this.confirmed = true;
    if (this.joinWait !== undefined) clearTimeout(this.joinWait);
    this.joinWait = setTimeout(() => {
      this.joinWait = undefined;
      void this.keyRing().then(async (ring) => (ring.current === undefined ? this.requestKeys() : undefined)).catch((err: unknown) => this.fail(err));
    }, JOIN_WAIT_MS);
  }

  /**
   * A message in the self group, under its lock: writes the keys it brings
   * into `batch` and returns what to do once the batch is stored.
   */
  async receive(batch: StoreBatch, sender: MemberDevice, plaintext: Uint8Array): Promise<() => void> {
    const none = () => undefined;
    if (sender.userId !== this.ops.me.userId) {
      this.ops.report(new ClientError('account_key', 'ignored a self-group message from a device of another user'));
      return none;
    }
    const decoded = decodeSelfMessage(plaintext);
    if (!decoded.ok) {
      this.ops.report(new ClientError('account_key', `ignored a malformed self-group message: ${decoded.reason}`));
      return none;
    }
    if (decoded.message.kind === 'key_request') return () => this.scheduleReply();
    if (decoded.message.kind === 'conversation_prefs') return (await this.ops.applyPrefs?.(decoded.message)) ?? none;
    if (decoded.message.kind === 'read_receipts') return (await this.ops.applyReadReceipts?.(decoded.message)) ?? none;
    if (decoded.message.kind === 'profile_key') return (await this.ops.applyProfileKey?.(decoded.message)) ?? none;
    if (decoded.message.kind === 'history_archive') return this.ops.applyHistory?.(batch, decoded.message) ?? none;
    if (decoded.message.kind === 'moment_lists' || decoded.message.kind === 'moment_friends') return (await this.ops.applyMoments?.(decoded.message)) ?? none;
    if (decoded.message.kind === 'contact' || decoded.message.kind === 'block' || decoded.message.kind === 'request' || decoded.message.kind === 'people') return (await this.ops.applyPeople?.(decoded.message)) ?? none;
    // Someone answered (or sent keys after adding devices): no need for this device to answer too.
    this.cancelReply();
    const ring = await this.keyRing();
    const fresh = decoded.message.keys.filter((k) => !ring.keys.some((known) => bytesEqual(known, k)));
    if (fresh.length === 0) return none;
    const next = await ringOf([...ring.keys, ...dedupe(fresh)].slice(-MAX_ACCOUNT_KEYS));
    batch.putAccountKeys(next.keys);
    return () => {
      this.ring = next;
      this.announced = true;
      this.ops.keysChanged(false);
    };
  }

  /**
   * After this device's own commit in the self group: it added devices, so it
   * sends them the keys; or it removed some, so it makes a new key first.
   */
  async afterCommit(result: CommitResult): Promise<void> {
    try {
      if (result.removed.length > 0) await this.rotate();
      else if (result.added.length > 0) await this.sendKeys();
      if (result.added.length > 0) await this.ops.devicesAdded?.();
    } catch (err) {
      this.fail(err);
    }
  }

  /** A new current key: stored, sent to the other members, and every name this device can read sealed again with it. */
  private async rotate(): Promise<void> {
    await this.ops.withLock(this.id, async () => {
      const keys = [...(await this.keyRing()).keys, generateAccountKey()].slice(-MAX_ACCOUNT_KEYS);
      await this.ops.repo.commit(new StoreBatch().putAccountKeys(keys));
      this.ring = await ringOf(keys);
    });
    this.announced = true;
    await this.sendKeys();
    this.ops.keysChanged(true);
  }

  private async sendKeys(): Promise<void> {
    const ring = await this.keyRing();
    if (ring.keys.length === 0) return;
    const group = await this.ops.loadGroup(this.id);
    if (!group.active || group.memberDevices().length < 2) return;
    await this.ops.send(this.id, encodeSelfMessage({ kind: 'account_keys', keys: [...ring.keys] }));
  }

  /**
   * Asks the other members for the keys (a member without them, or a name
   * sealed under a key this device lacks). At most once per 30 s.
   */
  async requestKeys(): Promise<void> {
    if (Date.now() - this.lastRequestAt < REQUEST_EVERY_MS || this.ops.isClosed()) return;
    const conv = await this.ops.repo.conversation(this.id);
    if (conv?.status !== 'active') return;
    this.lastRequestAt = Date.now();
    await this.ops.send(this.id, encodeSelfMessage({ kind: 'key_request' }));
  }

  private scheduleReply(): void {
    if (this.reply !== undefined || this.ops.isClosed()) return;
    this.reply = setTimeout(
      () => {
        this.reply = undefined;
        this.sendKeys().catch((err: unknown) => this.fail(err));
      },
      REPLY_MIN_MS + Math.floor(Math.random() * REPLY_SPREAD_MS),
    );
  }

  private cancelReply(): void {
    if (this.reply !== undefined) clearTimeout(this.reply);
    this.reply = undefined;
  }

  /**
   * Reports a failure of the self group's work as an `account_key` event —
   * except that the group is no longer on this device (`unknown_conversation`:
   * it lost the race to create the self group and dropped its own, or was
   * never added yet). Such a device waits to be added; the keys come with it.
   */
  fail(err: unknown): void {
    if (this.ops.isClosed()) return;
    if (err instanceof ClientError && err.code === 'unknown_conversation') return;
    this.ops.report(err instanceof Error ? err : new Error(String(err)));
  }
}

async function ringOf(keys: readonly Uint8Array[]): Promise<AccountKeyRing> {
  const current = keys.at(-1);
  return { keys: [...keys], current, currentId: current === undefined ? undefined : await accountKeyId(current) };
}

function dedupe(keys: readonly Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const k of keys) if (!out.some((x) => bytesEqual(x, k))) out.push(k);
  return out;
}

function isCode(err: unknown, code: string): boolean {
  return err instanceof ClientError && err.code === code;
}
