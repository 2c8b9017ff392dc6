import { useId } from 'react';

/** An on/off switch (role="switch"), named by its label, with an optional line of explanation. */
export function Switch(props: { label: string; hint?: string; checked: boolean; disabled?: boolean; onChange: (on: boolean) => void }) {
  const id = useId();
  return (
    <div className="switch-row">
      <span>
        <span id={`${id}-l`}>{props.label}</span>
        {props.hint !== undefined && (
          <span id={`${id}-h`} className="muted small">
            {props.hint}
          </span>
        )}
      </span>
      <button
        type="button"
        role="switch"
        className="switch"
        aria-checked={props.checked}
        aria-labelledby={`${id}-l`}
        {...(props.hint !== undefined ? { 'aria-describedby': `${id}-h` } : {})}
        disabled={props.disabled}
        onClick={() => props.onChange(!props.checked)}
      />
    </div>
  );
}
