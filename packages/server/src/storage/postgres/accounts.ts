import type { PoolClient } from 'pg';
import type { DeviceId, GroupId, UserId } from '@parley/protocol';
import { StorageError, type DeviceRecord, type NewDevice, type NewSession, type PendingLinkRecord, type SessionRecord, type UserRecord } from '../storage.js';
import { changes, rows, type PgCore } from './core.js';
import { deleteProfileIn } from './profiles.js';
import { DEVICE_COLUMNS, isUniqueViolation, num, status, str, toDevice, toUser } from './rows.js';

/** What revoking devices took them out of: groups whose membership listed them, and groups to trim. */
interface Dropped {
  listed: GroupId[];
  touched: GroupId[];
}

/**
 * Accounts, devices (pending, active, revoked), device links, sessions and
 * sign-in challenges on PostgreSQL. Lock order: user, then devices by id,
 * then their cursors (group, device), then their Welcome references.
 */
export class PgAccounts {
  constructor(private readonly core: PgCore) {}

  createAccount(user: UserRecord, device: NewDevice | undefined, session: NewSession | undefined): Promise<void> {
    return this.core.tx(async (c) => {
      try {
        await c.query('INSERT INTO users (id, username, skeleton, password_hash, created_day) VALUES ($1, $2, $3, $4, $5)', [
          user.id,
          user.username,
          user.skeleton,
          user.passwordHash,
          user.createdDay,
        ]);
      } catch (err) {
        if (isUniqueViolation(err)) throw new StorageError('username_taken', 'username taken');
        throw err;
      }
      if (device) {
        await this.insertDevice(c, user.id, device, user.createdDay, 'active');
        if (session) await this.insertSession(c, user.id, device.id, session);
      }
    });
  }

  private async insertDevice(c: PoolClient, userId: UserId, device: NewDevice, createdDay: string, deviceStatus: 'pending' | 'active'): Promise<void> {
    try {
      // No name: the user's devices upload it encrypted (setDeviceName).
      await c.query('INSERT INTO devices (id, user_id, name, signature_key, created_day, status) VALUES ($1, $2, NULL, $3, $4, $5)', [
        device.id,
        userId,
        device.signatureKey,
        createdDay,
        deviceStatus,
      ]);
    } catch (err) {
      if (isUniqueViolation(err)) throw new StorageError('device_exists', 'device exists');
      throw err;
    }
  }

  private async insertSession(c: PoolClient, userId: UserId, deviceId: DeviceId, session: NewSession): Promise<void> {
    await c.query('INSERT INTO sessions (token_hash, user_id, device_id, expires_at) VALUES ($1, $2, $3, $4)', [session.tokenHash, userId, deviceId, session.expiresAt]);
  }

  /**
   * FOR SHARE: a device is never added beside an identity reset of the same user
   * (which takes the user FOR NO KEY UPDATE). Rows are never locked FOR UPDATE:
   * that would also block the foreign-key checks (FOR KEY SHARE) of other writers.
   */
  private async requireUser(c: PoolClient, userId: UserId, lock: 'FOR SHARE' | 'FOR NO KEY UPDATE'): Promise<void> {
    if ((await rows(c, `SELECT 1 FROM users WHERE id = $1 ${lock}`, [userId])).length === 0) throw new StorageError('not_found', 'user not found');
  }

  async getUserByUsername(normalized: string): Promise<UserRecord | undefined> {
    const row = (await this.core.read('SELECT * FROM users WHERE username = $1', [normalized]))[0];
    return row ? toUser(row) : undefined;
  }

  async getUserById(id: UserId): Promise<UserRecord | undefined> {
    const row = (await this.core.read('SELECT * FROM users WHERE id = $1', [id]))[0];
    return row ? toUser(row) : undefined;
  }

  async skeletonTaken(skeleton: string): Promise<boolean> {
    return (await this.core.read('SELECT 1 FROM users WHERE skeleton = $1', [skeleton])).length > 0;
  }

  addDevice(userId: UserId, device: NewDevice, createdDay: string, session: NewSession): Promise<void> {
    return this.core.tx(async (c) => {
      await this.requireUser(c, userId, 'FOR SHARE');
      await this.insertDevice(c, userId, device, createdDay, 'active');
      await this.insertSession(c, userId, device.id, session);
    });
  }

  addPendingDevice(userId: UserId, device: NewDevice, createdDay: string, session: NewSession, link: { codeHash: Uint8Array; expiresAt: number }): Promise<void> {
    return this.core.tx(async (c) => {
      await this.requireUser(c, userId, 'FOR SHARE');
      await this.insertDevice(c, userId, device, createdDay, 'pending');
      await this.insertSession(c, userId, device.id, session);
      await c.query('INSERT INTO device_links (device_id, user_id, code_hash, expires_at) VALUES ($1, $2, $3, $4)', [device.id, userId, link.codeHash, link.expiresAt]);
    });
  }

  async getPendingLink(userId: UserId, codeHash: Uint8Array, now: number): Promise<PendingLinkRecord | undefined> {
    const row = (
      await this.core.read(
        `SELECT d.id, d.user_id, d.name, d.signature_key, d.created_day, d.status, d.revoked_at, d.approved_by, d.approval, l.expires_at AS link_expires_at
         FROM device_links l JOIN devices d ON d.id = l.device_id
         WHERE l.user_id = $1 AND l.code_hash = $2 AND l.expires_at > $3 AND d.status = 'pending' AND d.user_id = l.user_id
         ORDER BY l.expires_at DESC LIMIT 1`,
        [userId, codeHash, now],
      )
    )[0];
    return row ? { device: toDevice(row), expiresAt: num(row, 'link_expires_at') } : undefined;
  }

  async linkExpiry(deviceId: DeviceId, now: number): Promise<number | undefined> {
    const row = (
      await this.core.read(
        `SELECT l.expires_at FROM device_links l JOIN devices d ON d.id = l.device_id
         WHERE l.device_id = $1 AND l.expires_at > $2 AND d.status = 'pending'`,
        [deviceId, now],
      )
    )[0];
    return row ? num(row, 'expires_at') : undefined;
  }

  approveDevice(deviceId: DeviceId, approvedBy: DeviceId, now: number, signature: Uint8Array): Promise<void> {
    return this.core.tx(async (c) => {
      // Both rows locked in id order, as everything that locks several devices does.
      const locked = await rows(c, 'SELECT id, user_id, status FROM devices WHERE id = ANY($1::text[]) ORDER BY id COLLATE "C" FOR NO KEY UPDATE', [[deviceId, approvedBy]]);
      const target = locked.find((r) => str(r, 'id') === deviceId);
      const approver = locked.find((r) => str(r, 'id') === approvedBy);
      const live = target && (await rows(c, 'SELECT 1 FROM device_links WHERE device_id = $1 AND expires_at > $2', [deviceId, now])).length > 0;
      if (!target || !approver || !live || status(target) !== 'pending' || status(approver) !== 'active' || str(target, 'user_id') !== str(approver, 'user_id')) {
        throw new StorageError('not_found', 'no pending device with a live link');
      }
      await c.query("UPDATE devices SET status = 'active', approved_by = $2, approval = $3 WHERE id = $1", [deviceId, approvedBy, signature]);
      await c.query('DELETE FROM device_links WHERE device_id = $1', [deviceId]);
    });
  }

  async resetIdentity(userId: UserId, device: NewDevice, createdDay: string, session: NewSession, revokedAt: number): Promise<{ revoked: DeviceId[]; groups: GroupId[] }> {
    const { revoked, dropped } = await this.core.tx(async (c) => {
      await this.requireUser(c, userId, 'FOR NO KEY UPDATE');
      const ids = (
        await rows(c, "SELECT id, created_seq FROM devices WHERE user_id = $1 AND status <> 'revoked' ORDER BY id COLLATE \"C\" FOR NO KEY UPDATE", [userId])
      )
        .sort((x, y) => num(x, 'created_seq') - num(y, 'created_seq'))
        .map((r) => str(r, 'id') as DeviceId);
      const dropped = await this.revokeLocked(c, ids, revokedAt);
      // Starting over is a new identity: the old profile (readable by whoever held its key) goes with the old devices.
      await deleteProfileIn(c, userId, { capAt: revokedAt });
      await this.insertDevice(c, userId, device, createdDay, 'active');
      await this.insertSession(c, userId, device.id, session);
      return { revoked: ids, dropped };
    });
    await this.trimAfter(dropped);
    return { revoked, groups: dropped.listed };
  }

  async deleteAccount(userId: UserId, revokedAt: number, hold: { nameHash: Uint8Array; until: number }): Promise<{ revoked: DeviceId[]; groups: GroupId[] }> {
    const { revoked, dropped } = await this.core.tx(async (c) => {
      if ((await rows(c, 'SELECT 1 FROM users WHERE id = $1 AND purge_at IS NULL FOR NO KEY UPDATE', [userId])).length === 0) {
        throw new StorageError('not_found', 'user not found');
      }
      const ids = (
        await rows(c, "SELECT id, created_seq FROM devices WHERE user_id = $1 AND status <> 'revoked' ORDER BY id COLLATE \"C\" FOR NO KEY UPDATE", [userId])
      )
        .sort((x, y) => num(x, 'created_seq') - num(y, 'created_seq'))
        .map((r) => str(r, 'id') as DeviceId);
      const dropped = await this.revokeLocked(c, ids, revokedAt);
      await c.query('UPDATE devices SET name = NULL, approval = NULL, approved_by = NULL WHERE user_id = $1', [userId]);
      await c.query('DELETE FROM sessions WHERE user_id = $1', [userId]);
      await c.query('DELETE FROM device_links WHERE user_id = $1', [userId]);
      await c.query('DELETE FROM queue_charges WHERE user_id = $1', [userId]);
      await c.query('DELETE FROM blob_usage WHERE user_id = $1', [userId]);
      await deleteProfileIn(c, userId, { capAt: revokedAt });
      // The placeholder is no valid username or skeleton (they never hold '#'), and unique.
      await c.query("UPDATE users SET username = '#' || id, skeleton = '#' || id, password_hash = '', purge_at = $2 WHERE id = $1", [userId, hold.until]);
      await c.query(
        'INSERT INTO username_holds (name_hash, until) VALUES ($1, $2) ON CONFLICT (name_hash) DO UPDATE SET until = GREATEST(username_holds.until, excluded.until)',
        [hold.nameHash, hold.until],
      );
      return { revoked: ids, dropped };
    });
    await this.trimAfter(dropped);
    return { revoked, groups: dropped.listed };
  }

  async usernameHeld(nameHash: Uint8Array, now: number): Promise<boolean> {
    return (await this.core.read('SELECT 1 FROM username_holds WHERE name_hash = $1 AND until > $2', [nameHash, now])).length > 0;
  }

  /** Deleted accounts past their hold: the user row and its revoked devices (in no group any more) go; expired holds too. */
  private async purge(now: number): Promise<number> {
    return this.core.tx(async (c) => {
      const users = (await rows(c, 'SELECT id FROM users WHERE purge_at IS NOT NULL AND purge_at <= $1 ORDER BY id FOR NO KEY UPDATE', [now])).map((r) => str(r, 'id'));
      if (users.length > 0) {
        const devices = (await rows(c, 'SELECT id FROM devices WHERE user_id = ANY($1::text[]) ORDER BY id COLLATE "C" FOR UPDATE', [users])).map((r) => str(r, 'id'));
        for (const t of ['group_devices', 'welcome_recipients', 'group_departures', 'key_packages', 'session_challenges', 'sessions', 'device_links', 'push_subscriptions']) {
          await c.query(`DELETE FROM ${t} WHERE device_id = ANY($1::text[])`, [devices]);
        }
        await c.query('DELETE FROM devices WHERE user_id = ANY($1::text[])', [users]);
        await c.query('DELETE FROM users WHERE id = ANY($1::text[])', [users]);
      }
      await c.query('DELETE FROM username_holds WHERE until <= $1', [now]);
      return users.length;
    });
  }

  addSession(userId: UserId, deviceId: DeviceId, session: NewSession): Promise<void> {
    return this.core.tx(async (c) => {
      // FOR SHARE waits out a concurrent revocation instead of adding a session it would have deleted.
      const row = (await rows(c, 'SELECT status FROM devices WHERE id = $1 AND user_id = $2 FOR SHARE', [deviceId, userId]))[0];
      if (!row) throw new StorageError('not_found', 'device not found');
      const s = status(row);
      if (s === 'revoked') throw new StorageError('device_revoked', 'device revoked');
      if (s === 'pending') throw new StorageError('device_pending', 'device not approved yet');
      await this.insertSession(c, userId, deviceId, session);
    });
  }

  setPassword(userId: UserId, passwordHash: string, signOut: 'none' | 'all' | { except: Uint8Array }): Promise<void> {
    return this.core.tx(async (c) => {
      if ((await changes(c, 'UPDATE users SET password_hash = $2 WHERE id = $1', [userId, passwordHash])) === 0) {
        throw new StorageError('not_found', 'user not found');
      }
      if (signOut === 'all') await c.query('DELETE FROM sessions WHERE user_id = $1', [userId]);
      else if (signOut !== 'none') await c.query('DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2', [userId, signOut.except]);
    });
  }

  async putChallenge(challengeHash: Uint8Array, deviceId: DeviceId, expiresAt: number): Promise<void> {
    await this.core.one('INSERT INTO session_challenges (challenge_hash, device_id, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
      challengeHash,
      deviceId,
      expiresAt,
    ]);
  }

  async takeChallenge(challengeHash: Uint8Array, deviceId: DeviceId, now: number): Promise<boolean> {
    const row = (await this.core.read('DELETE FROM session_challenges WHERE challenge_hash = $1 RETURNING device_id, expires_at', [challengeHash]))[0];
    return row !== undefined && str(row, 'device_id') === deviceId && num(row, 'expires_at') > now;
  }

  async getDevice(id: DeviceId): Promise<DeviceRecord | undefined> {
    const row = (await this.core.read(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = $1`, [id]))[0];
    return row ? toDevice(row) : undefined;
  }

  async listDevices(userId: UserId): Promise<DeviceRecord[]> {
    return (await this.core.read(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = $1 ORDER BY created_seq`, [userId])).map(toDevice);
  }

  setDeviceName(userId: UserId, deviceId: DeviceId, encryptedName: string): Promise<boolean> {
    return this.core.tx(async (c) => (await changes(c, "UPDATE devices SET name = $3 WHERE id = $1 AND user_id = $2 AND status <> 'revoked'", [deviceId, userId, encryptedName])) > 0);
  }

  async revokeDevice(id: DeviceId, revokedAt: number): Promise<GroupId[]> {
    const dropped = await this.core.tx(async (c) => {
      if ((await rows(c, 'SELECT 1 FROM devices WHERE id = $1 FOR NO KEY UPDATE', [id])).length === 0) throw new StorageError('not_found', 'device not found');
      return this.revokeLocked(c, [id], revokedAt);
    });
    await this.trimAfter(dropped);
    return dropped.listed;
  }

  /**
   * Revokes devices whose rows the caller locked: keeps rows and keys (a second
   * revocation keeps the first time), drops sessions, key packages, links,
   * challenges, cursors, Welcome references and departures. The groups are not
   * locked here: a commit adding one of these devices holds its group and waits
   * for the device row, so taking group locks now could deadlock; they are
   * trimmed right after the commit instead (trimAfter).
   */
  private async revokeLocked(c: PoolClient, ids: readonly DeviceId[], revokedAt: number): Promise<Dropped> {
    if (ids.length === 0) return { listed: [], touched: [] };
    // A device still PENDING was never anyone's device: deleted outright, so a key
    // registered with the password alone never enters the directory as "revoked".
    const pending = (await rows(c, "SELECT id FROM devices WHERE id = ANY($1::text[]) AND status = 'pending'", [[...ids]])).map((r) => str(r, 'id'));
    if (pending.length > 0) {
      await c.query('DELETE FROM sessions WHERE device_id = ANY($1::text[])', [pending]);
      await c.query('DELETE FROM device_links WHERE device_id = ANY($1::text[])', [pending]);
      await c.query('DELETE FROM session_challenges WHERE device_id = ANY($1::text[])', [pending]);
      await c.query('DELETE FROM push_subscriptions WHERE device_id = ANY($1::text[])', [pending]);
      await c.query('DELETE FROM devices WHERE id = ANY($1::text[])', [pending]);
    }
    const list = ids.filter((id) => !pending.includes(id));
    if (list.length === 0) return { listed: [], touched: [] };
    await c.query("UPDATE devices SET status = 'revoked', revoked_at = COALESCE(revoked_at, $2) WHERE id = ANY($1::text[])", [list, revokedAt]);
    await c.query('DELETE FROM sessions WHERE device_id = ANY($1::text[])', [list]);
    await c.query('DELETE FROM push_subscriptions WHERE device_id = ANY($1::text[])', [list]);
    await c.query('DELETE FROM key_packages WHERE device_id = ANY($1::text[])', [list]);
    await c.query('DELETE FROM device_links WHERE device_id = ANY($1::text[])', [list]);
    await c.query('DELETE FROM session_challenges WHERE device_id = ANY($1::text[])', [list]);
    // Cursor rows are locked in (group, device) order, as appendCommit locks those it changes,
    // and before the Welcome references, as ack and appendCommit do.
    const cursors = await rows(
      c,
      `WITH gone AS (
         DELETE FROM group_devices d USING (
           SELECT group_id, device_id FROM group_devices WHERE device_id = ANY($1::text[])
           ORDER BY group_id COLLATE "C", device_id COLLATE "C" FOR UPDATE) l
         WHERE d.group_id = l.group_id AND d.device_id = l.device_id
         RETURNING d.group_id, d.until_seq)
       SELECT group_id, until_seq FROM gone`,
      [list],
    );
    const welcomed = await rows(c, 'DELETE FROM welcome_recipients WHERE device_id = ANY($1::text[]) RETURNING group_id', [list]);
    const departed = await rows(c, 'DELETE FROM group_departures WHERE device_id = ANY($1::text[]) RETURNING group_id', [list]);
    const listed = new Set([...cursors.filter((r) => r['until_seq'] === null), ...departed].map((r) => str(r, 'group_id')));
    const touched = new Set([...cursors, ...welcomed].map((r) => str(r, 'group_id')));
    const order = (set: Set<string>) => [...set].sort() as GroupId[];
    return { listed: order(listed), touched: order(touched) };
  }

  /** Best effort: a failure leaves the messages to the next trim of the group (any ack marks it) or to retention. */
  private async trimAfter(dropped: Dropped): Promise<void> {
    try {
      await this.core.trimGroups(undefined, dropped.touched);
    } catch {
      // The revocation itself is committed; reporting this error would make a retry lose the group list.
    }
  }

  async getSession(tokenHash: Uint8Array, now: number): Promise<SessionRecord | undefined> {
    const row = (
      await this.core.read(
        `SELECT s.user_id, s.device_id, s.expires_at, d.status FROM sessions s JOIN devices d ON d.id = s.device_id
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND d.status <> 'revoked'`,
        [tokenHash, now],
      )
    )[0];
    if (!row) return undefined;
    const s = status(row);
    if (s === 'revoked') return undefined;
    return { userId: str(row, 'user_id') as UserId, deviceId: str(row, 'device_id') as DeviceId, expiresAt: num(row, 'expires_at'), deviceStatus: s };
  }

  async deleteSession(tokenHash: Uint8Array): Promise<void> {
    await this.core.one('DELETE FROM sessions WHERE token_hash = $1', [tokenHash]);
  }

  /** Expired sessions and challenges; pending devices whose link expired are deleted (see revokeLocked). */
  async sweep(now: number, revokedAt: number): Promise<{ sessions: number; pendingDevices: number; challenges: number; accounts: number }> {
    const sessions = (await this.core.one('DELETE FROM sessions WHERE expires_at <= $1', [now])).rowCount;
    const challenges = (await this.core.one('DELETE FROM session_challenges WHERE expires_at <= $1', [now])).rowCount;
    const pendingDevices = await this.core.tx(async (c) => {
      // A pending device is never in a group and holds no key packages: revoking it is local.
      const ids = (
        await rows(
          c,
          `SELECT d.id FROM devices d JOIN device_links l ON l.device_id = d.id
           WHERE l.expires_at <= $1 AND d.status = 'pending' ORDER BY d.id COLLATE "C" FOR NO KEY UPDATE OF d`,
          [now],
        )
      ).map((r) => str(r, 'id') as DeviceId);
      await this.revokeLocked(c, ids, revokedAt);
      await c.query('DELETE FROM device_links WHERE expires_at <= $1', [now]);
      return ids.length;
    });
    const accounts = await this.purge(now);
    return { sessions, pendingDevices, challenges, accounts };
  }
}
