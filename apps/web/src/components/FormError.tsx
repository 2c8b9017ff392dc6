import { Icon } from './Dialog';

/** An inline error under a form, announced to screen readers. */
export function FormError(props: { message: string | null }) {
  if (props.message === null) return null;
  return (
    <p className="form-error" role="alert">
      <Icon name="alert" size={16} /> {props.message}
    </p>
  );
}
