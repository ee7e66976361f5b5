import { useState } from 'react';
import type { ReactNode } from 'react';
import { api, setCsrfToken } from '../api.ts';
import { TextField } from './fields.tsx';
import { Form, FormActions } from './form.tsx';
import { asSentences, bindField, formErrorsFrom, useSubmission } from './forms.ts';

/** The card the pages before the app stand in: signing in, choosing an organization, an invitation. */
export function FrontDoorCard({ wide, children }: { wide?: boolean; children: ReactNode }) {
  return (
    <main className="sign-in" id="main">
      <div className={`card sign-in-card${wide ? ' sign-in-card-wide' : ''}`}>
        <p className="brand brand-large">
          <img src="/favicon.svg" alt="" width="32" height="32" />
          Keyway
        </p>
        {children}
      </div>
    </main>
  );
}

interface PasswordSignInProps {
  onSignedIn: () => Promise<void>;
  initialEmail?: string;
  /** The form's accessible name, where the page has other forms. */
  label?: string;
  /** Told at each submit (the sign-in page hides its notice then). */
  onAttempt?: () => void;
}

/** Email and password → POST /auth/sign-in; the server's refusal (wrong password, single sign-on required) shows above. */
export function PasswordSignInForm({ onSignedIn, initialEmail = '', label, onAttempt }: PasswordSignInProps) {
  const [email, setEmail] = useState(initialEmail);
  const [password, setPassword] = useState('');
  const { errors, setErrors, formRef, busy, attempt } = useSubmission();

  async function submit() {
    onAttempt?.();
    const fields: Record<string, string> = {};
    if (!email.trim()) fields.email = 'Enter your email address.';
    if (!password) fields.password = 'Enter your password.';
    if (Object.keys(fields).length) return setErrors({ fields });
    await attempt(
      async () => {
        const { csrfToken } = await api.post<{ csrfToken: string }>('/auth/sign-in', { email: email.trim(), password });
        setCsrfToken(csrfToken);
        setPassword('');
        await onSignedIn();
      },
      (err) => asSentences(formErrorsFrom(err, { email: 'email', password: 'password' })),
      { untilGone: true },
    );
  }

  return (
    <Form ref={formRef} onSubmit={submit} error={errors.form} aria-label={label}>
      <TextField label="Email" {...bindField(errors, 'email', email, setEmail)} type="email" autoComplete="username" required />
      <TextField
        label="Password"
        {...bindField(errors, 'password', password, setPassword)}
        type="password"
        autoComplete="current-password"
        required
      />
      <FormActions submit={busy ? 'Signing in…' : 'Sign in'} disabled={busy} />
    </Form>
  );
}
