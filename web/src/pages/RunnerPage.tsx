import { useState } from 'react';
import { api, messageOf } from '../api.ts';
import { CopyField } from '../components/copy.tsx';
import { ConfirmDialog } from '../components/dialog.tsx';
import { Alert, Loading, PageHeading, Time } from '../components/page.tsx';
import { Link } from '../router.tsx';
import { useSession } from '../session.tsx';
import type { Integration, IntegrationTest, Runner } from '../types.ts';
import { useApi } from '../use-api.ts';
import { IntegrationDialog, testProblems } from './IntegrationDialog.tsx';
import { RunnerStatusBadge } from './RunnersPage.tsx';

export function RunnerPage({ runnerId }: { runnerId: string }) {
  const loaded = useApi<Runner>(`/runners/${encodeURIComponent(runnerId)}`);
  const runner = loaded.data;

  if (loaded.error?.status === 404) {
    return (
      <>
        <PageHeading title="Runner not found" />
        <p>
          There is no runner with id <code>{runnerId}</code> in this organization. Back to <Link to="/runners">Runners</Link>.
        </p>
      </>
    );
  }
  if (loaded.error) {
    return (
      <>
        <PageHeading title="Runner" />
        <Alert>{loaded.error.message}</Alert>
      </>
    );
  }
  if (!runner) return <Loading />;

  return (
    <>
      <p className="breadcrumb">
        <Link to="/runners">Runners</Link> <span aria-hidden="true">/</span>
      </p>
      <PageHeading title={runner.name}>
        <RunnerStatusBadge status={runner.status} />
      </PageHeading>
      <dl className="details">
        <div>
          <dt>ID</dt>
          <dd className="mono">{runner.id}</dd>
        </div>
        <div>
          <dt>Last seen</dt>
          <dd>
            <Time value={runner.lastSeenAt} />
          </dd>
        </div>
        <div>
          <dt>Version</dt>
          <dd>{runner.version ?? '—'}</dd>
        </div>
        <div>
          <dt>Key fingerprint</dt>
          <dd className="mono">{runner.publicKeyFingerprint ?? 'not registered yet'}</dd>
        </div>
        <div>
          <dt>Registered</dt>
          <dd>
            <Time value={runner.createdAt} />
          </dd>
        </div>
        {runner.local && (
          <div>
            <dt>Kind</dt>
            <dd>Local (runs inside this Keyway)</dd>
          </div>
        )}
      </dl>
      <IntegrationsSection runner={runner} />
    </>
  );
}

function IntegrationsSection({ runner }: { runner: Runner }) {
  const { isAdmin } = useSession();
  const path = `/runners/${encodeURIComponent(runner.id)}/scm-integrations`;
  const list = useApi<{ integrations: Integration[] } | Integration[]>(path);
  const integrations = Array.isArray(list.data) ? list.data : list.data?.integrations;
  const [editing, setEditing] = useState<Integration | 'new'>();
  const [deleting, setDeleting] = useState<Integration>();
  const [notice, setNotice] = useState<{ kind: 'success' | 'error' | 'warning'; text: string }>();
  const [testing, setTesting] = useState<string>();

  async function test(integration: Integration) {
    setTesting(integration.id);
    setNotice(undefined);
    try {
      const answer = await api.post<{ test?: IntegrationTest } & Partial<IntegrationTest>>(`${path}/${encodeURIComponent(integration.id)}/test`);
      const result = (answer.test ?? answer) as IntegrationTest;
      setNotice(
        result.valid
          ? { kind: 'success', text: `${integration.host}: the test passed.` }
          : { kind: 'error', text: `${integration.host}: the test failed. ${testProblems(result).map((p) => `${p.label}: ${p.message}`).join(' ')}` },
      );
      list.reload();
    } catch (err) {
      setNotice({ kind: 'error', text: messageOf(err) });
    } finally {
      setTesting(undefined);
    }
  }

  return (
    <section aria-labelledby="repository-access" className="section">
      <div className="section-heading">
        <h2 id="repository-access">Configure repository access</h2>
        {isAdmin && runner.status !== 'revoked' && (
          <button type="button" className="button-primary" onClick={() => setEditing('new')}>
            Add a new provider
          </button>
        )}
      </div>
      <p className="muted">Which Azure DevOps hosts this runner reaches, and how users authorize it: Microsoft Entra ID OAuth, Personal Access Tokens, or both.</p>
      {notice && <Alert kind={notice.kind}>{notice.text}</Alert>}
      {list.error && <Alert>{list.error.message}</Alert>}
      {list.loading && !integrations && <Loading />}
      {integrations && integrations.length === 0 && <p className="empty">No providers configured yet.{isAdmin ? ' Add one so users can reach Azure DevOps through this runner.' : ''}</p>}
      {integrations && integrations.length > 0 && (
        <ul className="card-list">
          {integrations.map((integration) => (
            <li key={integration.id} className="card">
              <IntegrationCard integration={integration} />
              {isAdmin && (
                <div className="actions">
                  <button type="button" className="button-small" onClick={() => void test(integration)} disabled={testing === integration.id} aria-label={`Test ${integration.host}`}>
                    {testing === integration.id ? 'Testing…' : 'Test'}
                  </button>
                  <button type="button" className="button-small" onClick={() => setEditing(integration)} aria-label={`Edit ${integration.host}`}>
                    Edit
                  </button>
                  <button type="button" className="button-small button-danger-outline" onClick={() => setDeleting(integration)} aria-label={`Delete ${integration.host}`}>
                    Delete
                  </button>
                </div>
              )}
            </li>
          ))}
        </ul>
      )}
      {editing && (
        <IntegrationDialog
          runner={runner}
          integration={editing === 'new' ? undefined : editing}
          onChanged={() => list.reload()}
          onClose={(closing) => {
            setEditing(undefined);
            if (closing) setNotice(closing);
          }}
        />
      )}
      {deleting && (
        <ConfirmDialog
          title={`Delete ${deleting.host}?`}
          confirmLabel="Delete provider"
          onClose={() => setDeleting(undefined)}
          onConfirm={async () => {
            await api.delete(`${path}/${encodeURIComponent(deleting.id)}`);
            setNotice({ kind: 'success', text: `${deleting.host} was deleted.` });
            list.reload();
          }}
        >
          <p>The runner forgets this provider and every credential users authorized through it. Users have to authorize again if you add it back.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}

function IntegrationCard({ integration }: { integration: Integration }) {
  const where = `${integration.host}${integration.virtualDirectory ? integration.virtualDirectory : ''}`;
  const test = integration.lastTest;
  return (
    <>
      <h3>
        Azure DevOps · <span className="mono">{where}</span>
      </h3>
      <dl className="details details-compact">
        <div>
          <dt>Entra ID OAuth</dt>
          <dd>{integration.oauth ? `On — client ${integration.oauth.clientId}` : 'Off'}</dd>
        </div>
        {integration.oauth && (
          <div>
            <dt>Issuer</dt>
            <dd className="mono">{integration.oauth.issuerUrl}</dd>
          </div>
        )}
        <div>
          <dt>Personal Access Tokens</dt>
          <dd>{integration.pat.enabled ? 'On' : 'Off'}</dd>
        </div>
        <div className="details-wide">
          <dt>Last test</dt>
          <dd>
            {!test ? (
              'Not tested yet'
            ) : test.valid ? (
              <>
                <span className="badge badge-online">Passed</span> <Time value={test.testedAt} />
              </>
            ) : (
              <>
                <span className="badge badge-failed">Failed</span> <Time value={test.testedAt} />
                <ul className="problems">
                  {testProblems(test).map((p) => (
                    <li key={p.key}>
                      {p.label}: {p.message}
                    </li>
                  ))}
                </ul>
              </>
            )}
          </dd>
        </div>
      </dl>
      {integration.oauth && <CopyField label={`Callback URL for ${integration.host}`} value={integration.oauth.callbackUrl} />}
    </>
  );
}
