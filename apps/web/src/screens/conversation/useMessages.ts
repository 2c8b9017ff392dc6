import { useCallback, useEffect, useRef, useState } from 'react';
import type { GroupId, Message, ParleyClient } from '@parley/client';
import { useClientEvent } from '../../app/session';
import { messageKey } from '../../notices/notices';

export const PAGE = 60;

/** Adds a message in seq order, or replaces the stored one it is a new version of (a reaction, an edit, a delete, a receipt). */
export function upsertSorted(list: readonly Message[], m: Message): Message[] {
  // Notices share the seq of the commit that caused them, so identity is the key, not the seq.
  const key = messageKey(m);
  const at = list.findIndex((x) => x.seq === m.seq && messageKey(x) === key);
  if (at >= 0) {
    const next = [...list];
    next[at] = m;
    return next;
  }
  if (list.length === 0 || (list[list.length - 1] as Message).seq < m.seq) return [...list, m];
  return [...list, m].sort((a, b) => a.seq - b.seq);
}

function prepend(list: readonly Message[], page: readonly Message[]): Message[] {
  const have = new Set(list.map(messageKey));
  return [...page.filter((p) => p.seq <= (list[0]?.seq ?? Infinity) && !have.has(messageKey(p))), ...list];
}

function append(list: readonly Message[], page: readonly Message[]): Message[] {
  const have = new Set(list.map(messageKey));
  return [...list, ...page.filter((p) => p.seq >= (list[list.length - 1]?.seq ?? -Infinity) && !have.has(messageKey(p)))];
}

/** A message this many pages or more above what is loaded is shown in a window of its own instead of loading everything up to it. */
const WINDOW_AFTER_PAGES = 2;

/**
 * The open conversation's history: the newest page first, older pages on
 * demand (or back to a given seq, for a quote's original), kept current by
 * the client's events (new and changed messages, expired ones removed).
 *
 * A message far back (a search result, `#/c/<id>/m/<seq>`) is shown in a
 * window: the page around it, with older and newer pages loaded on demand
 * (`hasNewer`). While the window does not reach the newest message, new
 * messages are not added at its end; they are read with the newer pages.
 */
export function useMessages(client: ParleyClient, id: GroupId, initialSeq: number | null = null) {
  const [messages, setMessages] = useState<Message[] | null>(null);
  const [hasOlder, setHasOlder] = useState(false);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [hasNewer, setHasNewer] = useState(false);
  const [loadingNewer, setLoadingNewer] = useState(false);
  const latest = useRef<Message[] | null>(null);
  latest.current = messages;
  const detached = useRef(false);
  // A new message arrived while the window did not reach the end: the next newer page is read once more.
  const missed = useRef(false);
  const initial = useRef(initialSeq);
  // Bumped when a history archive was imported (a newly linked device): the open conversation reads its pages again.
  const [generation, setGeneration] = useState(0);
  useClientEvent(client, 'history', (e) => {
    if (e.state === 'imported') setGeneration((g) => g + 1);
  });

  /** The page around `seq` (it included), replacing what is shown. */
  const readAround = useCallback(
    async (seq: number): Promise<{ list: Message[]; older: boolean; newer: boolean }> => {
      const half = PAGE / 2;
      const [before, after] = await Promise.all([client.messages(id, { beforeSeq: seq + 1, limit: half }), client.messages(id, { afterSeq: seq, limit: half })]);
      return { list: [...before, ...after], older: before.length === half, newer: after.length === half };
    },
    [client, id],
  );

  const shown = useRef<GroupId | null>(null);
  useEffect(() => {
    let live = true;
    // Another conversation: empty until its page arrives; the same one read again (after an import) keeps showing meanwhile.
    if (shown.current !== id) setMessages(null);
    shown.current = id;
    const around = initial.current;
    initial.current = null;
    const read =
      around !== null
        ? readAround(around)
        : client.messages(id, { beforeSeq: Number.MAX_SAFE_INTEGER, limit: PAGE }).then((page) => ({ list: page, older: page.length === PAGE, newer: false }));
    read.then(
      (w) => {
        if (!live) return;
        detached.current = w.newer;
        setMessages(w.list);
        setHasOlder(w.older);
        setHasNewer(w.newer);
      },
      () => live && setMessages([]),
    );
    return () => {
      live = false;
    };
  }, [client, id, generation, readAround]);

  useClientEvent(client, 'message', (m) => {
    if (m.conversationId !== id) return;
    setMessages((list) => {
      if (list === null) return list;
      const last = list[list.length - 1];
      if (detached.current && last !== undefined && m.seq > last.seq) {
        missed.current = true;
        return list;
      }
      return upsertSorted(list, m);
    });
  });

  useClientEvent(client, 'expired', (e) => {
    if (e.conversationId !== id) return;
    const gone = new Set(e.seqs);
    setMessages((list) => (list === null ? list : list.filter((m) => !gone.has(m.seq))));
  });

  const loadOlder = useCallback(() => {
    const first = messages?.[0];
    if (first === undefined || loadingOlder) return;
    setLoadingOlder(true);
    client.messages(id, { beforeSeq: first.seq, limit: PAGE }).then(
      (page) => {
        setMessages((list) => (list === null ? page : prepend(list, page)));
        setHasOlder(page.length === PAGE);
        setLoadingOlder(false);
      },
      () => setLoadingOlder(false),
    );
  }, [client, id, messages, loadingOlder]);

  /** In a window: the next newer page; once it reaches the newest message, new ones are added live again. */
  const loadNewer = useCallback(() => {
    const last = messages?.[messages.length - 1];
    if (last === undefined || loadingNewer || !detached.current) return;
    setLoadingNewer(true);
    missed.current = false;
    const read = async (after: number): Promise<Message[]> => {
      const page = await client.messages(id, { afterSeq: after, limit: PAGE });
      // Reached the end while a message came in: read once more, so it is not left out.
      if (page.length < PAGE && missed.current) {
        missed.current = false;
        const more = await client.messages(id, { afterSeq: page[page.length - 1]?.seq ?? after, limit: PAGE });
        return [...page, ...more];
      }
      return page;
    };
    read(last.seq).then(
      (page) => {
        const more = page.length >= PAGE;
        detached.current = more;
        setMessages((list) => (list === null ? page : append(list, page)));
        setHasNewer(more);
        setLoadingNewer(false);
      },
      () => setLoadingNewer(false),
    );
  }, [client, id, messages, loadingNewer]);

  /** Back to the newest page (leaving a window): "Latest messages", or before sending. */
  const showLatest = useCallback(async (): Promise<void> => {
    if (!detached.current) return;
    const page = await client.messages(id, { beforeSeq: Number.MAX_SAFE_INTEGER, limit: PAGE });
    detached.current = false;
    setMessages(page);
    setHasOlder(page.length === PAGE);
    setHasNewer(false);
  }, [client, id]);

  /** Loads older pages until `seq` is in the list (or the history's start); true if it is there. */
  const loadUntil = useCallback(
    async (seq: number): Promise<boolean> => {
      let list = latest.current ?? [];
      let more = true;
      while (!list.some((m) => m.seq === seq) && more && (list[0]?.seq ?? 0) > seq) {
        const page = await client.messages(id, { beforeSeq: list[0]?.seq ?? Number.MAX_SAFE_INTEGER, limit: PAGE });
        more = page.length === PAGE;
        list = prepend(list, page);
        const snapshot = list;
        setMessages((cur) => (cur === null ? snapshot : prepend(cur, snapshot)));
        setHasOlder(more);
      }
      return list.some((m) => m.seq === seq);
    },
    [client, id],
  );

  /**
   * Makes message `seq` part of what is shown: already there, a page or two
   * above (loaded back to it), or else in a window of its own. True if it
   * exists.
   */
  const reveal = useCallback(
    async (seq: number): Promise<boolean> => {
      const list = latest.current ?? [];
      if (list.some((m) => m.seq === seq)) return true;
      const first = list[0]?.seq;
      const last = list[list.length - 1]?.seq;
      const near = first !== undefined && seq < first && first - seq <= WINDOW_AFTER_PAGES * PAGE;
      if (near) return loadUntil(seq);
      if (first !== undefined && last !== undefined && seq > first && seq < last) return false;
      const w = await readAround(seq);
      detached.current = w.newer;
      setMessages(w.list);
      setHasOlder(w.older);
      setHasNewer(w.newer);
      return w.list.some((m) => m.seq === seq);
    },
    [loadUntil, readAround],
  );

  return { messages, hasOlder, loadingOlder, loadOlder, hasNewer, loadingNewer, loadNewer, showLatest, loadUntil, reveal };
}
