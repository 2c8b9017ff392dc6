import { useEffect, useState } from 'react';
import type { GroupId, ParleyClient, UserId } from '@parley/client';
import { usePeople } from '../../app/people';
import { useClientEvent } from '../../app/session';
import { UNKNOWN_USER } from '../../lib/people';

function someone(name: string): string {
  return name === UNKNOWN_USER ? 'Someone' : name;
}

/** A "typing" that is not renewed (a lost "stopped") goes away by itself after this long. */
const STALE_MS = 7000;

export function typingText(names: readonly string[]): string {
  if (names.length === 0) return '';
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return `${names.length} people are typing…`;
}

/** "Alice is typing…" under the history, from the client's ephemeral typing events. */
export function TypingIndicator(props: { client: ParleyClient; conversationId: GroupId }) {
  const [typing, setTyping] = useState<ReadonlyMap<UserId, { username: string | null; at: number }>>(new Map());
  const people = usePeople();
  const { conversationId } = props;

  useEffect(() => setTyping(new Map()), [conversationId]);

  useClientEvent(props.client, 'typing', (e) => {
    if (e.conversationId !== conversationId || e.userId === props.client.userId) return;
    setTyping((cur) => {
      const next = new Map(cur);
      if (e.typing) next.set(e.userId, { username: e.username, at: Date.now() });
      else next.delete(e.userId);
      return next;
    });
  });

  useEffect(() => {
    if (typing.size === 0) return;
    const t = setInterval(() => {
      const now = Date.now();
      setTyping((cur) => {
        const next = new Map([...cur].filter(([, v]) => now - v.at < STALE_MS));
        return next.size === cur.size ? cur : next;
      });
    }, 1000);
    return () => clearInterval(t);
  }, [typing.size]);

  return (
    <div className="typing-indicator" role="status" aria-live="polite">
      {typingText([...typing].map(([userId, v]) => someone(people.name(userId, v.username))))}
    </div>
  );
}
