import { useId, useLayoutEffect, useRef, useState } from 'react';
import type { ReactNode } from 'react';
import { messageOf } from '../api.ts';
import { Alert } from './page.tsx';
import type { Notice } from './page.tsx';

interface DialogProps {
  title: string;
  onClose: () => void;
  children: ReactNode;
  /** Wider dialogs for forms with several sections. */
  wide?: boolean;
  /** Accessible description: the id of an element inside the dialog. */
  describedBy?: string;
}

/**
 * A modal on the native <dialog>: showModal() makes the rest of the page inert and traps focus,
 * Escape closes it. Mount it to open, unmount it to close; focus returns to whatever opened it.
 */
export function Dialog({ title, onClose, children, wide, describedBy }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const closeRef = useRef(onClose);
  closeRef.current = onClose;

  useLayoutEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    dialog.showModal();
    const first =
      dialog.querySelector<HTMLElement>('[data-autofocus]') ??
      dialog.querySelector<HTMLElement>(
        'input:not([type=hidden]):not([readonly]):not([disabled]), select:not([disabled]), textarea:not([readonly])',
      ) ??
      dialog.querySelector<HTMLElement>('.dialog-body button');
    first?.focus();
    const onCancel = (event: Event) => {
      event.preventDefault();
      closeRef.current();
    };
    dialog.addEventListener('cancel', onCancel);
    return () => {
      dialog.removeEventListener('cancel', onCancel);
      if (dialog.open) dialog.close();
      if (opener?.isConnected) opener.focus();
    };
  }, []);

  return (
    <dialog ref={ref} className={`dialog${wide ? ' dialog-wide' : ''}`} aria-labelledby={titleId} aria-describedby={describedBy}>
      <div className="dialog-header">
        <h2 id={titleId}>{title}</h2>
        <button type="button" className="button-ghost dialog-close" aria-label="Close dialog" onClick={() => onClose()}>
          <span aria-hidden="true">×</span>
        </button>
      </div>
      <div className="dialog-body">{children}</div>
    </dialog>
  );
}

interface ConfirmProps {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  /** Runs the action; a thrown error is shown in the dialog, which then stays open. */
  onConfirm: () => Promise<void>;
  onClose: () => void;
  danger?: boolean;
}

export function ConfirmDialog({ title, children, confirmLabel, onConfirm, onClose, danger = true }: ConfirmProps) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const bodyId = useId();
  async function confirm() {
    setBusy(true);
    setError(undefined);
    try {
      await onConfirm();
      onClose();
    } catch (err) {
      setError(messageOf(err));
      setBusy(false);
    }
  }
  return (
    <Dialog title={title} onClose={onClose} describedBy={bodyId}>
      <div id={bodyId}>{children}</div>
      {error && <Alert>{error}</Alert>}
      <div className="actions">
        <button type="button" className={danger ? 'button-danger' : 'button-primary'} onClick={() => void confirm()} disabled={busy}>
          {busy ? 'Working…' : confirmLabel}
        </button>
        <button type="button" onClick={onClose} data-autofocus>
          Cancel
        </button>
      </div>
    </Dialog>
  );
}

/** What a ConfirmDialog asks about one item: its title, body and button, and the action it runs. */
export interface Confirmation {
  title: string;
  confirmLabel: string;
  danger?: boolean;
  /** What happens, shown above the buttons (the dialog's accessible description). */
  body: ReactNode;
  /** Runs the action; a thrown error is shown in the dialog, which then stays open. */
  run: () => Promise<void>;
}

/**
 * The item a confirmation is pending for, and its dialog: `ask(item)` opens the ConfirmDialog that
 * `confirmation(item)` describes; it closes on Cancel, Escape or once `run` has succeeded. Render
 * `dialog` where the ConfirmDialog goes (nothing while no item is pending).
 */
export function useConfirm<T>(confirmation: (item: T) => Confirmation): { ask: (item: T) => void; dialog: ReactNode } {
  const [pending, setPending] = useState<{ item: T }>();
  const asked = pending && confirmation(pending.item);
  return {
    ask: (item) => setPending({ item }),
    dialog: asked && (
      <ConfirmDialog
        title={asked.title}
        confirmLabel={asked.confirmLabel}
        danger={asked.danger}
        onConfirm={asked.run}
        onClose={() => setPending(undefined)}
      >
        {asked.body}
      </ConfirmDialog>
    ),
  };
}

/**
 * The onClose of a dialog that closes with what it saved, or with nothing: `close` it, and after a
 * save show `notice(result)` and run `after` (reload what changed).
 */
export function closeWithNotice<R>(
  close: () => void,
  setNotice: (notice: Notice) => void,
  notice: (result: NoInfer<R>) => Notice,
  after: (result: R) => void,
) {
  return (result?: R) => {
    close();
    if (result) {
      setNotice(notice(result));
      after(result);
    }
  };
}

/** The notice of a save whose result says what it did in its message. */
export function savedMessage(result: { message: string }): Notice {
  return { kind: 'success', text: result.message };
}
