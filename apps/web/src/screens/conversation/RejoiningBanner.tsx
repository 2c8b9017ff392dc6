/**
 * Shown in place of the composer while this device's state for the
 * conversation is broken (`Conversation.status === 'rejoining'`): the SDK has
 * asked the other members' devices to re-add it (healing/) and keeps asking
 * until one does. Nothing can be read or sent meanwhile, and what was sent in
 * the gap stays unreadable (the "Some messages could not be decrypted" line in
 * the history marks where). Once re-added the conversation is active again and
 * the composer comes back by itself.
 */
export function RejoiningBanner() {
  return (
    <div className="inactive-notice rejoining-banner" role="status" aria-live="polite">
      <span className="rejoining-title">
        <span className="spinner small-spinner" aria-hidden="true" /> Rejoining this conversation…
      </span>
      <span className="muted small">Some messages could not be decrypted. Another member’s device will add this one back automatically.</span>
    </div>
  );
}
