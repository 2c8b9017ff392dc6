import type { ParleyClient } from '@parley/client';
import { Icon } from '../components/Dialog';
import { useUnseenCount } from './hooks';

/**
 * The sidebar's way into Moments: the navigation "Moments", with the number
 * of likes, comments and replies not seen yet.
 */
export function MomentsNav(props: { client: ParleyClient; current: boolean; onOpen: () => void }) {
  const unseen = useUnseenCount(props.client);
  return (
    <nav className="moments-nav" aria-label="Moments">
      <button type="button" className="people-nav-item" aria-current={props.current ? 'page' : undefined} onClick={props.onOpen}>
        <Icon name="camera" size={18} /> Moments
        {unseen > 0 && (
          <span className="count">
            {unseen > 99 ? '99+' : unseen}
            <span className="sr-only"> new</span>
          </span>
        )}
      </button>
    </nav>
  );
}
