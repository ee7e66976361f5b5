import { useRef, useState } from 'react';
import type { FormEvent } from 'react';
import { api } from '../api.ts';
import { TextField } from '../components/fields.tsx';
import { NO_ERRORS, formErrorsFrom, useFocusFirstError } from '../components/forms.ts';
import type { FormErrors } from '../components/forms.ts';
import { Alert, PageHeading } from '../components/page.tsx';
import { useSession } from '../session.tsx';

export function AccountPage() {
  const { me } = useSession();
  return (
    <>
      <PageHeading title="Account" />
      <dl className="details">
        <div>
          <dt>Name</dt>
          <dd>{me.user.displayName}</dd>
        </div>
        <div>
          <dt>Email</dt>
          <dd>{me.user.email}</dd>
        </div>
        <div>
          <dt>Organization</dt>
          <dd>
            {me.organization.name} <span className="muted">({me.organization.slug})</span>
          </dd>
        </div>
        <div>
          <dt>Role</dt>
          <dd>{me.role}</dd>
        </div>
      </dl>
      {me.organizations.length > 1 && (
        <>
          <h2>Your organizations</h2>
          <ul>
            {me.organizations.map((org) => (
              <li key={org.id}>
                {org.name} — {org.role}
                {org.id === me.organization.id && ' (current)'}
              </li>
            ))}
          </ul>
        </>
      )}
      <PasswordForm />
    </>
  );
}

function PasswordForm() {
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);
  useFocusFirstError(formRef, errors);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setDone(false);
    const fields: Record<string, string> = {};
    if (password.length < 12) fields.password = 'Use at least 12 characters.';
    else if (confirm !== password) fields.confirm = 'The two passwords differ.';
    if (Object.keys(fields).length) return setErrors({ fields });
    setBusy(true);
    setErrors(NO_ERRORS);
    try {
      await api.put('/me/password', { password });
      setPassword('');
      setConfirm('');
      setDone(true);
    } catch (err) {
      setErrors(formErrorsFrom(err, { password: 'password' }));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="password" className="card">
      <h2 id="password">Set your password</h2>
      <form ref={formRef} onSubmit={(e) => void submit(e)} noValidate>
        {errors.form && <Alert>{errors.form}</Alert>}
        {done && <Alert kind="success">Your password was set.</Alert>}
        <div className="field-row">
          <TextField label="New password" name="password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} error={errors.fields.password} hint="At least 12 characters." />
          <TextField label="Repeat the new password" name="confirm" type="password" autoComplete="new-password" value={confirm} onChange={(e) => setConfirm(e.target.value)} error={errors.fields.confirm} />
        </div>
        <div className="actions">
          <button type="submit" className="button-primary" disabled={busy}>
            {busy ? 'Saving…' : 'Set password'}
          </button>
        </div>
      </form>
    </section>
  );
}
