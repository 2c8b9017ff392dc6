import { useCallback, useEffect, useState } from 'react';
import type { ParleyClient, UserId } from '@parley/client';
import { usePeople } from '../../app/people';
import { useClientEvent } from '../../app/session';
import { FormError } from '../../components/FormError';
import { describeError } from '../../lib/errors';

type Blocked = Awaited<ReturnType<ParleyClient['blocks']['list']>>[number];

/** Settings → blocked users, synced between this user's devices, each with "Unblock". */
export function BlockedSettings(props: { client: ParleyClient }) {
  const { client } = props;
  const people = usePeople();
  const [blocked, setBlocked] = useState<Blocked[] | null>(null);
  const [busy, setBusy] = useState<UserId | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(() => {
    client.blocks.list().then(setBlocked, (err: unknown) => setError(describeError(err)));
  }, [client]);
  useEffect(load, [load]);
  useClientEvent(client, 'blocks', load);

  async function unblock(userId: UserId) {
    setBusy(userId);
    setError(null);
    try {
      await client.blocks.unblock(userId);
      load();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(null);
    }
  }

  return (
    <>
      <h4>Blocked</h4>
      {blocked === null ? (
        error === null && <span className="spinner" aria-label="Loading blocked users" />
      ) : blocked.length === 0 ? (
        <p className="muted small">Nobody is blocked. Someone you block cannot message you or add you to groups, and is not told.</p>
      ) : (
        <ul className="member-list" aria-label="Blocked users">
          {blocked.map((b) => {
            const username = b.username ?? 'Unknown user';
            const name = people.name(b.userId, b.username);
            return (
              <li key={b.userId} className="member">
                <span className="member-name">
                  <span dir="auto">{username}</span>
                  {name !== username && (
                    <span className="muted small" dir="auto">
                      {name}
                    </span>
                  )}
                </span>
                <button type="button" className="button small" aria-label={`Unblock ${username}`} disabled={busy !== null} onClick={() => void unblock(b.userId)}>
                  {busy === b.userId ? 'Unblocking…' : 'Unblock'}
                </button>
              </li>
            );
          })}
        </ul>
      )}
      <FormError message={error} />
    </>
  );
}
