import { useState } from 'react';
import { api, messageOf } from '../api.ts';
import { expiryWarning } from '../components/client-credential.tsx';
import { CopyField } from '../components/copy.tsx';
import { DangerButton } from '../components/danger-button.tsx';
import { Detail } from '../components/details.tsx';
import { useConfirm } from '../components/dialog.tsx';
import { Listing } from '../components/listing.tsx';
import { Alert, ItemPage, PageHeading, SectionHeading, Time } from '../components/page.tsx';
import { Link } from '../router.tsx';
import { useSession } from '../session.tsx';
import type { Integration, IntegrationTest, Runner } from '../types.ts';
import { useApi } from '../use-api.ts';
import { IntegrationDialog, testProblems } from './IntegrationDialog.tsx';
import { RunnerStatusBadge } from './RunnersPage.tsx';
import { RepositoryCacheDetail } from './RepositoryCacheDetail.tsx';

export function RunnerPage({ runnerId }: { runnerId: string }) {
  const loaded = useApi<Runner>(`/runners/${encodeURIComponent(runnerId)}`);
  return (
    <ItemPage
      loaded={loaded}
      title="Runner"
      notFound={
        <>
          There is no runner with id <code>{runnerId}</code> in this organization. Back to <Link to="/runners">Runners</Link>.
        </>
      }
    >
      {(runner) => <RunnerView runner={runner} />}
    </ItemPage>
  );
}

function RunnerView({ runner }: { runner: Runner }) {
  return (
    <>
      <p className="breadcrumb">
        <Link to="/runners">Runners</Link> <span aria-hidden="true">/</span>
      </p>
      <PageHeading title={runner.name}>
        <RunnerStatusBadge status={runner.status} />
      </PageHeading>
      <dl className="details">
        <Detail term="ID" mono>
          {runner.id}
        </Detail>
        <Detail term="Last seen">
          <Time value={runner.lastSeenAt} />
        </Detail>
        <Detail term="Version">{runner.version ?? '—'}</Detail>
        <Detail term="Key fingerprint" mono>
          {runner.publicKeyFingerprint ?? 'not registered yet'}
        </Detail>
        <Detail term="Registered">
          <Time value={runner.createdAt} />
        </Detail>
        {runner.local && <Detail term="Kind">Local (runs inside this Keyway)</Detail>}
        <RepositoryCacheDetail runnerId={runner.id} />
      </dl>
      <IntegrationsSection runner={runner} />
    </>
  );
}

function IntegrationsSection({ runner }: { runner: Runner }) {
  const { isAdmin } = useSession();
  const path = `/runners/${encodeURIComponent(runner.id)}/scm-integrations`;
  const list = useApi<{ integrations: Integration[] }>(path);
  const integrations = list.data?.integrations;
  const [editing, setEditing] = useState<Integration | 'new'>();
  const [notice, setNotice] = useState<{ kind: 'success' | 'error' | 'warning'; text: string }>();
  const [testing, setTesting] = useState<string>();

  const deleteProvider = useConfirm((integration: Integration) => ({
    title: `Delete ${integration.host}?`,
    confirmLabel: 'Delete provider',
    body: (
      <p>
        The runner forgets this provider and every credential users authorized through it. Users have to authorize again if you add it back.
      </p>
    ),
    run: async () => {
      await api.delete(`${path}/${encodeURIComponent(integration.id)}`);
      setNotice({ kind: 'success', text: `${integration.host} was deleted.` });
      list.reload();
    },
  }));

  async function test(integration: Integration) {
    setTesting(integration.id);
    setNotice(undefined);
    try {
      const result = await api.post<IntegrationTest>(`${path}/${encodeURIComponent(integration.id)}/test`);
      setNotice(
        result.valid
          ? { kind: 'success', text: `${integration.host}: the test passed.` }
          : {
              kind: 'error',
              text: `${integration.host}: the test failed. ${testProblems(result)
                .map((p) => `${p.label}: ${p.message}`)
                .join(' ')}`,
            },
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
      <SectionHeading id="repository-access" title="Configure repository access">
        {isAdmin && runner.status !== 'revoked' && (
          <button type="button" className="button-primary" onClick={() => setEditing('new')}>
            Add a new provider
          </button>
        )}
      </SectionHeading>
      <p className="muted">
        Which Azure DevOps hosts this runner reaches, and how users authorize it: Microsoft Entra ID OAuth, Personal Access Tokens, or both.
      </p>
      <Listing
        notice={notice}
        items={integrations}
        error={list.error?.message}
        loading={list.loading}
        empty={`No providers configured yet.${isAdmin ? ' Add one so users can reach Azure DevOps through this runner.' : ''}`}
      >
        {(items) => (
          <ul className="card-list">
            {items.map((integration) => (
              <li key={integration.id} className="card">
                <IntegrationCard integration={integration} />
                {isAdmin && (
                  <div className="actions">
                    <button
                      type="button"
                      className="button-small"
                      onClick={() => void test(integration)}
                      disabled={testing === integration.id}
                      aria-label={`Test ${integration.host}`}
                    >
                      {testing === integration.id ? 'Testing…' : 'Test'}
                    </button>
                    <button
                      type="button"
                      className="button-small"
                      onClick={() => setEditing(integration)}
                      aria-label={`Edit ${integration.host}`}
                    >
                      Edit
                    </button>
                    <DangerButton label={`Delete ${integration.host}`} onClick={() => deleteProvider.ask(integration)}>
                      Delete
                    </DangerButton>
                  </div>
                )}
              </li>
            ))}
          </ul>
        )}
      </Listing>
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
      {deleteProvider.dialog}
    </section>
  );
}

const CREDENTIAL_LABEL: Record<string, string> = {
  'client-secret': 'Client secret',
  certificate: "The runner's certificate (no secret)",
  'workload-identity': 'Workload identity federation (no secret)',
  'managed-identity': 'Managed identity (no secret)',
};

function IntegrationCard({ integration }: { integration: Integration }) {
  const where = `${integration.host}${integration.virtualDirectory ? integration.virtualDirectory : ''}`;
  const test = integration.lastTest;
  return (
    <>
      <h3>
        Azure DevOps · <span className="mono">{where}</span>
      </h3>
      <dl className="details details-compact">
        <Detail term="Entra ID OAuth">{integration.oauth ? `On — client ${integration.oauth.clientId}` : 'Off'}</Detail>
        {integration.oauth && (
          <Detail term="App credential">{CREDENTIAL_LABEL[integration.oauth.credential] ?? integration.oauth.credential}</Detail>
        )}
        {integration.oauth && (
          <Detail term="Issuer" mono>
            {integration.oauth.issuerUrl}
          </Detail>
        )}
        <Detail term="Personal Access Tokens">{integration.pat.enabled ? 'On' : 'Off'}</Detail>
        <Detail term="Last test" wide>
          {!test ? (
            'Not tested yet'
          ) : test.stale ? (
            <>
              <span className="badge badge-pending">Out of date</span> <Time value={test.testedAt} /> — {test.staleReason ?? 'test again'}
            </>
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
        </Detail>
        {integration.draft && (
          <Detail term="Rejected change" wide>
            <span className="badge badge-failed">Not applied</span> {integration.draft.host}
            {integration.draft.virtualDirectory} failed its test on <Time value={integration.draft.test.testedAt} />; the configuration
            above keeps serving. Open Edit to apply it anyway or discard it.
          </Detail>
        )}
      </dl>
      {integration.oauth && <CopyField label={`Callback URL for ${integration.host}`} value={integration.oauth.callbackUrl} />}
      {expiryWarning(integration.oauth?.credentialState) && (
        <Alert kind="warning">{expiryWarning(integration.oauth?.credentialState)} (Edit → Prepare next certificate.)</Alert>
      )}
    </>
  );
}
