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

type InputProps = Common & Omit<InputHTMLAttributes<HTMLInputElement>, 'name'> & { ref?: Ref<HTMLInputElement> };

/** `ref` reaches the input: secrets stay uncontrolled (in the DOM, not in React state) and are read at submit. */
export function TextField({ label, name, error, hint, warning, id, className, ref, ...input }: InputProps) {
  const auto = useId();
  const inputId = id ?? `${auto}-${name}`;
  const hintId = hint ? `${inputId}-hint` : undefined;
  const errorId = error ? `${inputId}-error` : undefined;
  const warningId = warning ? `${inputId}-warning` : undefined;
  return (
    <div className={`field${className ? ` ${className}` : ''}`}>
      <label htmlFor={inputId}>{label}</label>
      <input ref={ref} id={inputId} name={name} aria-invalid={error ? true : undefined} aria-describedby={describedBy(hintId, errorId, warningId)} {...input} />
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
    </div>
  );
}

type SelectProps = Common & Omit<SelectHTMLAttributes<HTMLSelectElement>, 'name'> & { children: ReactNode };

export function SelectField({ label, name, error, hint, id, children, ...select }: SelectProps) {
  const auto = useId();
  const selectId = id ?? `${auto}-${name}`;
  const hintId = hint ? `${selectId}-hint` : undefined;
  const errorId = error ? `${selectId}-error` : undefined;
  return (
    <div className="field">
      <label htmlFor={selectId}>{label}</label>
      <select id={selectId} name={name} aria-invalid={error ? true : undefined} aria-describedby={describedBy(hintId, errorId)} {...select}>
        {children}
      </select>
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
    </div>
  );
}

export function CheckboxField({ label, name, error, hint, id, ...input }: InputProps) {
  const auto = useId();
  const inputId = id ?? `${auto}-${name}`;
  const hintId = hint ? `${inputId}-hint` : undefined;
  const errorId = error ? `${inputId}-error` : undefined;
  return (
    <div className="field field-check">
      <input type="checkbox" id={inputId} name={name} aria-invalid={error ? true : undefined} aria-describedby={describedBy(hintId, errorId)} {...input} />
      <div>
        <label htmlFor={inputId}>{label}</label>
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
      </div>
    </div>
  );
}
