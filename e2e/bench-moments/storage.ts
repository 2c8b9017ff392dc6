import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/**
 * What the server stores for a post, read from its SQLite database and blob
 * folder by a second, read-only connection (it sees what the server
 * committed). A post's rows are counted as they appear (the union of every
 * poll: a row is deleted once every device acknowledged it), each once.
 */
export class StorageProbe {
  private readonly db: Database.Database;
  private baseSeq = new Map<string, number>();
  private baseBlobs = new Set<string>();
  private rows = new Map<string, number>();
  private welcomes = new Map<string, number>();

  constructor(private readonly dataDir: string) {
    this.db = new Database(join(dataDir, 'parley.db'), { readonly: true, fileMustExist: true });
  }

  /** Remembers what is there now: later rows and blobs are the post's. */
  baseline(): void {
    this.baseSeq = new Map((this.db.prepare('SELECT id, last_seq FROM mls_groups').all() as Array<{ id: string; last_seq: number }>).map((r) => [r.id, r.last_seq]));
    this.baseBlobs = new Set((this.db.prepare('SELECT digest FROM blobs').pluck().all() as string[]));
    this.rows.clear();
    this.welcomes.clear();
  }

  /** Adds the rows stored since the baseline (messages and Welcomes) to the union. */
  poll(): void {
    for (const r of this.db.prepare('SELECT group_id AS g, seq, length(payload) AS n FROM group_messages').all() as Array<{ g: string; seq: number; n: number }>) {
      if (r.seq > (this.baseSeq.get(r.g) ?? 0)) this.rows.set(`${r.g}/${r.seq}`, r.n);
    }
    for (const r of this.db.prepare('SELECT group_id AS g, seq, length(welcome) + coalesce(length(group_info), 0) AS n FROM welcomes').all() as Array<{ g: string; seq: number; n: number }>) {
      if (r.seq > (this.baseSeq.get(r.g) ?? 0)) this.welcomes.set(`${r.g}/${r.seq}`, r.n);
    }
  }

  /** Message rows (count, payload bytes), Welcome bytes and new blobs (count, bytes) since the baseline. */
  since(): { messages: number; messageBytes: number; groups: number; welcomeBytes: number; blobs: number; blobBytes: number; blobFileBytes: number } {
    this.poll();
    const groups = new Set([...this.rows.keys()].map((k) => k.split('/')[0]));
    const blobs = (this.db.prepare('SELECT digest, size FROM blobs').all() as Array<{ digest: string; size: number }>).filter((b) => !this.baseBlobs.has(b.digest));
    const files = new Set(blobs.map((b) => b.digest));
    let blobFileBytes = 0;
    for (const f of filesUnder(join(this.dataDir, 'blobs'))) if ([...files].some((d) => f.includes(d))) blobFileBytes += statSync(f).size;
    return {
      messages: this.rows.size,
      messageBytes: sum(this.rows.values()),
      groups: groups.size,
      welcomeBytes: sum(this.welcomes.values()),
      blobs: blobs.length,
      blobBytes: blobs.reduce((n, b) => n + b.size, 0),
      blobFileBytes,
    };
  }

  close(): void {
    this.db.close();
  }
}

function sum(xs: Iterable<number>): number {
  let n = 0;
  for (const x of xs) n += x;
  return n;
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else out.push(path);
  }
  return out;
}
