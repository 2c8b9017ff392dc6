import { safetyNumber as computeSafetyNumber } from '@parley/crypto';
import { checkUsername, toHex } from '@parley/protocol';
import type { UserId } from '@parley/protocol';
import { activeDevices } from '../directory/device-directory.js';
import type { DeviceDirectoryCache } from '../directory/device-directory.js';
import { ClientError } from '../errors.js';
import { StoreBatch } from '../store/records.js';
import type { ClientRepository, VerificationRecord } from '../store/records.js';
import type { ConversationMember, Verification } from '../types.js';

/** Safety numbers kept (per pair of device sets); past this the memo starts afresh. */
const MAX_NUMBERS = 256;

/**
 * Safety numbers and what the user verified. A verification is the safety
 * number the user compared, stored per other user; it holds while the number
 * is unchanged and no commit changed that user's devices since (`changedAt`,
 * set with the safety-number notice). `send` consults it: a verified member
 * whose devices changed is not written to without the user's confirmation.
 */
export class Verifications {
  /** Safety numbers worked out, by both users' ids and device keys. */
  private readonly numbers = new Map<string, string>();
  /** Every stored verification, loaded once; written through. */
  private cache: Promise<Map<UserId, VerificationRecord>> | undefined;

  constructor(
    private readonly repo: ClientRepository,
    private readonly directory: DeviceDirectoryCache,
    private readonly me: { readonly userId: UserId; readonly username: string },
  ) {}

  private records(): Promise<Map<UserId, VerificationRecord>> {
    this.cache ??= this.repo.verifications().then((all) => new Map(all.map((r) => [r.userId, r])));
    return this.cache;
  }

  /** The safety number between this user and `username`, over both users' active devices, fetched fresh. */
  async current(username: string): Promise<{ userId: UserId; safetyNumber: string }> {
    const name = checkUsername(username);
    if (!name.ok) throw new ClientError('unknown_user', 'no such user: not a valid username');
    const [me, them] = await Promise.all([this.directory.lookupUserById(this.me.userId), this.directory.lookupUser(name.normalized)]);
    if (them.userId === me.userId) throw new ClientError('bad_request', 'a safety number compares two different users');
    const mine = { userId: me.userId, signatureKeys: activeDevices(me).map((d) => d.signatureKey) };
    const theirs = { userId: them.userId, signatureKeys: activeDevices(them).map((d) => d.signatureKey) };
    // Thousands of SHA-512 rounds: worked out once per pair of device sets (keyed by every input, so a changed key is a new number).
    const key = [mine, theirs].map((p) => `${p.userId}:${p.signatureKeys.map((k) => toHex(k)).join(',')}`).join('|');
    let safetyNumber = this.numbers.get(key);
    if (safetyNumber === undefined) {
      safetyNumber = computeSafetyNumber(mine, theirs);
      if (this.numbers.size >= MAX_NUMBERS) this.numbers.clear();
      this.numbers.set(key, safetyNumber);
    }
    return { userId: them.userId, safetyNumber };
  }

  async verification(username: string): Promise<Verification> {
    const { userId, safetyNumber } = await this.current(username);
    const stored = (await this.records()).get(userId);
    return { safetyNumber, verified: stored !== undefined && stored.safetyNumber === safetyNumber && stored.changedAt === undefined };
  }

  async setVerified(username: string, verified: boolean, options: { expectedSafetyNumber?: string } = {}): Promise<void> {
    const { userId, safetyNumber } = await this.current(username);
    const records = await this.records();
    if (!verified) {
      await this.repo.commit(new StoreBatch().deleteVerification(userId));
      records.delete(userId);
      return;
    }
    if (options.expectedSafetyNumber !== undefined && options.expectedSafetyNumber !== safetyNumber) {
      throw new ClientError('safety_number_changed', 'the safety number changed since it was shown');
    }
    const record: VerificationRecord = { userId, safetyNumber, verifiedAt: Date.now() };
    await this.repo.commit(new StoreBatch().putVerification(record));
    records.set(userId, record);
  }

  /**
   * Marks the verifications of `userIds` as changed, in `batch` (the batch
   * that stores the notices). The in-memory copy is updated at once: if the
   * batch fails, sending errs on the side of asking.
   */
  async markChanged(batch: StoreBatch, userIds: Iterable<UserId>, at: number): Promise<void> {
    const records = await this.records();
    for (const userId of userIds) {
      const r = records.get(userId);
      if (r === undefined || r.changedAt !== undefined) continue;
      const changed = { ...r, changedAt: at };
      batch.putVerification(changed);
      records.set(userId, changed);
    }
  }

  /**
   * Before sending to `members`: a member the user verified whose devices
   * changed since is refused with ClientError('safety_number_changed',
   * detail.users), unless `confirmed` — which resets those verifications
   * (they are not re-verified: setVerified again for that).
   */
  async checkBeforeSend(members: readonly ConversationMember[], confirmed: boolean): Promise<void> {
    const records = await this.records();
    const changed = members.filter((m) => m.userId !== this.me.userId && records.get(m.userId)?.changedAt !== undefined);
    if (changed.length === 0) return;
    if (!confirmed) {
      const users = changed.map((m) => ({ userId: m.userId, username: m.username ?? this.directory.usernameOf(m.userId) ?? null }));
      throw new ClientError('safety_number_changed', 'the safety number of a verified member changed; confirm to send anyway', { detail: { users } });
    }
    const batch = new StoreBatch();
    for (const m of changed) batch.deleteVerification(m.userId);
    await this.repo.commit(batch);
    for (const m of changed) records.delete(m.userId);
  }
}
