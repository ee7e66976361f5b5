import { useState } from 'react';

import { ApiError, api } from '../api.ts';
import { NewPasswordFields, TextField } from '../components/fields.tsx';
import { Form, FormActions } from '../components/form.tsx';
import { asSentences, bindField, formErrorsFrom, useSubmission } from '../components/forms.ts';
import { Alert, Card } from '../components/page.tsx';
import { useSession } from '../session.tsx';
import { SsoActionButton } from '../components/sso-buttons.tsx';
import { beginSso, identityProviderName } from '../sso.ts';
import { sentence } from '../text.ts';
import type { LinkedIdentity, Me } from '../types.ts';

/** The server's FRESH_AUTHENTICATION_MINUTES: a sign-in this recent proves the person without their password. */
const FRESH_MINUTES = 15;
/** A minute short of it, so the form never offers what the server has just stopped accepting. */
const FRESH_MARGIN_MS = 60_000;

/** Until when this session may set a password without the current one (a recent single sign-on or sign-in link), or null. */
export function freshUntil(me: Pick<Me, 'authMethod' | 'authenticatedAt'>, now = Date.now()): Date | null {
  if ((me.authMethod !== 'sso' && me.authMethod !== 'link') || !me.authenticatedAt) return null;
  const until = Date.parse(me.authenticatedAt) + FRESH_MINUTES * 60_000 - FRESH_MARGIN_MS;
  return Number.isFinite(until) && until > now ? new Date(until) : null;
}

const time = (date: Date) => date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });

/** "Sign in again with Microsoft": fresh proof from the linked provider, back to the Account page. */
function ReauthenticateButton({ identity }: { identity: LinkedIdentity }) {
  const start = () =>
    beginSso(identity.provider === 'entra' ? 'entra' : 'oidc', {
      intent: 'reauthenticate',
      ...(identity.provider === 'entra' && identity.tenantId ? { tenant: identity.tenantId } : {}),
      returnTo: '/account?done=reauthenticated',
    });
  return <SsoActionButton start={start}>{`Sign in again with ${identityProviderName(identity)}`}</SsoActionButton>;
}

/**
 * Changing (or first setting) the password: with the current one, or within minutes of signing in
 * again with a linked provider (for people without a password, or who forgot it). The server ends
 * every other session and revokes every API token; the card says how many.
 */
export function PasswordCard({ identities, onChanged }: { identities: LinkedIdentity[] | undefined; onChanged: () => void }) {
  const { me, refresh } = useSession();
  const [currentPassword, setCurrentPassword] = useState('');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const { errors, setErrors, formRef, busy, attempt } = useSubmission();
  const [done, setDone] = useState<string>();
  // Set when the server says the recent sign-in no longer counts (the page stayed open too long).
  const [expired, setExpired] = useState(false);
  const fresh = expired ? null : freshUntil(me);
  const hasPassword = me.user.hasPassword;
  const needsCurrent = hasPassword && !fresh;
  const linked = identities?.[0];
  const title = hasPassword ? 'Change your password' : 'Set a password';

  async function submit() {
    setDone(undefined);
    const fields: Record<string, string> = {};
    if (needsCurrent && !currentPassword) fields.currentPassword = 'Enter your current password.';
    if (!password) fields.password = 'Enter the new password.';
    else if (confirm !== password) fields.confirm = 'The two passwords differ.';
    if (Object.keys(fields).length) return setErrors({ fields });
    await attempt(
      async () => {
        const result = await api.put<{ endedSessions: number; revokedTokens: number }>('/me/password', {
          ...(needsCurrent ? { currentPassword } : {}),
          password,
        });
        setCurrentPassword('');
        setPassword('');
        setConfirm('');
        const ended =
          result.endedSessions === 1 ? '1 other session was signed out' : `${result.endedSessions} other sessions were signed out`;
        const revoked = result.revokedTokens === 1 ? '1 API token was revoked' : `${result.revokedTokens} API tokens were revoked`;
        setDone(`Your password was ${hasPassword ? 'changed' : 'set'}. ${ended} and ${revoked}.`);
        onChanged();
        await refresh();
      },
      (err) => {
        if (err instanceof ApiError && err.code === 'reauthentication_required' && fresh) {
          setExpired(true);
          return { form: sentence(err.message), fields: {} };
        }
        return asSentences(formErrorsFrom(err, { currentPassword: 'currentPassword', password: 'password' }));
      },
    );
  }

  if (!hasPassword && !fresh) {
    return (
      <Card id="password" title={title}>
        {done && <Alert kind="success">{done}</Alert>}
        {errors.form && <Alert>{errors.form}</Alert>}
        <p>
          Your account has no password: you sign in {linked ? `with ${identityProviderName(linked)}` : 'with a sign-in link'}. To set one,
          first prove it is you by signing in again; then you have {FRESH_MINUTES} minutes to choose it.
        </p>
        {linked ? (
          <ReauthenticateButton identity={linked} />
        ) : (
          <p className="hint">
            Ask an instance operator for a sign-in link (<code>keyway admin link</code>) and open it.
          </p>
        )}
      </Card>
    );
  }

  return (
    <Card id="password" title={title}>
      <Form ref={formRef} onSubmit={submit} error={errors.form}>
        {done && <Alert kind="success">{done}</Alert>}
        {fresh && (
          <p className="hint">
            You signed in {me.authMethod === 'sso' ? 'with single sign-on' : 'with a sign-in link'} moments ago: until {time(fresh)} no
            current password is needed.
          </p>
        )}
        {needsCurrent && (
          <TextField
            label="Current password"
            {...bindField(errors, 'currentPassword', currentPassword, setCurrentPassword)}
            type="password"
            autoComplete="current-password"
          />
        )}
        <NewPasswordFields password={password} confirm={confirm} onPassword={setPassword} onConfirm={setConfirm} errors={errors.fields} />
        <p className="hint">
          Every other session of yours is signed out and every API token of yours is revoked: sign in again there, and create new tokens.
        </p>
        <FormActions submit={busy ? 'Saving…' : hasPassword ? 'Change password' : 'Set password'} disabled={busy} />
      </Form>
      {needsCurrent && linked && (
        <div className="hint-block">
          <p className="hint">
            Forgot your current password? Sign in again with {identityProviderName(linked)}; then you can set a new one without it.
          </p>
          <ReauthenticateButton identity={linked} />
        </div>
      )}
    </Card>
  );
}
