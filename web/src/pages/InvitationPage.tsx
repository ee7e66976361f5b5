import { useEffect, useState } from 'react';

import { ApiError, api, messageOf, setCsrfToken } from '../api.ts';
import { FrontDoorCard, PasswordSignInForm } from '../components/front-door.tsx';
import { NewPasswordFields, TextField } from '../components/fields.tsx';
import { Form, FormActions } from '../components/form.tsx';
import { asSentences, bindField, formErrorsFrom, useSubmission } from '../components/forms.ts';
import { Alert, Loading, Time } from '../components/page.tsx';
import { SsoButtons } from '../components/sso-buttons.tsx';
import { Link, navigate } from '../router.tsx';
import type { SignOutOptions } from '../session.tsx';
import { sentence } from '../text.ts';
import type { InvitationPreview, Me, SsoProvider } from '../types.ts';
import { useApi } from '../use-api.ts';

export const INVITATION_PATH = '/invitations/accept';

// The invitation link carries its token in the fragment (#token=…), which browsers never send to
// servers, proxies or Referer headers. It is read once, as early as this module loads, and taken out
// of the address bar and history (as the sign-in link page does); the page keeps it in memory only,
// so signing out or in on this page does not lose it, and a reload asks for the link again.
let invitationToken: string | null = null;

function captureToken(): void {
  if (window.location.pathname !== INVITATION_PATH || !window.location.hash) return;
  const token = new URLSearchParams(window.location.hash.slice(1)).get('token');
  if (token) invitationToken = token;
  window.history.replaceState(null, '', window.location.pathname);
}
captureToken();

interface Props {
  /** The signed-in person (in an organization or not), or null when signed out. */
  me: Me | null;
  /** Re-reads GET /me after signing in or joining. */
  onSignedIn: () => Promise<void>;
  signOut: (options?: SignOutOptions) => Promise<void>;
}

type Preview = { status: 'loading' } | { status: 'ok'; invitation: InvitationPreview } | { status: 'failed'; message: string };

/**
 * Accepting an invitation: who it is for and to which organization, then the way in that fits —
 * Accept when signed in as the invited address; Sign out when signed in as someone else; sign in
 * (password or single sign-on) or create the account when signed out.
 */
export function InvitationPage({ me, onSignedIn, signOut }: Props) {
  const [token] = useState(() => {
    captureToken();
    return invitationToken;
  });
  const [preview, setPreview] = useState<Preview>({ status: 'loading' });

  useEffect(() => {
    document.title = 'Invitation · Keyway';
    if (!token) return;
    let live = true;
    api.post<InvitationPreview>('/invitations/preview', { token }).then(
      (invitation) => live && setPreview({ status: 'ok', invitation }),
      (err: unknown) => live && setPreview({ status: 'failed', message: sentence(messageOf(err)) }),
    );
    return () => {
      live = false;
    };
  }, [token]);

  return (
    <FrontDoorCard wide>
      {!token ? (
        <>
          <h1>Invitation</h1>
          <Alert kind="info">
            This page needs the invitation link you were sent, and it was opened without one (or reloaded). Open the link from your
            invitation again.
          </Alert>
          <p>
            <Link to="/">Go to Keyway</Link>
          </p>
        </>
      ) : preview.status === 'loading' ? (
        <>
          <h1>Invitation</h1>
          <Loading label="Reading the invitation…" />
        </>
      ) : preview.status === 'failed' ? (
        <>
          <h1>This invitation cannot be used</h1>
          <Alert>{preview.message}</Alert>
          <p>
            <Link to="/">Go to Keyway</Link>
          </p>
        </>
      ) : (
        <Invitation token={token} invitation={preview.invitation} me={me} onSignedIn={onSignedIn} signOut={signOut} />
      )}
    </FrontDoorCard>
  );
}

function Invitation({ token, invitation, me, onSignedIn, signOut }: Props & { token: string; invitation: InvitationPreview }) {
  const organization = invitation.organization.name;
  const asWho = invitation.role === 'admin' ? 'an admin' : 'a member';
  const mine = me !== null && me.user.email.toLowerCase() === invitation.email.toLowerCase();
  return (
    <>
      <h1>Join {organization}</h1>
      <p>
        You are invited to <strong>{organization}</strong> on Keyway as {asWho}, with the address <strong>{invitation.email}</strong>. The
        invitation works once, until <Time value={invitation.expiresAt} />.
      </p>
      {me === null ? (
        <SignedOut token={token} invitation={invitation} onSignedIn={onSignedIn} />
      ) : mine ? (
        <AcceptAsMe token={token} organization={organization} onSignedIn={onSignedIn} />
      ) : (
        <>
          <Alert kind="warning">
            This invitation is for {invitation.email}, but you are signed in as {me.user.email}. Sign out, then sign in as{' '}
            {invitation.email} (or create that account) to accept it.
          </Alert>
          <div className="actions">
            <button
              type="button"
              className="button-primary"
              onClick={() => void signOut({ stay: true, notice: `Signed out. Sign in as ${invitation.email} to accept the invitation.` })}
            >
              Sign out
            </button>
            <Link to="/">Not now</Link>
          </div>
        </>
      )}
    </>
  );
}

function AcceptAsMe({ token, organization, onSignedIn }: { token: string; organization: string; onSignedIn: () => Promise<void> }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [joinedElsewhere, setJoinedElsewhere] = useState(false);

  async function accept() {
    setBusy(true);
    setError(undefined);
    try {
      const accepted = await api.post<{ organizationId: string; switched: boolean }>('/invitations/accept', { token });
      await onSignedIn();
      if (accepted.switched) navigate('/', { replace: true });
      else setJoinedElsewhere(true);
    } catch (err) {
      setError(sentence(messageOf(err)));
      setBusy(false);
    }
  }

  if (joinedElsewhere) {
    return (
      <>
        <Alert kind="success">
          You joined {organization}. It lets its members in only through single sign-on: to work there, sign out and use &ldquo;Sign in with
          Microsoft&rdquo; (or its own sign-in button).
        </Alert>
        <p>
          <Link to="/">Continue to Keyway</Link>
        </p>
      </>
    );
  }
  return (
    <>
      {error && <Alert>{error}</Alert>}
      <div className="actions">
        <button type="button" className="button-primary" onClick={() => void accept()} disabled={busy}>
          {busy ? 'Joining…' : `Accept and join ${organization}`}
        </button>
        <Link to="/">Not now</Link>
      </div>
    </>
  );
}

function SignedOut({ token, invitation, onSignedIn }: { token: string; invitation: InvitationPreview; onSignedIn: () => Promise<void> }) {
  const providers = useApi<{ providers: SsoProvider[] }>('/auth/sso/providers').data?.providers ?? [];
  return (
    <>
      <section aria-labelledby="invitation-sign-in">
        <h2 id="invitation-sign-in">Have a Keyway account? Sign in to accept</h2>
        {providers.length > 0 && (
          <>
            <SsoButtons providers={providers} returnTo="/" invitationToken={token} suggestedEmail={invitation.email} />
            <p className="divider">
              <span>or with your password</span>
            </p>
          </>
        )}
        <PasswordSignInForm initialEmail={invitation.email} onSignedIn={onSignedIn} label="Sign in with your Keyway account" />
      </section>
      <section aria-labelledby="invitation-register">
        <h2 id="invitation-register">New to Keyway? Create your account</h2>
        <Register token={token} email={invitation.email} onSignedIn={onSignedIn} />
      </section>
    </>
  );
}

function Register({ token, email, onSignedIn }: { token: string; email: string; onSignedIn: () => Promise<void> }) {
  const [displayName, setDisplayName] = useState('');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const { errors, setErrors, formRef, busy, attempt } = useSubmission();

  async function submit() {
    const fields: Record<string, string> = {};
    if (!displayName.trim()) fields.displayName = 'Enter your name as your colleagues know it.';
    if (!password) fields.newPassword = 'Choose a password.';
    else if (confirm !== password) fields.confirm = 'The two passwords differ.';
    if (Object.keys(fields).length) return setErrors({ fields });
    await attempt(
      async () => {
        const { csrfToken } = await api.post<{ csrfToken: string }>('/invitations/register', {
          token,
          displayName: displayName.trim(),
          password,
        });
        setCsrfToken(csrfToken);
        await onSignedIn();
        navigate('/', { replace: true });
      },
      (err) =>
        err instanceof ApiError && err.code === 'account_exists'
          ? { form: `${sentence(err.message)} Use "Sign in" above.`, fields: {} }
          : asSentences(formErrorsFrom(err, { displayName: 'displayName', password: 'newPassword' })),
      { untilGone: true },
    );
  }

  return (
    <Form ref={formRef} onSubmit={submit} error={errors.form} aria-label="Create your account">
      <p className="hint">Your account&rsquo;s address is {email}.</p>
      <TextField label="Your name" {...bindField(errors, 'displayName', displayName, setDisplayName)} autoComplete="name" maxLength={200} />
      <NewPasswordFields
        password={password}
        confirm={confirm}
        onPassword={setPassword}
        onConfirm={setConfirm}
        errors={{ password: errors.fields.newPassword, confirm: errors.fields.confirm }}
        name="newPassword"
        label="Choose a password"
        confirmLabel="Repeat the password"
      />
      <FormActions submit={busy ? 'Creating your account…' : 'Create account and join'} disabled={busy} />
    </Form>
  );
}
