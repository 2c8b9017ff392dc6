import { useState } from 'react';
import type { HistoryEvent, ParleyClient } from '@parley/client';
import { useClientEvent } from '../app/session';

/** What a failed import means to the user (the `reason` of a failed 'history' event). */
function failureText(reason: string | undefined): string {
  switch (reason) {
    case 'download_failed':
      return 'the archive could not be downloaded.';
    case 'digest_mismatch':
    case 'decrypt_failed':
    case 'hash_mismatch':
      return 'the archive was changed on the way, so it was discarded.';
    case 'store_failed':
      return 'it could not be saved on this device.';
    default:
      return 'the archive was not valid, so it was discarded.';
  }
}

/**
 * On a newly linked device: the history another of your devices sends it
 * (chosen there when approving). "Importing history…" while it arrives, then
 * "History imported" or why it failed — nothing of a failed archive is kept.
 */
export function HistoryNotice(props: { client: ParleyClient }) {
  const [event, setEvent] = useState<HistoryEvent | null>(null);
  useClientEvent(props.client, 'history', setEvent);
  if (event === null) return null;
  if (event.state === 'failed') {
    return (
      <div className="banner history-notice" role="alert">
        History could not be imported: {failureText(event.reason)}
        <button type="button" className="link-button" onClick={() => setEvent(null)}>
          Dismiss
        </button>
      </div>
    );
  }
  return (
    <div className={`banner history-notice${event.state === 'imported' ? ' done' : ''}`} role="status">
      {event.state === 'importing' ? (
        <>Importing history…{event.waitingFor !== undefined && ` (waiting for ${event.waitingFor} conversation${event.waitingFor === 1 ? '' : 's'})`}</>
      ) : (
        <>
          History imported
          {event.messages !== undefined && <span className="muted small"> ({event.messages === 1 ? '1 message' : `${event.messages} messages`})</span>}
          <button type="button" className="link-button" onClick={() => setEvent(null)}>
            Dismiss
          </button>
        </>
      )}
    </div>
  );
}
