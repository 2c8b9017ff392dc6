import { useCallback, useEffect, useState } from 'react';
import type { MediaUsage, ParleyClient } from '@parley/client';
import { clearAttachmentCache } from '../../components/Attachment';
import { Icon } from '../../components/Dialog';
import { FormError } from '../../components/FormError';
import { describeError } from '../../lib/errors';
import { formatBytes } from '../../lib/format';

const MB = 1024 * 1024;
const LIMITS = [0, 5 * MB, 25 * MB, 100 * MB, 500 * MB] as const;

function limitLabel(bytes: number): string {
  return bytes === 0 ? 'Only when opened' : `Up to ${formatBytes(bytes)}`;
}

/** Photos, files and voice messages kept on this device: how much, the auto-download limit, and freeing the space. */
export function StorageSettings(props: { client: ParleyClient }) {
  const { client } = props;
  const [usage, setUsage] = useState<MediaUsage | null>(null);
  const [limit, setLimit] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(() => {
    client.mediaUsage().then(setUsage, (err: unknown) => setError(describeError(err)));
    client.mediaSettings().then((s) => setLimit(s.autoDownloadMaxBytes), (err: unknown) => setError(describeError(err)));
  }, [client]);
  useEffect(load, [load]);

  const options = limit === null || (LIMITS as readonly number[]).includes(limit) ? LIMITS : [...LIMITS, limit].sort((a, b) => a - b);

  return (
    <>
      <h4>Storage</h4>
      <p className="muted small">Photos, files and voice messages are kept on this device so they stay after the server deletes its copy.</p>
      <div className="switch-row">
        <span>
          <span>Media on this device</span>
          <span className="muted small" aria-live="polite">
            {usage === null ? '…' : `${formatBytes(usage.bytes)} · ${usage.files} ${usage.files === 1 ? 'file' : 'files'}`}
          </span>
        </span>
        <button
          type="button"
          className="button small"
          disabled={busy || usage === null || usage.files === 0}
          onClick={() => {
            setBusy(true);
            setError(null);
            client
              .clearMedia()
              .then(() => clearAttachmentCache())
              .catch((err: unknown) => setError(describeError(err)))
              .finally(() => {
                setBusy(false);
                load();
              });
          }}
        >
          <Icon name="trash" size={16} /> {busy ? 'Freeing…' : 'Free up space'}
        </button>
      </div>
      <label className="switch-row">
        <span>
          <span>Download automatically</span>
          <span className="muted small">Larger files are downloaded when you open them.</span>
        </span>
        <select
          className="select"
          value={limit ?? ''}
          disabled={limit === null}
          onChange={(e) => {
            const next = Number(e.target.value);
            const before = limit;
            setLimit(next);
            client.setMediaSettings({ autoDownloadMaxBytes: next }).catch((err: unknown) => {
              setLimit(before);
              setError(describeError(err));
            });
          }}
        >
          {options.map((b) => (
            <option key={b} value={b}>
              {limitLabel(b)}
            </option>
          ))}
        </select>
      </label>
      <FormError message={error} />
    </>
  );
}
