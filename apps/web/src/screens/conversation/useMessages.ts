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

/**
 * The open conversation's history: the newest page first, older pages on
 * demand (or back to a given seq, for a quote's original), kept current by
 * the client's events (new and changed messages, expired ones removed).
 */
export function useMessages(client: ParleyClient, id: GroupId) {
  const [messages, setMessages] = useState<Message[] | null>(null);
  const [hasOlder, setHasOlder] = useState(false);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const latest = useRef<Message[] | null>(null);
  latest.current = messages;
  // Bumped when a history archive was imported (a newly linked device): the open conversation reads its pages again.
  const [generation, setGeneration] = useState(0);
  useClientEvent(client, 'history', (e) => {
    if (e.state === 'imported') setGeneration((g) => g + 1);
  });

  const shown = useRef<GroupId | null>(null);
  useEffect(() => {
    let live = true;
    // Another conversation: empty until its page arrives; the same one read again (after an import) keeps showing meanwhile.
    if (shown.current !== id) setMessages(null);
    shown.current = id;
    client.messages(id, { beforeSeq: Number.MAX_SAFE_INTEGER, limit: PAGE }).then(
      (page) => {
        if (!live) return;
        setMessages(page);
        setHasOlder(page.length === PAGE);
      },
      () => live && setMessages([]),
    );
    return () => {
      live = false;
    };
  }, [client, id, generation]);

  useClientEvent(client, 'message', (m) => {
    if (m.conversationId !== id) return;
    setMessages((list) => (list === null ? list : upsertSorted(list, m)));
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

  return { messages, hasOlder, loadingOlder, loadOlder, loadUntil };
}
