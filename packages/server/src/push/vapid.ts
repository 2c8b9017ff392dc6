import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import webpush from 'web-push';
import { z } from 'zod';

/** The server's VAPID key pair (RFC 8292), base64url as `web-push` takes it. */
export interface VapidKeys {
  publicKey: string;
  privateKey: string;
}

export const VAPID_FILE = 'vapid.json';

const FileSchema = z.object({ publicKey: z.string().regex(/^[A-Za-z0-9_-]{87}$/), privateKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/) });

/**
 * The VAPID keys kept in the data directory (`vapid.json`, mode 0600),
 * generated at the first start. Keeping them matters: every browser
 * subscription is bound to the public key, so new keys would silently end
 * every subscription. Two processes starting at once on one directory agree:
 * the file is published with a hard link, which fails if it exists, and the
 * loser reads the winner's.
 */
export function loadOrCreateVapidKeys(dataDir: string): VapidKeys {
  const path = join(dataDir, VAPID_FILE);
  const existing = readVapidKeys(path);
  if (existing) return existing;
  const keys = webpush.generateVAPIDKeys();
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(tmp, JSON.stringify({ publicKey: keys.publicKey, privateKey: keys.privateKey }) + '\n', { mode: 0o600, flag: 'wx' });
  try {
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
  const stored = readVapidKeys(path);
  if (!stored) throw new Error(`${path} is not a VAPID key file`);
  return stored;
}

/** Reads a VAPID key file; undefined when there is none, throws when it is not one (backup and restore check it). */
export function readVapidKeys(path: string): VapidKeys | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${path} is not a VAPID key file`);
  }
  const parsed = FileSchema.safeParse(json);
  if (!parsed.success) throw new Error(`${path} is not a VAPID key file`);
  return parsed.data;
}

