import { createInterface } from 'node:readline';
import { checkUsername, PASSWORD_MIN, type DeviceId, type UserId } from '@parley/protocol';
import { accounts, createAppContext, hashPassword, newId, type ServerConfig } from '@parley/server';


/**
 * `parley admin <command>`: operator tasks against the same storage the
 * server uses (DATABASE_URL or PARLEY_DATA_DIR). Prints results; never prints
 * passwords or tokens.
 */

const USAGE = `usage:
  parley admin create-user <username>     password from PARLEY_ADMIN_PASSWORD or the first line of stdin
  parley admin list-devices <username>
  parley admin revoke-device <deviceId>`;

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

export async function runAdmin(config: ServerConfig, args: string[], out: (line: string) => void): Promise<void> {
  const [command, arg] = args;
  if (!command || !arg) throw new UsageError(USAGE);
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
        const devices = await ctx.storage.listDevices(user.id);
        if (devices.length === 0) out('no devices');
        for (const d of devices) out(`${d.id}\t${d.revoked ? 'revoked' : 'active'}\t${d.createdDay}\t${d.name}`);
        return;
      }
      case 'revoke-device': {
        const device = await ctx.storage.getDevice(arg as DeviceId);
        if (!device) throw new UsageError(`no such device: ${arg}`);
        await accounts.revokeDevice(ctx, device.id);
        out(`revoked device ${device.id}`);
        return;
      }
      default:
        throw new UsageError(USAGE);
    }
  } finally {
    await ctx.storage.close();
  }
}
