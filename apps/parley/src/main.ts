import { existsSync } from 'node:fs';
import { configFromEnv, ConfigError, createAppContext, startServer } from '@parley/server';

/**
 * The `parley` command: `parley serve` (the default) runs the server,
 * `parley admin ...` runs operator tasks. This is the only place that reads
 * the process environment and decides the exit code.
 */
async function main(argv: string[]): Promise<number> {
  const [command = 'serve', ...rest] = argv;
  const config = configFromEnv();
  if (command === 'serve') {
    // The web app's build, next to this app in the repository, unless PARLEY_WEB_DIR says otherwise.
    if (config.webDir === undefined) {
      const built = new URL('../../web/dist/', import.meta.url).pathname;
      if (existsSync(`${built}index.html`)) config.webDir = built;
    }
    const ctx = await createAppContext(config);
    const server = await startServer(ctx);
    const stop = (signal: string) => {
      ctx.logger.info({ event: 'server.signal', signal }, 'shutting down');
      server.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    return -1;
  }
  if (command === 'admin') {
    // Loaded only here: `parley serve` never needs the admin and backup code.
    const { runAdmin, UsageError } = await import('./admin.js');
    try {
      await runAdmin(config, rest, (line) => process.stdout.write(`${line}\n`));
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    return 0;
  }
  process.stderr.write('usage: parley [serve | admin <command>]\n');
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`parley: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
