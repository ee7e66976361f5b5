import { useState } from 'react';
import { api } from '../api.ts';
import type { ClientCredentialState } from '../types.ts';
import { CopyField } from './copy.tsx';
import { Alert } from './page.tsx';

/** A date as people read it where they are (the API's values are ISO instants). */
function formatDate(iso: string): string {
  return new Date(iso).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

// What an admin registers in Entra ID for an app credential without secret (issue 19): the
// runner's certificate to upload (with its thumbprint, validity, and a warning ahead of expiry), the
// federated credential's issuer/subject/audience, or the managed identity to add to Azure DevOps.
// Shared by integrations (admins) and service-principal app connections (project owners).

/** Days before expiry from which the page warns (the runner makes the next certificate then too). */
export const EXPIRY_WARNING_DAYS = 30;

export function daysLeft(iso: string, now = Date.now()): number {
  return Math.floor((Date.parse(iso) - now) / 86_400_000);
}

/** A sentence about the active certificate's expiry when it is near or past; undefined otherwise. */
export function expiryWarning(state: ClientCredentialState | undefined, now = Date.now()): string | undefined {
  const active = state?.certificates?.find((c) => c.status === 'active');
  if (!active) return undefined;
  const days = daysLeft(active.notAfter, now);
  const next = state?.certificates?.find((c) => c.status === 'next');
  const then = next
    ? `upload the next certificate (thumbprint ${next.thumbprintSha1}) now; it takes over once Entra ID accepts it`
    : 'prepare the next certificate and upload it';
  if (days < 0) return `The certificate expired on ${formatDate(active.notAfter)}: ${then}.`;
  if (days <= EXPIRY_WARNING_DAYS)
    return `The certificate expires in ${days} day${days === 1 ? '' : 's'} (${formatDate(active.notAfter)}): ${then}.`;
  return undefined;
}

interface Props {
  state: ClientCredentialState;
  /** API path of the owner's client credential, under /api/v1 (…/client-credential). */
  path: string;
  /** Whether the viewer may make the next certificate (admins, project owners). */
  canPrepare: boolean;
  onChange: (state: ClientCredentialState) => void;
}

export function ClientCredentialPanel({ state, path, canPrepare, onChange }: Props) {
  const [busy, setBusy] = useState<string>();
  const [error, setError] = useState<string>();

  async function run(label: string, call: () => Promise<ClientCredentialState>) {
    setBusy(label);
    setError(undefined);
    try {
      onChange(await call());
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(undefined);
    }
  }

  const warning = expiryWarning(state);
  const hasNext = state.certificates?.some((c) => c.status === 'next');
  return (
    <section className="client-credential" aria-label="What to register in Entra ID">
      {state.stale && <Alert kind="warning">{state.staleReason ?? 'The runner could not be asked; this is what it said last.'}</Alert>}
      {error && <Alert>{error}</Alert>}

      {state.type === 'certificate' && (
        <>
          <p className="hint hint-block">
            The runner made this key pair itself; the private key never leaves it. Upload the certificate to the app registration in Entra
            ID: <strong>Certificates &amp; secrets → Certificates → Upload certificate</strong>, then test.
          </p>
          {warning && <Alert kind="warning">{warning}</Alert>}
          <ul className="certificates">
            {(state.certificates ?? []).map((c) => (
              <li key={c.thumbprintSha256} className="certificate" data-status={c.status}>
                <p>
                  <strong>{c.status === 'active' ? 'Certificate in use' : 'Next certificate'}</strong> · valid until{' '}
                  {formatDate(c.notAfter)} ·{' '}
                  {c.acceptedAt ? `accepted by Entra ID on ${formatDate(c.acceptedAt)}` : 'not accepted by Entra ID yet'}
                </p>
                <CopyField
                  label={`Thumbprint${c.status === 'next' ? ' (next)' : ''}`}
                  value={c.thumbprintSha1}
                  hint="What the Entra admin center shows for the uploaded certificate (SHA-1)."
                />
                <p className="actions">
                  <a className="button button-small" href={`/api/v1${path}/certificate?status=${c.status}&format=cer`} download>
                    Download {c.status === 'next' ? 'next ' : ''}certificate (.cer)
                  </a>
                  <a className="button button-small" href={`/api/v1${path}/certificate?status=${c.status}&format=pem`} download>
                    Download .pem
                  </a>
                </p>
              </li>
            ))}
          </ul>
        </>
      )}

      {state.federated && 'error' in state.federated && <Alert kind="warning">{state.federated.error}</Alert>}
      {state.federated && !('error' in state.federated) && (
        <>
          <p className="hint hint-block">
            Add a federated credential to the app registration in Entra ID:{' '}
            <strong>Certificates &amp; secrets → Federated credentials → Add credential</strong> (
            {state.type === 'managed-identity' ? 'Managed identity' : 'Other issuer'}), with exactly these values (matching is
            case-sensitive).
          </p>
          <CopyField label="Issuer" value={state.federated.issuer} />
          <CopyField label="Subject identifier" value={state.federated.subject} />
          <CopyField label="Audience" value={state.federated.audience} />
        </>
      )}

      {state.managedIdentity && 'error' in state.managedIdentity && <Alert kind="warning">{state.managedIdentity.error}</Alert>}
      {state.managedIdentity && !('error' in state.managedIdentity) && (
        <>
          <p className="hint hint-block">
            The runner's machine answers as this managed identity. Add it to the Azure DevOps organization (Organization settings → Users)
            with access to the projects to sync.
          </p>
          {state.managedIdentity.clientId && <CopyField label="Managed identity client ID" value={state.managedIdentity.clientId} />}
          {state.managedIdentity.principalId && <CopyField label="Object (principal) ID" value={state.managedIdentity.principalId} />}
        </>
      )}

      <p className="actions">
        {state.type === 'certificate' && canPrepare && !hasNext && (
          <button
            type="button"
            className="button-small"
            disabled={busy !== undefined}
            onClick={() =>
              void run('Preparing the next certificate…', () => api.post<ClientCredentialState>(`${path}/next-certificate`, {}))
            }
          >
            Prepare next certificate
          </button>
        )}
        <button
          type="button"
          className="button-small"
          disabled={busy !== undefined}
          onClick={() => void run('Asking the runner…', () => api.get<ClientCredentialState>(path))}
        >
          Ask the runner again
        </button>
      </p>
      {busy && (
        <p className="muted" role="status">
          {busy}
        </p>
      )}
    </section>
  );
}
