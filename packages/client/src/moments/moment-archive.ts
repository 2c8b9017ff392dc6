import type { UserId } from '@parley/protocol';
import type { StoreBatch } from '../store/records.js';
import { COMMENT_PREFIX, LIKE_PREFIX, parseArchived, POST_PREFIX, TIME_PREFIX } from './moment-records.js';
import type { MomentRecords } from './moment-records.js';

/**
 * Moments in the history archive (history/archive-format.ts, `moment` lines):
 * a newly linked device gets the posts its user's device holds — its own and
 * friends' posts within their authors' windows (older ones are swept from
 * every device) — with their comments and likes, as the store keeps them.
 * Photos are not in the archive: the new device downloads them while the
 * server still holds them, like a friend's device does.
 */
export type ArchivedMoment = NonNullable<ReturnType<typeof parseArchived>>;

export function readArchivedMoment(key: string, value: string): ArchivedMoment | undefined {
  return parseArchived(key, value);
}

/** The records to pass on: every post from `since` on (null: all), each followed by its comments and likes. */
export async function* momentArchiveLines(records: MomentRecords, since: number | null): AsyncIterable<{ key: string; value: string }> {
  // By the time index (small rows), one post record at a time (each may hold nine thumbnails).
  for (const index of await records.rows(TIME_PREFIX)) {
    const postId = index.key.slice(index.key.lastIndexOf('/') + 1);
    const value = await records.postText(postId);
    if (value === undefined) continue;
    const row = { key: POST_PREFIX + postId, value };
    const parsed = parseArchived(row.key, row.value);
    if (parsed?.kind !== 'post' || (since !== null && parsed.record.postedAt < since)) continue;
    yield row;
    for (const prefix of [`${COMMENT_PREFIX}${postId}/`, `${LIKE_PREFIX}${postId}/`]) for (const r of await records.rows(prefix)) yield r;
  }
}

/**
 * Adds what this device does not hold yet to `batch` (what it holds wins),
 * and only from authors it may show: itself and its friends. Returns the
 * posts added (their bodies and photos are fetched after the batch is stored).
 */
export async function importMoments(records: MomentRecords, batch: StoreBatch, items: readonly ArchivedMoment[], shows: (author: UserId) => Promise<boolean>): Promise<string[]> {
  const added: string[] = [];
  const posts = new Set<string>();
  for (const item of items) {
    if (item.kind === 'post') {
      const p = item.record;
      if ((await records.post(p.postId, batch)) !== undefined || !(await shows(p.author))) continue;
      records.putPost(batch, p);
      posts.add(p.postId);
      added.push(p.postId);
      continue;
    }
    const r = item.record;
    if (!posts.has(r.postId) || !(await shows(r.author))) continue;
    if (item.kind === 'comment') records.putComment(batch, item.record);
    else records.putLike(batch, item.record);
  }
  return added;
}
