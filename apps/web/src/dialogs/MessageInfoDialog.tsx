import { useEffect, useState } from 'react';
import type { GroupId, Message, ParleyClient, ReceiptSummary } from '@parley/client';
import { usePeople } from '../app/people';
import { PersonAvatar } from '../components/Avatar';
import { Dialog } from '../components/Dialog';
import { FormError } from '../components/FormError';
import { describeError } from '../lib/errors';
import { formatFull } from '../lib/format';

/** Your own message's receipts: "Read by 3 of 5" and who, then who it reached. */
export function MessageInfoDialog(props: { client: ParleyClient; conversationId: GroupId; message: Message; snippet: string; onClose: () => void }) {
  const { client, conversationId, message } = props;
  const [summary, setSummary] = useState<ReceiptSummary | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [receiptsOn, setReceiptsOn] = useState(true);
  const people = usePeople();

  useEffect(() => {
    let live = true;
    client.receipts(conversationId, message.seq).then(
      (s) => live && setSummary(s),
      (err: unknown) => live && setError(describeError(err)),
    );
    client.readReceipts().then(
      (on) => live && setReceiptsOn(on),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [client, conversationId, message.seq, message.status]);

  const readIds = new Set(summary?.readBy.map((u) => u.userId) ?? []);
  const deliveredOnly = summary?.deliveredTo.filter((u) => !readIds.has(u.userId)) ?? [];
  return (
    <Dialog title="Message info" onClose={props.onClose}>
      <div className="stack">
        <p className="muted reply-preview" dir="auto">
          {props.snippet}
        </p>
        <p className="muted small">Sent {formatFull(message.sentAt)}</p>
        <FormError message={error} />
        {summary !== null && (
          <>
            <h4>{receiptsOn ? `Read by ${summary.readBy.length} of ${summary.others}` : 'Read receipts are off'}</h4>
            {receiptsOn && summary.readBy.length > 0 && (
              <ul className="receipt-list" aria-label="Read by">
                {summary.readBy.map((u) => (
                  <li key={u.userId} className="member">
                    <PersonAvatar userId={u.userId} username={u.username} size="sm" />
                    <span className="member-name" dir="auto">
                      {people.name(u.userId, u.username)}
                    </span>
                  </li>
                ))}
              </ul>
            )}
            {!receiptsOn && <p className="muted small">Turn on “Send read receipts” in Settings to see who read your messages.</p>}
            <h4>{`Delivered to ${summary.deliveredTo.length} of ${summary.others}`}</h4>
            {deliveredOnly.length > 0 && (
              <ul className="receipt-list" aria-label="Delivered to">
                {deliveredOnly.map((u) => (
                  <li key={u.userId} className="member">
                    <PersonAvatar userId={u.userId} username={u.username} size="sm" />
                    <span className="member-name" dir="auto">
                      {people.name(u.userId, u.username)}
                    </span>
                  </li>
                ))}
              </ul>
            )}
          </>
        )}
      </div>
    </Dialog>
  );
}
