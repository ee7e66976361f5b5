import type { FormHTMLAttributes, ReactNode, Ref } from 'react';
import { Alert } from './page.tsx';

interface FormProps extends Omit<FormHTMLAttributes<HTMLFormElement>, 'onSubmit' | 'noValidate'> {
  ref?: Ref<HTMLFormElement>;
  /** Runs instead of the browser's submission (which would reload the page). */
  onSubmit: () => Promise<void> | void;
  /** The message for the whole form, shown as an alert above its fields. */
  error?: string | undefined;
}

/** A form that validates itself (noValidate: the fields show our messages, not the browser's). */
export function Form({ onSubmit, error, children, ...form }: FormProps) {
  return (
    <form
      {...form}
      onSubmit={(event) => {
        event.preventDefault();
        void onSubmit();
      }}
      noValidate
    >
      {error && <Alert>{error}</Alert>}
      {children}
    </form>
  );
}

interface ActionsProps {
  /** The submit button's text (it says what is under way while busy). */
  submit: ReactNode;
  disabled?: boolean | undefined;
  /** Adds a second button that closes without submitting. */
  onCancel?: (() => void) | undefined;
  cancelLabel?: string;
}

/** The row under a form: its primary submit button, and Cancel where the form is in a dialog. */
export function FormActions({ submit, disabled, onCancel, cancelLabel = 'Cancel' }: ActionsProps) {
  return (
    <div className="actions">
      <button type="submit" className="button-primary" disabled={disabled}>
        {submit}
      </button>
      {onCancel && (
        <button type="button" onClick={() => onCancel()}>
          {cancelLabel}
        </button>
      )}
    </div>
  );
}
