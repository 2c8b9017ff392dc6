import { hueFor, initials } from '../lib/format';

export function Avatar(props: { name: string; size?: 'sm' | 'md' | 'lg'; group?: boolean }) {
  const hue = hueFor(props.name);
  return (
    <span className={`avatar avatar-${props.size ?? 'md'}${props.group === true ? ' avatar-group' : ''}`} style={{ '--hue': hue } as React.CSSProperties} aria-hidden="true">
      {initials(props.name)}
    </span>
  );
}
