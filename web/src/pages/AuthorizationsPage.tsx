import { useState } from 'react';
import { api } from '../api.ts';
import { DangerButton } from '../components/danger-button.tsx';
import { Detail } from '../components/details.tsx';
import { Dialog, closeWithNotice, useConfirm } from '../components/dialog.tsx';
import { Listing } from '../components/listing.tsx';
import type { Notice } from '../components/page.tsx';
import { Alert, Loading, PageHeading, Time, formatTime } from '../components/page.tsx';
import { Link } from '../router.tsx';
import { sentence } from '../text.ts';
import type { AuthenticationCheck, HostAuthorization, Runner } from '../types.ts';
import { useApi } from '../use-api.ts';
import { AuthorizePanel } from './AuthorizePanel.tsx';

// "My authorizations": what the user authorized on each runner (never the tokens), with warnings
// before a credential stops working, Reconnect and Remove.

const METHOD_LABEL: Record<string, string> = { oauth: 'Microsoft Entra ID (OAuth)', pat: 'Personal Access Token' };

export function methodLabel(method: string): string {
  return METHOD_LABEL[method] ?? method;
}

/** The warnings the runner attaches, in words, most urgent first. */
export function warningTexts(a: HostAuthorization): string[] {
  const out: string[] = [];
  const when = a.expiresAt ? formatTime(a.expiresAt) : undefined;
  if (a.warnings.includes('needs-reauthorization') || a.status === 'needs-reauthorization') {
    out.push(
      a.reauthorizationReason
        ? `Reconnect needed: ${sentence(a.reauthorizationReason)}`
        : `Azure DevOps no longer accepts this authorization. Reconnect to keep using ${a.host}.`,
    );
  }
  // The last real outcome: a credential that fails although it has not expired (a refresh that
  // failed, a token Azure DevOps refused).
  if (a.state === 'failing' && a.status !== 'needs-reauthorization') {
    out.push(
      `Failing since ${a.failingSince ? formatTime(a.failingSince) : 'recently'}${a.failureReason ? `: ${sentence(a.failureReason)}` : '.'}`,
    );
  }
  if (a.method === 'pat' && a.pushAccess === 'refused')
    out.push(a.pushAccessNote ? sentence(a.pushAccessNote) : 'This token cannot push: create one with Code (Read & write).');
  if (a.warnings.includes('expired')) {
    out.push(
      a.method === 'pat'
        ? `This token expired${when ? ` on ${when}` : ''}. Provide a new one to keep using ${a.host}.`
        : `This sign-in expired${when ? ` on ${when}` : ''}. Reconnect to keep using ${a.host}.`,
    );
  } else if (a.warnings.includes('expires-soon')) {
    out.push(
      a.method === 'pat'
        ? `This token expires${when ? ` on ${when}` : ' soon'}. Create a new one and provide it before then.`
        : `This sign-in expires${when ? ` on ${when}` : ' soon'}. Reconnect before then.`,
    );
  }
  return out;
}

const PUSH_LABEL: Record<NonNullable<HostAuthorization['pushAccess']>, string> = {
  confirmed: 'Allowed (Azure DevOps offered to receive a push)',
  refused: 'Refused: this token can clone and fetch, not push',
  unconfirmed: 'Could not be confirmed',
};

/** Working, failing since when, or waiting for the user: not only the recorded expiry. */
export function stateText(a: HostAuthorization): string {
  if (a.state === 'needs-reauthorization' || a.status === 'needs-reauthorization') return 'Reconnect needed';
  if (a.state === 'failing') return `Failing since ${a.failingSince ? formatTime(a.failingSince) : 'recently'}`;
  if (a.state === 'working') return 'Working';
  return a.status === 'active' ? 'Active' : a.status;
}

export function AuthorizationsPage() {
  const list = useApi<{ authorizations: HostAuthorization[]; unavailableRunners: { runnerId: string; reason: string }[] }>(
    '/scm/authorizations',
  );
  const runners = useApi<{ runners: Runner[] }>('/runners');
  const [reconnecting, setReconnecting] = useState<HostAuthorization>();
  const [notice, setNotice] = useState<Notice>();
  const runnerName = (id: string | undefined) => (id ? (runners.data?.runners.find((r) => r.id === id)?.name ?? id) : '—');
  const authorizations = list.data?.authorizations;

  const removeAuthorization = useConfirm((authorization: HostAuthorization) => ({
    title: `Remove your authorization for ${authorization.host}?`,
    confirmLabel: 'Remove authorization',
    body: (
      <p>
        The runner forgets this {authorization.method === 'pat' ? 'token' : 'sign-in'}. Environments using {authorization.host} stop getting
        tokens until you authorize again.
      </p>
    ),
    run: async () => {
      const result = await api.delete<{ deleted: boolean; revokedUpstream: boolean; method: string }>(
        `/scm/authorizations/${encodeURIComponent(authorization.runnerId!)}/${encodeURIComponent(authorization.id)}`,
      );
      setNotice({
        kind: 'success',
        text: `Your ${methodLabel(authorization.method)} authorization for ${authorization.host} was removed${result.revokedUpstream ? ' and revoked with Entra ID' : ''}.${authorization.method === 'pat' ? ' The token itself stays valid in Azure DevOps until you revoke it there.' : ''}`,
      });
      list.reload();
    },
  }));

  return (
    <>
      <PageHeading title="My authorizations" />
      <p className="lead">
        How the runners reach Azure DevOps for you. The credentials stay on the runners; Keyway shows only what they are. To add one,{' '}
        <Link to="/open">open a repository</Link>.
      </p>
      {notice && <Alert kind={notice.kind}>{notice.text}</Alert>}
      {/* Only an answer lists unavailable runners, so these never stand beside the list's error. */}
      {list.data?.unavailableRunners.map((u) => (
        <Alert kind="warning" key={u.runnerId}>
          Runner {runnerName(u.runnerId)} could not be asked ({sentence(u.reason)}) Its authorizations are not listed.
        </Alert>
      ))}
      <Listing
        items={authorizations}
        error={list.error?.message}
        loading={list.loading}
        empty={
          <>
            You have not authorized any host yet. <Link to="/open">Open a repository</Link> to connect.
          </>
        }
      >
        {(items) => (
          <ul className="card-list">
            {items.map((a) => {
              const warnings = warningTexts(a);
              const label = `${a.host} (${methodLabel(a.method)}${a.organization ? `, ${a.organization}` : ''})`;
              return (
                <li key={`${a.runnerId}/${a.id}`} className={`card${warnings.length ? ' card-warning' : ''}`}>
                  <h2 className="card-title">
                    {a.host} <span className="muted">· {methodLabel(a.method)}</span>
                  </h2>
                  {warnings.map((w) => (
                    <Alert kind="warning" key={w}>
                      {w}
                    </Alert>
                  ))}
                  <dl className="details details-compact">
                    <Detail term="Signed in as">{a.identity ?? '—'}</Detail>
                    <Detail term="Organization">{a.organization ?? 'All your organizations'}</Detail>
                    <Detail term="State">{stateText(a)}</Detail>
                    <Detail term="Scopes">
                      {a.scopesKnown === false
                        ? "Not known (Azure DevOps does not report a token's scopes)"
                        : a.scopes.length
                          ? a.scopes.map((s) => (
                              <code key={s} className="scope">
                                {s.replace(/^499b84ac-1321-427f-aa17-267ca6975798\//, '')}
                              </code>
                            ))
                          : '—'}
                    </Detail>
                    {a.method === 'pat' && a.pushAccess && <Detail term="Push">{PUSH_LABEL[a.pushAccess]}</Detail>}
                    <Detail term="Expires">
                      {a.expiresAt ? <Time value={a.expiresAt} /> : a.method === 'oauth' ? 'Renewed automatically' : 'Not given'}
                      {a.warnings.includes('expired') && <span className="badge badge-failed">Expired</span>}
                      {!a.warnings.includes('expired') && a.warnings.includes('expires-soon') && (
                        <span className="badge badge-pending">Expires soon</span>
                      )}
                    </Detail>
                    <Detail term="Last used">
                      <Time value={a.lastUsedAt} />
                    </Detail>
                    <Detail term="Runner">{runnerName(a.runnerId)}</Detail>
                    <Detail term="Added">
                      <Time value={a.createdAt} />
                    </Detail>
                  </dl>
                  <div className="actions">
                    {a.integrationId && (
                      <button type="button" className="button-small" onClick={() => setReconnecting(a)} aria-label={`Reconnect ${label}`}>
                        Reconnect
                      </button>
                    )}
                    {a.runnerId && (
                      <DangerButton label={`Remove ${label}`} onClick={() => removeAuthorization.ask(a)}>
                        Remove
                      </DangerButton>
                    )}
                  </div>
                </li>
              );
            })}
          </ul>
        )}
      </Listing>
      {reconnecting && (
        <ReconnectDialog
          authorization={reconnecting}
          onClose={closeWithNotice(
            () => setReconnecting(undefined),
            setNotice,
            (text: string) => ({ kind: 'success', text }),
            list.reload,
          )}
        />
      )}
      {removeAuthorization.dialog}
    </>
  );
}

/** Reconnect: the same choices as the first time, for the authorization's host and organization. */
function ReconnectDialog({ authorization, onClose }: { authorization: HostAuthorization; onClose: (notice?: string) => void }) {
  const query = new URLSearchParams({ integrationId: authorization.integrationId ?? '', returnTo: '/authorizations' });
  if (authorization.organization) query.set('organization', authorization.organization);
  const offers = useApi<AuthenticationCheck>(`/scm/authentication?${query.toString()}`);
  return (
    <Dialog title={`Reconnect ${authorization.host}`} onClose={() => onClose()} wide>
      {offers.error && <Alert>{sentence(offers.error.message)}</Alert>}
      {offers.loading && !offers.data && <Loading />}
      {offers.data && (
        <AuthorizePanel
          offers={offers.data}
          organization={authorization.organization ?? undefined}
          level={3}
          title={`How to reach ${authorization.host}`}
          reason={
            authorization.method === 'pat'
              ? 'Provide a new Personal Access Token, or connect with Entra ID if it is offered.'
              : 'Sign in again to renew the connection.'
          }
          onAuthorized={(message) => onClose(message)}
        />
      )}
    </Dialog>
  );
}
