import type { UserId } from '@parley/client';
import { usePeople } from '../app/people';
import { hueFor, initials } from '../lib/format';

/** A round badge: the picture when there is one, else the initials on a colour of the name. */
export function Avatar(props: { name: string; size?: 'sm' | 'md' | 'lg'; group?: boolean; picture?: string | null }) {
  const hue = hueFor(props.name);
  const picture = props.picture ?? null;
  return (
    <span
      className={`avatar avatar-${props.size ?? 'md'}${props.group === true ? ' avatar-group' : ''}${picture !== null ? ' avatar-picture' : ''}`}
      style={{ '--hue': hue } as React.CSSProperties}
      aria-hidden="true"
    >
      {picture !== null ? <img src={picture} alt="" draggable={false} /> : initials(props.name)}
    </span>
  );
}

/** A person's avatar: their profile picture (decrypted on this device) or the initials of the name they are shown by. */
export function PersonAvatar(props: { userId: UserId; username: string | null; size?: 'sm' | 'md' | 'lg' }) {
  const people = usePeople();
  return <Avatar name={people.name(props.userId, props.username)} picture={people.pictureUrl(props.userId)} {...(props.size !== undefined ? { size: props.size } : {})} />;
}
