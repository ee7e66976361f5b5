import { useEffect, useState } from 'react';
import type { FormEvent } from 'react';
import { api, setCsrfToken } from '../api.ts';
import { TextField } from '../components/fields.tsx';
import { Form, FormActions } from '../components/form.tsx';
import { NO_ERRORS, formErrorsFrom, useFormErrors } from '../components/forms.ts';
import { Alert } from '../components/page.tsx';

export function SignInPage({ notice, onSignedIn }: { notice?: string | undefined; onSignedIn: () => Promise<void> }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const { errors, setErrors, formRef } = useFormErrors();
  const [busy, setBusy] = useState(false);
  const [attempted, setAttempted] = useState(false);

  useEffect(() => {
    document.title = 'Sign in · Keyway';
  }, []);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setAttempted(true);
    const fields: Record<string, string> = {};
    if (!email.trim()) fields.email = 'Enter your email address.';
    if (!password) fields.password = 'Enter your password.';
    if (Object.keys(fields).length) return setErrors({ fields });
    setBusy(true);
    setErrors(NO_ERRORS);
    try {
      const { csrfToken } = await api.post<{ csrfToken: string }>('/auth/sign-in', { email: email.trim(), password });
      setCsrfToken(csrfToken);
      setPassword('');
      await onSignedIn();
    } catch (err) {
      setErrors(formErrorsFrom(err, { email: 'email', password: 'password' }));
      setBusy(false);
    }
  }

  return (
    <main className="sign-in" id="main">
      <div className="card sign-in-card">
        <p className="brand brand-large">
          <img src="/favicon.svg" alt="" width="32" height="32" />
          Keyway
        </p>
        <h1>Sign in</h1>
        {notice && !attempted && <Alert kind="info">{notice}</Alert>}
        {errors.form && <Alert>{errors.form}</Alert>}
        <Form ref={formRef} onSubmit={submit}>
          <TextField label="Email" name="email" type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} error={errors.fields.email} required />
          <TextField
            label="Password"
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            error={errors.fields.password}
            required
          />
          <FormActions submit={busy ? 'Signing in…' : 'Sign in'} disabled={busy} />
        </Form>
        <p className="hint sign-in-help">
          First time here? <code>keyway start</code> prints a one-time admin sign-in link; open it, then set a password under Account.
        </p>
      </div>
    </main>
  );
}
