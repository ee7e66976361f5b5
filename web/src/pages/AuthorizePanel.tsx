import { useEffect, useId, useRef, useState } from 'react';

import { api } from '../api.ts';
import { CopyField } from '../components/copy.tsx';
import { IdentifierField, SecretField, TextField } from '../components/fields.tsx';
import { Form, FormActions } from '../components/form.tsx';
import { NO_ERRORS, asSentences, bindField, formErrorsFrom, useFormErrors } from '../components/forms.ts';
import { Alert, StatusText } from '../components/page.tsx';
import { patAad, sealForRunner } from '../sealing.ts';
import { useSession } from '../session.tsx';
import { sentence } from '../text.ts';
import type { AuthenticationOffers, AuthorizationMessage, PatOffer, Runner, StoredPat } from '../types.ts';

// "Authorize" (journey 2): the choices the admin enabled for a host. Connect runs the OAuth flow in a
// popup whose callback page posts the outcome back here; a PAT is sealed in this browser to the
// runner's key, so neither the token nor anything usable reaches the management plane in clear.

// A full-page Connect comes back with only a code (?keyway_error=…): what each one means.
const CALLBACK_CODES: Record<string, string> = {
  consent_denied: 'You declined the consent prompt, so nothing was connected. Choose Connect again and accept to continue.',
  oauth_blocked:
    'The Azure DevOps organization does not allow third-party applications via OAuth. An organization admin can turn on "Third-party application access via OAuth"; until then, provide a Personal Access Token.',
  session_mismatch: 'The sign-in was started in another browser session. Start Connect again from this page.',
  expired_state: 'The sign-in took too long. Start Connect again.',
  unknown_state: 'This sign-in is unknown, was already used, or expired. Start Connect again.',
  missing_state: 'The sign-in response was incomplete. Start Connect again.',
  callback_mismatch:
    'The sign-in response arrived at the wrong address, so nothing was stored. Start Connect again, and tell an admin if it keeps happening.',
  issuer_mismatch: 'The sign-in response came from an unexpected issuer, so nothing was stored. Tell an admin.',
  integration_gone: 'Repository access for this host was removed during sign-in. Ask an admin.',
  id_token_invalid: 'The sign-in response failed validation, so nothing was stored. Try again, and tell an admin if it keeps happening.',
};

export function describeCallbackCode(code: string | null): string {
  return (
    (code && CALLBACK_CODES[code]) || `Connect did not finish${code ? ` (${code})` : ''}. Try again, or provide a Personal Access Token.`
  );
}

function isAuthorizationMessage(data: unknown): data is AuthorizationMessage {
  return (
    typeof data === 'object' &&
    data !== null &&
    (data as { type?: unknown }).type === 'keyway:authorization' &&
    typeof (data as { ok?: unknown }).ok === 'boolean'
  );
}

function withDisplay(authUrl: string, display: 'popup' | 'page'): string {
  const url = new URL(authUrl, window.location.origin);
  url.searchParams.set('display', display);
  return url.toString();
}

interface PanelProps {
  offers: AuthenticationOffers;
  /** The Azure DevOps organization (collection on Server) a PAT is for, when the page knows it. */
  organization?: string | undefined;
  /** Why authorization is needed, shown first (e.g. "your token expired"). */
  reason?: string | undefined;
  /** Called once the user is authorized, with what to tell them. */
  onAuthorized: (message: string) => void;
  /** Heading level of the panel's title (h2 on a page, h3 inside a section or dialog). */
  level?: 2 | 3;
  title?: string;
}

export function AuthorizePanel({ offers, organization, reason, onAuthorized, level = 2, title }: PanelProps) {
  const headingId = useId();
  const Heading = level === 2 ? 'h2' : 'h3';
  const Sub = level === 2 ? 'h3' : 'h4';
  const none = !offers.supportsOauth2 && !offers.supportsPat;
  return (
    <section className="card authorize" aria-labelledby={headingId}>
      <Heading id={headingId}>{title ?? `Authorize ${offers.host}`}</Heading>
      {reason && <p>{sentence(reason)}</p>}
      {none ? (
        <Alert kind="warning">
          No way to authorize {offers.host} is enabled on this runner. Ask an admin to enable Entra ID OAuth or Personal Access Tokens under
          Runners → Configure repository access.
        </Alert>
      ) : (
        <p className="muted">
          Choose how Keyway reaches {offers.host} for you. You do this once; the runner keeps the credential, never Keyway's server.
        </p>
      )}
      <div className="authorize-methods">
        {offers.supportsOauth2 && (
          <ConnectMethod
            authUrl={offers.supportsOauth2.authUrl}
            docsUrl={offers.supportsOauth2.docsUrl}
            Sub={Sub}
            onConnected={onAuthorized}
          />
        )}
        {offers.supportsPat && (
          <PatMethod
            offer={offers.supportsPat}
            integrationId={offers.integrationId}
            runnerId={offers.runnerId}
            organization={organization}
            Sub={Sub}
            onStored={onAuthorized}
          />
        )}
      </div>
    </section>
  );
}

type ConnectState =
  | { kind: 'idle' }
  | { kind: 'waiting' }
  | { kind: 'blocked' }
  | { kind: 'failed'; message: string }
  | { kind: 'connected'; message: string };

/** Connect with Microsoft Entra ID: the OAuth flow in a popup, with a full-page fallback. */
function ConnectMethod({
  authUrl,
  docsUrl,
  Sub,
  onConnected,
}: {
  authUrl: string;
  docsUrl: string;
  Sub: 'h3' | 'h4';
  onConnected: (message: string) => void;
}) {
  const [state, setState] = useState<ConnectState>({ kind: 'idle' });
  const popupRef = useRef<Window | null>(null);
  const connectedRef = useRef(onConnected);
  connectedRef.current = onConnected;
  const headingId = useId();
  const hintId = useId();
  const waiting = state.kind === 'waiting';

  useEffect(() => {
    if (!waiting) return;
    let settled = false;
    let closedAt: number | undefined;
    function onMessage(event: MessageEvent) {
      // Only the callback page of this origin speaks for the flow; anything else is ignored.
      if (event.origin !== window.location.origin || !isAuthorizationMessage(event.data)) return;
      if (popupRef.current && event.source && event.source !== popupRef.current) return;
      settled = true;
      popupRef.current = null;
      const { ok, message, code } = event.data;
      if (ok) {
        const text = sentence(message || 'connected');
        setState({ kind: 'connected', message: text });
        connectedRef.current(text);
      } else {
        setState({ kind: 'failed', message: message ? sentence(message) : describeCallbackCode(code) });
      }
    }
    window.addEventListener('message', onMessage);
    // A window closed without an answer: the user gave up (the callback posts before it closes,
    // so allow its message a moment to arrive).
    const timer = window.setInterval(() => {
      if (settled) return;
      const popup = popupRef.current;
      if (!popup || !popup.closed) return;
      closedAt ??= Date.now();
      if (Date.now() - closedAt > 1000) {
        settled = true;
        popupRef.current = null;
        setState({ kind: 'failed', message: 'The sign-in window was closed before Connect finished. Choose Connect to try again.' });
      }
    }, 300);
    return () => {
      window.removeEventListener('message', onMessage);
      window.clearInterval(timer);
    };
  }, [waiting]);

  function connect() {
    const popup = window.open(withDisplay(authUrl, 'popup'), 'keyway-connect', 'popup,width=520,height=720');
    if (!popup) {
      setState({ kind: 'blocked' });
      return;
    }
    popupRef.current = popup;
    popup.focus();
    setState({ kind: 'waiting' });
  }

  return (
    <section className="method-card" aria-labelledby={headingId}>
      <Sub id={headingId}>Connect with Microsoft Entra ID</Sub>
      <p className="hint" id={hintId}>
        Sign in with your work account in a small window; Keyway asks Azure DevOps for Code (read &amp; write) access. The runner keeps the
        tokens and renews them.{' '}
        <a href={docsUrl} target="_blank" rel="noopener noreferrer">
          About Entra ID OAuth
        </a>
      </p>
      {state.kind === 'failed' && <Alert>{state.message}</Alert>}
      {state.kind === 'connected' && <Alert kind="success">{state.message}</Alert>}
      {state.kind === 'blocked' && (
        <Alert kind="warning">
          Your browser blocked the sign-in window. Allow pop-ups for Keyway and choose Connect again, or{' '}
          <a href={withDisplay(authUrl, 'page')}>connect in this window</a>.
        </Alert>
      )}
      <div className="actions">
        <button type="button" className="button-primary" onClick={connect} disabled={waiting} aria-describedby={hintId}>
          {waiting ? 'Waiting for sign-in…' : state.kind === 'failed' ? 'Connect again' : 'Connect'}
        </button>
        {waiting && (
          <button
            type="button"
            onClick={() => {
              popupRef.current?.focus();
            }}
          >
            Show the sign-in window
          </button>
        )}
      </div>
      {state.kind !== 'blocked' && (
        <p className="hint">
          Window not opening? <a href={withDisplay(authUrl, 'page')}>Connect in this window instead</a>.
        </p>
      )}
      <StatusText>{waiting ? 'Waiting for you to sign in in the other window.' : ''}</StatusText>
    </section>
  );
}

function isoDate(date: Date): string {
  // The local calendar day, as <input type="date"> shows it.
  const offset = date.getTimezoneOffset() * 60_000;
  return new Date(date.getTime() - offset).toISOString().slice(0, 10);
}

const PAT_FIELDS: Record<string, string> = { token: 'token', sealedToken: 'token', organization: 'organization', expiresAt: 'expiresAt' };

/** Provide a Personal Access Token: how to create one, then the token, sealed here for the runner. */
function PatMethod(props: {
  offer: PatOffer;
  integrationId: string;
  runnerId: string;
  organization: string | undefined;
  Sub: 'h3' | 'h4';
  onStored: (message: string) => void;
}) {
  const { offer, integrationId, runnerId, Sub, onStored } = props;
  const { me } = useSession();
  const [organization, setOrganization] = useState(props.organization ?? '');
  const [expiresOn, setExpiresOn] = useState(() => isoDate(new Date(Date.now() + offer.suggestedExpiryDays * 86_400_000)));
  const { errors, setErrors, formRef } = useFormErrors();
  const [busy, setBusy] = useState<string>();
  const [stored, setStored] = useState<string>();
  // The token stays in the input (uncontrolled), never in React state: read at submit, then cleared.
  const tokenRef = useRef<HTMLInputElement>(null);
  const headingId = useId();

  async function submit() {
    const input = tokenRef.current;
    const fields: Record<string, string> = {};
    if (!organization.trim()) fields.organization = 'Enter the Azure DevOps organization the token is for (dev.azure.com/{organization}).';
    if (!input?.value.trim()) fields.token = 'Paste the Personal Access Token you created.';
    if (expiresOn && new Date(`${expiresOn}T23:59:59`).getTime() < Date.now())
      fields.expiresAt = 'This date has passed: enter the expiration date you chose in Azure DevOps.';
    if (Object.keys(fields).length) {
      setErrors({ fields });
      return;
    }
    setErrors(NO_ERRORS);
    setStored(undefined);
    try {
      setBusy('Sealing the token…');
      // The runner's current key: sealing to a stale one is refused by the server.
      const runner = await api.get<Runner>(`/runners/${encodeURIComponent(runnerId)}`);
      if (!runner.publicKey)
        throw new Error(
          'The runner has not registered its key yet, so the token cannot be sealed for it. Ask an admin to start the runner.',
        );
      const sealedToken = await sealForRunner(runner.publicKey, input!.value.trim(), patAad(integrationId, me.user.id));
      setBusy('The runner is checking the token with Azure DevOps…');
      const result = await api.post<StoredPat>('/scm/pat', {
        integrationId,
        organization: organization.trim(),
        sealedToken,
        ...(expiresOn ? { expiresAt: expiresOn } : {}),
      });
      input!.value = '';
      const message = `Your token works${result.identity ? ` (signed in as ${result.identity})` : ''} and is stored on the runner${result.expiresAt ? `; it expires on ${new Date(result.expiresAt).toLocaleDateString()}` : ''}.`;
      setStored(message);
      onStored(message);
    } catch (err) {
      const mapped = asSentences(formErrorsFrom(err, PAT_FIELDS));
      setErrors(mapped);
      // A rejected token is replaced by typing or pasting over it.
      if (input && mapped.fields.token) input.select();
    } finally {
      setBusy(undefined);
    }
  }

  const scopes = offer.requiredScopes;
  return (
    <section className="method-card" aria-labelledby={headingId}>
      <Sub id={headingId}>Provide a Personal Access Token</Sub>
      <ol className="steps">
        <li>
          {offer.createUrl ? (
            <a href={offer.createUrl} target="_blank" rel="noopener noreferrer">
              Create a token in Azure DevOps
            </a>
          ) : (
            <>
              Create a token in Azure DevOps under User settings → Personal access tokens (
              <a href={offer.docsUrl} target="_blank" rel="noopener noreferrer">
                how
              </a>
              )
            </>
          )}{' '}
          (opens in a new tab) with:
          <ul>
            <li>
              Name: <strong>{offer.suggestedName}</strong>
            </li>
            <li>
              Expiration: <strong>{offer.suggestedExpiryDays} days</strong>
            </li>
            <li>
              Scopes:{' '}
              {scopes.map((s, i) => (
                <span key={s.scope}>
                  {i > 0 && ', '}
                  <strong>{s.label}</strong> <code>{s.scope}</code>
                </span>
              ))}
            </li>
          </ul>
        </li>
        <li>Copy the token Azure DevOps shows once, and paste it below.</li>
      </ol>
      {offer.example && <CopyField label="A token looks like this (example, not a real token)" value={offer.example} />}
      <Form ref={formRef} onSubmit={submit} error={errors.form}>
        {stored && <Alert kind="success">{stored}</Alert>}
        {props.organization === undefined && (
          <IdentifierField
            label="Organization"
            {...bindField(errors, 'organization', organization, setOrganization)}
            hint="The name in dev.azure.com/{organization} (the collection on Azure DevOps Server)."
          />
        )}
        <SecretField
          ref={tokenRef}
          label="Personal Access Token"
          name="token"
          error={errors.fields.token}
          hint={`Sealed in this browser so only the runner can read it; checked against Azure DevOps before it is kept.${props.organization ? ` For organization ${props.organization}.` : ''}`}
          autoComplete="off"
        />
        <TextField
          label="Expires on"
          {...bindField(errors, 'expiresAt', expiresOn, setExpiresOn)}
          type="date"
          hint="Optional: the expiration date you chose, so Keyway can remind you before it."
        />
        <FormActions submit={busy ? 'Checking…' : 'Check and save token'} disabled={busy !== undefined} />
        <StatusText>{busy ?? ''}</StatusText>
      </Form>
    </section>
  );
}
