import { useId } from 'react';
import type { InputHTMLAttributes, ReactNode, Ref, SelectHTMLAttributes, TextareaHTMLAttributes } from 'react';

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
  const control = {
    id: controlId,
    name,
    'aria-invalid': error ? true : undefined,
    'aria-describedby': describedBy(hintId, errorId, warningId),
  };
  return { control, hintId, errorId, warningId };
}

/** An error under a field, or under a group of fields (a fieldset whose aria-describedby names `id`). */
export function FieldError({ id, error }: { id?: string | undefined; error?: string | undefined }) {
  return error ? (
    <p className="field-error" id={id}>
      {error}
    </p>
  ) : null;
}

/** The hint, error and warning under a field; a warning gives way to an error. */
function FieldNotes({
  hint,
  error,
  warning,
  hintId,
  errorId,
  warningId,
}: Pick<Common, 'hint' | 'error' | 'warning'> & {
  hintId?: string | undefined;
  errorId?: string | undefined;
  warningId?: string | undefined;
}) {
  return (
    <>
      {hint && (
        <p className="hint" id={hintId}>
          {hint}
        </p>
      )}
      <FieldError id={errorId} error={error} />
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

/**
 * A name or address that belongs to another system (a host, an Azure DevOps organization, a client
 * ID): the browser neither autofills it from what the user typed elsewhere nor marks it misspelt.
 */
export function IdentifierField(props: Omit<InputProps, 'autoComplete' | 'spellCheck'>) {
  return <TextField autoComplete="off" spellCheck={false} {...props} />;
}

interface ChoiceProps<T extends string> {
  /** The radio group's name. */
  name: string;
  chosen: T;
  onChoose: (value: T) => void;
  /** Each option's label, with a hint saying what choosing it means. */
  options: readonly { value: T; label: ReactNode; hint: ReactNode }[];
}

/** The radio options of a fieldset.choice (which gives them their legend and their error). */
export function ChoiceOptions<T extends string>({ name, chosen, onChoose, options }: ChoiceProps<T>) {
  return options.map(({ value, label, hint }) => (
    <label className="choice-option" key={value}>
      <input type="radio" name={name} value={value} checked={chosen === value} onChange={() => onChoose(value)} />
      <span>
        {label}
        <span className="hint">{hint}</span>
      </span>
    </label>
  ));
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

type TextAreaProps = Omit<Common, 'warning'> & Omit<TextareaHTMLAttributes<HTMLTextAreaElement>, 'name'>;

/** Several lines of text (a list, one value a line). */
export function TextAreaField({ label, name, error, hint, id, className, ...textarea }: TextAreaProps) {
  const { control, ...notes } = useField(id, name, { hint, error });
  return (
    <div className="field">
      <label htmlFor={control.id}>{label}</label>
      <textarea className={className} {...control} {...textarea} />
      <FieldNotes hint={hint} error={error} {...notes} />
    </div>
  );
}

interface NewPasswordProps {
  password: string;
  confirm: string;
  onPassword: (value: string) => void;
  onConfirm: (value: string) => void;
  errors: { password?: string | undefined; confirm?: string | undefined };
  /** The field name the form's errors use for the password (the server's own is `password`). */
  name?: string;
  label?: string;
  confirmLabel?: string;
}

/** A new password and the same again; the hint says what the server's policy (zxcvbn) asks for. */
export function NewPasswordFields({
  password,
  confirm,
  onPassword,
  onConfirm,
  errors,
  name = 'password',
  label = 'New password',
  confirmLabel = 'Repeat the new password',
}: NewPasswordProps) {
  return (
    <div className="field-row">
      <TextField
        label={label}
        name={name}
        type="password"
        autoComplete="new-password"
        value={password}
        onChange={(e) => onPassword(e.target.value)}
        error={errors.password}
        hint="At least 12 characters and not guessable: a few unrelated words work well. Keyway refuses common and easily guessed passwords."
      />
      <TextField
        label={confirmLabel}
        name="confirm"
        type="password"
        autoComplete="new-password"
        value={confirm}
        onChange={(e) => onConfirm(e.target.value)}
        error={errors.confirm}
      />
    </div>
  );
}
