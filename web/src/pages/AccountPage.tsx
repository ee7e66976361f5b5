import { useState } from 'react';
import type { FormEvent } from 'react';
import { api } from '../api.ts';
import { Detail } from '../components/details.tsx';
import { TextField } from '../components/fields.tsx';
import { Form, FormActions } from '../components/form.tsx';
import { NO_ERRORS, formErrorsFrom, useFormErrors } from '../components/forms.ts';
import { Alert, Card, PageHeading } from '../components/page.tsx';
import { useSession } from '../session.tsx';

export function AccountPage() {
  const { me } = useSession();
  return (
    <>
      <PageHeading title="Account" />
      <dl className="details">
        <Detail term="Name">{me.user.displayName}</Detail>
        <Detail term="Email">{me.user.email}</Detail>
        <Detail term="Organization">
          {me.organization.name} <span className="muted">({me.organization.slug})</span>
        </Detail>
        <Detail term="Role">{me.role}</Detail>
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
  const { errors, setErrors, formRef } = useFormErrors();
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);

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
    <Card id="password" title="Set your password">
      <Form ref={formRef} onSubmit={submit} error={errors.form}>
        {done && <Alert kind="success">Your password was set.</Alert>}
        <div className="field-row">
          <TextField label="New password" name="password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} error={errors.fields.password} hint="At least 12 characters." />
          <TextField label="Repeat the new password" name="confirm" type="password" autoComplete="new-password" value={confirm} onChange={(e) => setConfirm(e.target.value)} error={errors.fields.confirm} />
        </div>
        <FormActions submit={busy ? 'Saving…' : 'Set password'} disabled={busy} />
      </Form>
    </Card>
  );
}
