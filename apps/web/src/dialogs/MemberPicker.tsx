import { useState } from 'react';
import type { ParleyClient } from '@parley/client';
import { FormError } from '../components/FormError';
import { describeError } from '../lib/errors';

/** Type a username; "Add member" checks that the user exists, then hands the name to `onPick`. */
export function MemberPicker(props: { client: ParleyClient; onPick: (username: string) => Promise<void> | void; exclude?: readonly string[]; disabled?: boolean; busyLabel?: string }) {
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [checking, setChecking] = useState(false);

  async function add() {
    const typed = name.trim();
    if (typed === '' || checking) return;
    setChecking(true);
    setError(null);
    try {
      const user = await props.client.lookupUser(typed);
      if (user.userId === props.client.userId) setError('You are already in it.');
      else if ((props.exclude ?? []).includes(user.username)) setError(`${user.username} is already a member.`);
      else {
        await props.onPick(user.username);
        setName('');
      }
    } catch (err) {
      setError(describeError(err));
    } finally {
      setChecking(false);
    }
  }

  return (
    <div className="member-picker">
      <div className="inline-field">
        <label className="field grow">
          <span>Add member</span>
          <input
            value={name}
            onChange={(e) => setName(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter') {
                e.preventDefault();
                void add();
              }
            }}
            autoCapitalize="none"
            spellCheck={false}
            dir="auto"
            disabled={props.disabled === true || checking}
          />
        </label>
        <button type="button" className="button" onClick={() => void add()} disabled={checking || name.trim() === '' || props.disabled === true}>
          {checking ? (props.busyLabel ?? 'Checking…') : 'Add member'}
        </button>
      </div>
      <FormError message={error} />
    </div>
  );
}
