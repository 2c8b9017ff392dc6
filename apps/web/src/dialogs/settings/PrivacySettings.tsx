import { useEffect, useState } from 'react';
import type { ParleyClient } from '@parley/client';
import { FormError } from '../../components/FormError';
import { Switch } from '../../components/Switch';
import { describeError } from '../../lib/errors';

/** Read receipts (and typing indicators with them), kept on this device. */
export function PrivacySettings(props: { client: ParleyClient }) {
  const { client } = props;
  const [on, setOn] = useState<boolean | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    client.readReceipts().then(
      (v) => live && setOn(v),
      (err: unknown) => live && setError(describeError(err)),
    );
    return () => {
      live = false;
    };
  }, [client]);
  return (
    <>
      <h4>Privacy</h4>
      <Switch
        label="Send read receipts"
        hint="Others see when you read their messages and when you are typing. Off: you do not see theirs either."
        checked={on ?? false}
        disabled={on === null}
        onChange={(next) => {
          setOn(next);
          setError(null);
          client.setReadReceipts(next).catch((err: unknown) => {
            setOn(!next);
            setError(describeError(err));
          });
        }}
      />
      <FormError message={error} />
    </>
  );
}
