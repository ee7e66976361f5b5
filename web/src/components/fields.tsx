import { useId } from 'react';
import type { InputHTMLAttributes, ReactNode, Ref, SelectHTMLAttributes } from 'react';

interface Common {
  label: ReactNode;
  name: string;
  error?: string | undefined;
  hint?: ReactNode;
  /** A non-blocking warning shown under the input (e.g. an unusual issuer URL). */
  warning?: string | undefined;
}

function describedBy(...ids: (string | false | undefined)[]): string | undefined {
  const joined = ids.filter(Boolean).join(' ');
  return joined || undefined;
}

/**
 * The ids of a field's control and of the notes under it, and the attributes that tie them
 * together, so a screen reader reads the hint, the error and the warning with the control.
 */
function useField(id: string | undefined, name: string, { hint, error, warning }: Pick<Common, 'hint' | 'error' | 'warning'>) {
  const auto = useId();
  const controlId = id ?? `${auto}-${name}`;
  const hintId = hint ? `${controlId}-hint` : undefined;
  const errorId = error ? `${controlId}-error` : undefined;
  const warningId = warning ? `${controlId}-warning` : undefined;
  const control = { id: controlId, name, 'aria-invalid': error ? true : undefined, 'aria-describedby': describedBy(hintId, errorId, warningId) };
  return { control, hintId, errorId, warningId };
}

/** The hint, error and warning under a field; a warning gives way to an error. */
function FieldNotes({ hint, error, warning, hintId, errorId, warningId }: Pick<Common, 'hint' | 'error' | 'warning'> & { hintId?: string | undefined; errorId?: string | undefined; warningId?: string | undefined }) {
  return (
    <>
      {hint && (
        <p className="hint" id={hintId}>
          {hint}
        </p>
      )}
      {error && (
        <p className="field-error" id={errorId}>
          {error}
        </p>
      )}
      {warning && !error && (
        <p className="field-warning" id={warningId}>
          {warning}
        </p>
      )}
    </>
  );
}

type InputProps = Common & Omit<InputHTMLAttributes<HTMLInputElement>, 'name'> & { ref?: Ref<HTMLInputElement> };

/** `ref` reaches the input: secrets stay uncontrolled (in the DOM, not in React state) and are read at submit. */
export function TextField({ label, name, error, hint, warning, id, className, ref, ...input }: InputProps) {
  const { control, ...notes } = useField(id, name, { hint, error, warning });
  return (
    <div className={`field${className ? ` ${className}` : ''}`}>
      <label htmlFor={control.id}>{label}</label>
      <input ref={ref} {...control} {...input} />
      <FieldNotes hint={hint} error={error} warning={warning} {...notes} />
    </div>
  );
}

/**
 * A write-only secret (a token, a client secret): a password input without spell-checking, so the
 * browser neither shows it nor sends it to a spelling service. With `ref` it can stay uncontrolled.
 */
export function SecretField({ autoComplete = 'new-password', ...props }: Omit<InputProps, 'type' | 'spellCheck'>) {
  return <TextField type="password" autoComplete={autoComplete} spellCheck={false} {...props} />;
}

type SelectProps = Omit<Common, 'warning'> & Omit<SelectHTMLAttributes<HTMLSelectElement>, 'name'> & { children: ReactNode };

export function SelectField({ label, name, error, hint, id, children, ...select }: SelectProps) {
  const { control, ...notes } = useField(id, name, { hint, error });
  return (
    <div className="field">
      <label htmlFor={control.id}>{label}</label>
      <select {...control} {...select}>
        {children}
      </select>
      <FieldNotes hint={hint} error={error} {...notes} />
    </div>
  );
}

export function CheckboxField({ label, name, error, hint, id, ...input }: Omit<InputProps, 'warning'>) {
  const { control, ...notes } = useField(id, name, { hint, error });
  return (
    <div className="field field-check">
      <input type="checkbox" {...control} {...input} />
      <div>
        <label htmlFor={control.id}>{label}</label>
        <FieldNotes hint={hint} error={error} {...notes} />
      </div>
    </div>
  );
}
