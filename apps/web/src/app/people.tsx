import { createContext, useContext, useEffect, useState, useSyncExternalStore, type ReactNode } from 'react';
import type { ParleyClient } from '@parley/client';
import { PeopleBook } from '../lib/people';

const PeopleContext = createContext<PeopleBook | undefined>(undefined);

/** One PeopleBook per signed-in client, closed (its blob URLs revoked) when the shell goes away. */
export function PeopleProvider(props: { client: ParleyClient; children: ReactNode }) {
  const [book] = useState(() => new PeopleBook(props.client));
  useEffect(() => () => book.close(), [book]);
  return <PeopleContext.Provider value={book}>{props.children}</PeopleContext.Provider>;
}

/**
 * The people book; the calling component renders again whenever a name,
 * nickname or picture changes (contacts and profile events).
 */
export function usePeople(): PeopleBook {
  const book = useContext(PeopleContext);
  if (book === undefined) throw new Error('usePeople outside PeopleProvider');
  useSyncExternalStore(book.subscribe, book.version);
  return book;
}
