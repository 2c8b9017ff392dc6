import { createInterface } from 'node:readline';
import { checkUsername, ParleyError, PASSWORD_MAX, PASSWORD_MIN, type DeviceId, type UserId } from '@parley/protocol';
import { accounts, createAppContext, devices, hashPassword, newId, type ServerConfig } from '@parley/server';
import { backup, describeBackup, describeRestore, restore } from './backup.js';

/**
 * `parley admin <command>`: operator tasks against the same storage the
 * server uses (DATABASE_URL or PARLEY_DATA_DIR). Prints results; never prints
 * passwords or tokens.
 */

const USAGE = `usage:
  parley admin create-user <username>     password from PARLEY_ADMIN_PASSWORD or the first line of stdin
  parley admin list-devices <username>
  parley admin revoke-device <deviceId>
  parley admin reset-password <username>  new password from PARLEY_ADMIN_PASSWORD or the first line of stdin;
                                           ends every session of the user (devices sign in again with it and their keys)
  parley admin backup [--force] <dir>     online backup of the SQLite database and its blobs into the new directory <dir>
                                           while the server runs (--force replaces an existing <dir>); PostgreSQL: use pg_dump
  parley admin restore [--force] <dir>    checks the backup <dir> and restores it into PARLEY_DATA_DIR; the server must be
                                           stopped (--force replaces a database and blobs already there)`;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

async function readPassword(): Promise<string> {
  const fromEnv = process.env['PARLEY_ADMIN_PASSWORD'];
  if (fromEnv) return fromEnv;
  const rl = createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    rl.close();
    return line;
  }
  throw new UsageError('no password given (set PARLEY_ADMIN_PASSWORD or pipe it on stdin)');
}

/** `<dir>` and `--force`, in any order. */
function pathAndForce(args: string[]): { path: string; force: boolean } {
  const force = args.includes('--force');
  const rest = args.filter((a) => a !== '--force');
  const [path] = rest;
  if (rest.length !== 1 || path === undefined || path.startsWith('-')) throw new UsageError(USAGE);
  return { path, force };
}

export async function runAdmin(config: ServerConfig, args: string[], out: (line: string) => void): Promise<void> {
  const [command, arg] = args;
  if (!command || !arg) throw new UsageError(USAGE);
  // Backup and restore work on the files, not through a storage connection of their own.
  if (command === 'backup') {
    const { path, force } = pathAndForce(args.slice(1));
    for (const line of describeBackup(await backup(config, path, { force }))) out(line);
    return;
  }
  if (command === 'restore') {
    const { path, force } = pathAndForce(args.slice(1));
    for (const line of describeRestore(await restore(config, path, { force }))) out(line);
    return;
  }
  const ctx = await createAppContext({ ...config, logLevel: 'warn' });
  try {
    await ctx.storage.migrate();
    switch (command) {
      case 'create-user': {
        const name = checkUsername(arg);
        if (!name.ok) throw new UsageError(`invalid username: ${name.reason}`);
        const password = await readPassword();
        if (password.length < PASSWORD_MIN) throw new UsageError(`password must be at least ${PASSWORD_MIN} characters`);
        if (await ctx.storage.skeletonTaken(name.skeleton)) throw new UsageError('this username, or one that looks like it, is taken');
        if (await ctx.storage.usernameHeld(accounts.heldNameHash(name.skeleton), ctx.clock.now())) {
          throw new UsageError('this username, or one that looks like it, belonged to a deleted account and is held until its cooling-off period ends');
        }
        const id = newId() as UserId;
        await ctx.storage.createAccount(
          { id, username: name.normalized, skeleton: name.skeleton, passwordHash: await hashPassword(password, config.argon2), createdDay: new Date().toISOString().slice(0, 10) },
          undefined,
          undefined,
        );
        out(`created user ${name.normalized} (${id})`);
        return;
      }
      case 'list-devices': {
        const name = checkUsername(arg);
        const user = name.ok ? await ctx.storage.getUserByUsername(name.normalized) : undefined;
        if (!user) throw new UsageError(`no such user: ${arg}`);
        const list = await ctx.storage.listDevices(user.id);
        if (list.length === 0) out('no devices');
        for (const d of list) out(`${d.id}\t${d.status}\t${d.createdDay}\t${d.name === null ? '-' : '(name encrypted)'}`);
        return;
      }
      case 'revoke-device': {
        const device = await ctx.storage.getDevice(arg as DeviceId);
        if (!device) throw new UsageError(`no such device: ${arg}`);
        await devices.revokeDevice(ctx, device.id);
        out(`revoked device ${device.id}`);
        return;
      }
      case 'reset-password': {
        const name = checkUsername(arg);
        const user = name.ok ? await ctx.storage.getUserByUsername(name.normalized) : undefined;
        if (!user) throw new UsageError(`no such user: ${arg}`);
        const password = await readPassword();
        if (password.length < PASSWORD_MIN) throw new UsageError(`password must be at least ${PASSWORD_MIN} characters`);
        if (password.length > PASSWORD_MAX) throw new UsageError(`password must be at most ${PASSWORD_MAX} characters`);
        try {
          await accounts.resetPassword(ctx, user.id, password);
        } catch (err) {
          if (err instanceof ParleyError && err.code === 'weak_password') throw new UsageError(err.message);
          throw err;
        }
        out(`password of ${user.username} reset; all of its sessions ended`);
        return;
      }
      default:
        throw new UsageError(USAGE);
    }
  } finally {
    await ctx.storage.close();
  }
}
