import { Icon } from '../../components/Dialog';

const TITLES = {
  sent: 'Sent: stored on the server for delivery',
  delivered: 'Delivered: reached a device of every other member',
  read: 'Read by every other member',
} as const;

/** The ticks on your own message, with their state as text for screen readers and tests ("Sent", "Delivered", "Read"). */
export function MessageStatus(props: { status: 'sent' | 'delivered' | 'read' }) {
  const s = props.status;
  return (
    <span className={`status ${s}`} title={TITLES[s]}>
      <Icon name={s === 'sent' ? 'check' : 'checks'} size={15} />
      <span className="sr-only">{s === 'sent' ? 'Sent' : s === 'delivered' ? 'Delivered' : 'Read'}</span>
    </span>
  );
}
