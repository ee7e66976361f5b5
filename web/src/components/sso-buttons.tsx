import { useRef, useState } from 'react';

import { ApiError, messageOf } from '../api.ts';
import { beginSso, providerLabel } from '../sso.ts';
import { sentence } from '../text.ts';
import type { SsoProvider } from '../types.ts';
import { TextField } from './fields.tsx';
import { Form } from './form.tsx';
import { NO_ERRORS, asSentences, bindField, formErrorsFrom, useFormErrors } from './forms.ts';
import { Alert } from './page.tsx';

interface Props {
  providers: SsoProvider[];
  /** Where the provider's callback sends the browser on success. */
  returnTo: string;
  /** Accept this invitation with the sign-in: the server finds the tenant from the invited address. */
  invitationToken?: string | undefined;
  /** Prefills the work email step. */
  suggestedEmail?: string | undefined;
}

/**
 * "Sign in with Microsoft" (and the OIDC provider's button). When Keyway cannot tell the Entra tenant
 * by itself (`needsEmail`, or begin answers email_needed) it asks for the work email first.
 */
export function SsoButtons({ providers, returnTo, invitationToken, suggestedEmail }: Props) {
  const [asking, setAsking] = useState<SsoProvider>();
  const [email, setEmail] = useState(suggestedEmail ?? '');
  const [busy, setBusy] = useState<SsoProvider['id']>();
  const { errors, setErrors, formRef } = useFormErrors();
  const buttons = useRef(new Map<SsoProvider['id'], HTMLButtonElement>());

  async function begin(provider: SsoProvider, withEmail?: string) {
    setBusy(provider.id);
    setErrors(NO_ERRORS);
    try {
      await beginSso(provider.id, {
        intent: 'sign-in',
        returnTo,
        ...(invitationToken ? { invitationToken } : {}),
        ...(withEmail ? { email: withEmail } : {}),
      });
    } catch (err) {
      setBusy(undefined);
      if (err instanceof ApiError && err.code === 'email_needed' && !withEmail) {
        // Keyway needs to know which organization's tenant: ask, and say why.
        setAsking(provider);
        return;
      }
      setErrors(asSentences(formErrorsFrom(err, withEmail !== undefined ? { email: 'email' } : {})));
    }
  }

  function start(provider: SsoProvider) {
    if (provider.needsEmail && !invitationToken) {
      setErrors(NO_ERRORS);
      setAsking(provider);
      return;
    }
    void begin(provider);
  }

  async function submitEmail() {
    if (!asking) return;
    if (!email.trim()) return setErrors({ fields: { email: 'Enter your work email address, like name@example.com.' } });
    await begin(asking, email.trim());
  }

  if (asking) {
    const label = providerLabel(asking);
    return (
      <Form ref={formRef} onSubmit={submitEmail} error={errors.form} aria-label={`Sign in with ${label}`}>
        <TextField
          label="Work email"
          {...bindField(errors, 'email', email, setEmail)}
          type="email"
          autoComplete="username"
          autoFocus
          hint={`The address you sign in to ${label} with: Keyway uses it to find your organization.`}
        />
        <div className="actions">
          <button type="submit" className="button-primary" disabled={busy !== undefined}>
            {busy ? 'Going to the sign-in page…' : `Continue with ${label}`}
          </button>
          <button
            type="button"
            onClick={() => {
              const back = asking.id;
              setAsking(undefined);
              setErrors(NO_ERRORS);
              // Back to the button that asked, once it is rendered again.
              requestAnimationFrame(() => buttons.current.get(back)?.focus());
            }}
          >
            Back
          </button>
        </div>
      </Form>
    );
  }

  return (
    <div className="sso-buttons">
      {errors.form && <Alert>{errors.form}</Alert>}
      {providers.map((provider) => (
        <button
          key={provider.id}
          ref={(button) => {
            if (button) buttons.current.set(provider.id, button);
            else buttons.current.delete(provider.id);
          }}
          type="button"
          className="button-sso"
          onClick={() => start(provider)}
          disabled={busy !== undefined}
        >
          {busy === provider.id ? 'Going to the sign-in page…' : `Sign in with ${providerLabel(provider)}`}
        </button>
      ))}
    </div>
  );
}

/**
 * A button that leaves for the identity provider (sign in again, link an account): busy until the
 * page goes, the server's refusal shown above it if it does not.
 */
export function SsoActionButton({ children, start }: { children: string; start: () => Promise<void> }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  async function go() {
    setBusy(true);
    setError(undefined);
    try {
      await start();
    } catch (err) {
      setError(sentence(messageOf(err)));
      setBusy(false);
    }
  }
  return (
    <>
      {error && <Alert>{error}</Alert>}
      <button type="button" onClick={() => void go()} disabled={busy}>
        {busy ? 'Going to the sign-in page…' : children}
      </button>
    </>
  );
}
