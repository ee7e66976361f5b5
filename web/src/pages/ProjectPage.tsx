import { useEffect, useId, useState } from 'react';
import type { FormEvent } from 'react';
import { api, messageOf } from '../api.ts';
import { DangerButton } from '../components/danger-button.tsx';
import { Detail } from '../components/details.tsx';
import { closeWithNotice, savedMessage, useConfirm } from '../components/dialog.tsx';
import { SelectField } from '../components/fields.tsx';
import { FormActions } from '../components/form.tsx';
import { Listing, ListingTable } from '../components/listing.tsx';
import type { Notice } from '../components/page.tsx';
import { Alert, ItemPage, PageHeading, SectionHeading, Time } from '../components/page.tsx';
import { TimeCell } from '../components/table.tsx';
import { Link, navigate } from '../router.tsx';
import { sentence } from '../text.ts';
import type { AppConnection, ConnectionValidation, Project, Runner, SyncRun, UpdatedConnection, VariableSync } from '../types.ts';
import { useApi } from '../use-api.ts';
import {
  AppConnectionDialog,
  connectionMethodLabel,
  describeValidation,
  forgetConsent,
  projectPath,
  SECRETLESS,
  startConsent,
  startedConsent,
} from './AppConnectionDialog.tsx';
import { ClientCredentialDialog } from './ClientCredentialDialog.tsx';
import { expiryWarning } from '../components/client-credential.tsx';
import { ProjectMembersSection } from './ProjectMembers.tsx';
import { projectRoleLabel } from './ProjectsPage.tsx';
import { SyncAdoptionDialog, SyncDialog, describeMemberTargets } from './SyncDialog.tsx';
import { MemberTargetsDialog } from './MemberTargetsDialog.tsx';

export function ProjectPage({ projectId }: { projectId: string }) {
  const project = useApi<Project>(`/projects/${encodeURIComponent(projectId)}`);
  return (
    <ItemPage
      loaded={project}
      title="Project"
      notFound={
        <>
          There is no project with id <code>{projectId}</code> that you can see. Back to <Link to="/projects">Projects</Link>.
        </>
      }
    >
      {(data) => <ProjectView project={data} reload={project.reload} />}
    </ItemPage>
  );
}

function ProjectView({ project, reload }: { project: Project; reload: () => void }) {
  const base = `/projects/${encodeURIComponent(project.id)}`;
  const connections = useApi<{ connections: AppConnection[] }>(`${base}/app-connections`);
  const syncs = useApi<{ syncs: VariableSync[] }>(`${base}/syncs`);
  const runners = useApi<{ runners: Runner[] }>('/runners');
  const canManage = project.role === 'admin' || project.role === 'owner';
  return (
    <>
      <p className="breadcrumb">
        <Link to="/projects">Projects</Link> <span aria-hidden="true">/</span>
      </p>
      <PageHeading title={project.name}>
        <span className="tag">{projectRoleLabel(project.role)}</span>
      </PageHeading>
      <ConnectionsSection
        base={base}
        projectId={project.id}
        canManage={canManage}
        connections={connections.data?.connections}
        loading={connections.loading}
        error={connections.error?.message}
        reload={connections.reload}
        runners={runners.data?.runners ?? []}
      />
      <SyncsSection
        base={base}
        projectId={project.id}
        canManage={canManage}
        connections={connections.data?.connections ?? []}
        runners={runners.data?.runners ?? []}
        syncs={syncs.data?.syncs}
        loading={syncs.loading}
        error={syncs.error?.message}
        reload={syncs.reload}
      />
      <ProjectMembersSection project={project} onAccessChanged={reload} />
    </>
  );
}

/** An oauth connection that was never consented to: it has no credential yet. */
const notConnected = (c: AppConnection) => c.method === 'oauth' && c.status === 'pending' && !c.credentialSet;

function ConnectionStatus({ connection }: { connection: AppConnection }) {
  const cls = connection.status === 'active' ? 'badge-online' : connection.status === 'invalid' ? 'badge-failed' : 'badge-pending';
  const label =
    connection.status === 'active'
      ? 'Works'
      : connection.status === 'invalid'
        ? 'Failing'
        : notConnected(connection)
          ? 'Not connected'
          : connection.status === 'pending'
            ? 'Pending'
            : connection.status;
  return <span className={`badge ${cls}`}>{label}</span>;
}

// The consent came back with only a code (?keyway_error=…) and the connection's last test did not
// say more: what each code means for an app connection.
const CONSENT_CODES: Record<string, string> = {
  consent_denied: 'The consent prompt was declined, so nothing was connected. Choose Connect again and accept.',
  oauth_blocked:
    'The Azure DevOps organization does not allow third-party applications via OAuth. An organization admin can turn on "Third-party application access via OAuth".',
  session_mismatch: 'The sign-in was started in another browser session. Start it again from this page.',
  expired_state: 'The sign-in took too long. Start it again.',
  unknown_state: 'This sign-in is unknown, was already used, or expired. Start it again.',
  missing_state: 'The sign-in response was incomplete. Start it again.',
};

function describeConsentCode(code: string | null): string {
  return (
    (code && CONSENT_CODES[code]) ||
    `The sign-in did not finish${code ? ` (${code})` : ''}. Start it again, and tell an admin if it keeps happening.`
  );
}

interface ConsentOutcome {
  ok: boolean;
  code: string | null;
  /** The connection this tab went to consent for, when it remembers. */
  connectionId: string | undefined;
}

/** What to say once the browser is back from an oauth consent. */
function consentNotice(outcome: ConsentOutcome, connections: AppConnection[]): Notice {
  const connection = connections.find((c) => c.id === outcome.connectionId);
  const name = connection ? `App connection ${connection.name}` : 'The app connection';
  if (outcome.ok) {
    const who = connection?.identity?.displayName ?? connection?.identity?.id;
    const pick = connection && connection.organization === null ? ' Pick the Azure DevOps organization it writes to below.' : '';
    return { kind: 'success', text: `${name} is connected${who ? ` as ${who}` : ''}.${pick}` };
  }
  const failure =
    connection?.lastTest && !connection.lastTest.valid && connection.lastTest.message
      ? sentence(connection.lastTest.message)
      : describeConsentCode(outcome.code);
  return { kind: 'error', text: `${name} was not connected. ${failure}` };
}

function ConnectionsSection(props: {
  base: string;
  projectId: string;
  canManage: boolean;
  connections: AppConnection[] | undefined;
  loading: boolean;
  error: string | undefined;
  reload: () => void;
  runners: Runner[];
}) {
  const { base, projectId, canManage, connections, reload, runners } = props;
  const [adding, setAdding] = useState(false);
  const [targeting, setTargeting] = useState<AppConnection>();
  const [showingCredential, setShowingCredential] = useState<AppConnection>();
  const [testing, setTesting] = useState<string>();
  const [notice, setNotice] = useState<Notice>();
  const runnerName = (id: string) => runners.find((r) => r.id === id)?.name ?? id;

  // Back from an oauth consent (?keyway_authorization=connected|failed&keyway_error=code): drop the
  // parameters at once so a reload does not say it again, and say how it went once the connections
  // (with the new status, identity or failure) are loaded.
  const [outcome, setOutcome] = useState<ConsentOutcome | undefined>(() => {
    const query = new URLSearchParams(window.location.search);
    const result = query.get('keyway_authorization');
    if (result !== 'connected' && result !== 'failed') return undefined;
    return { ok: result === 'connected', code: query.get('keyway_error'), connectionId: startedConsent(projectId) };
  });
  useEffect(() => {
    if (!new URLSearchParams(window.location.search).has('keyway_authorization')) return;
    forgetConsent();
    navigate(projectPath(projectId), { replace: true });
  }, [projectId]);
  useEffect(() => {
    if (!outcome || !connections) return;
    setNotice(consentNotice(outcome, connections));
    setOutcome(undefined);
  }, [outcome, connections]);

  const deleteConnection = useConfirm((connection: AppConnection) => ({
    title: `Delete app connection ${connection.name}?`,
    confirmLabel: 'Delete connection',
    body: <p>The runner forgets its credential. Syncs that use it must be deleted or moved to another connection first.</p>,
    run: async () => {
      await api.delete(`${base}/app-connections/${encodeURIComponent(connection.id)}`);
      setNotice({ kind: 'success', text: `App connection ${connection.name} was deleted.` });
      reload();
    },
  }));

  async function test(connection: AppConnection) {
    setTesting(connection.id);
    setNotice(undefined);
    try {
      const result = await api.post<ConnectionValidation>(`${base}/app-connections/${encodeURIComponent(connection.id)}/test`);
      setNotice({ kind: result.valid ? 'success' : 'error', text: `${connection.name}: ${describeValidation(result)}` });
    } catch (err) {
      setNotice({ kind: 'error', text: `${connection.name}: ${sentence(messageOf(err))}` });
    } finally {
      setTesting(undefined);
      reload();
    }
  }

  return (
    <section className="section" aria-labelledby="app-connections">
      <SectionHeading id="app-connections" title="App connections">
        {canManage && (
          <button type="button" className="button-primary" onClick={() => setAdding(true)}>
            Add an app connection
          </button>
        )}
      </SectionHeading>
      <p className="muted">
        Credentials automation uses to reach Azure DevOps. They are write-only: the runner keeps them and nobody can read them back.
      </p>
      <ListingTable
        notice={notice}
        items={connections}
        error={props.error}
        loading={props.loading}
        empty={`No app connections yet.${canManage ? ' Add one so syncs can write to Azure DevOps.' : ' A project owner can add one.'}`}
        label="App connections"
        columns={['Name', 'Method', 'Organization', 'Acts as', 'Status', 'Last test']}
        actions
      >
        {(c) => (
          <tr key={c.id}>
            <td>
              <strong>{c.name}</strong>
              <div className="muted">on {runnerName(c.runnerId)}</div>
              <div className="muted">
                {c.memberTargets?.length
                  ? `Members may target ${describeMemberTargets(c.memberTargets)}`
                  : 'Only owners add syncs through it'}
              </div>
            </td>
            <td>{connectionMethodLabel(c.method)}</td>
            <td>
              {c.organization ??
                (c.method === 'oauth' ? (
                  <span className="muted">{c.credentialSet ? 'Not picked yet' : '—'}</span>
                ) : c.organizations?.length ? (
                  c.organizations.join(', ')
                ) : (
                  '—'
                ))}
            </td>
            <td>{c.identity?.displayName ?? c.identity?.id ?? '—'}</td>
            <td>
              <ConnectionStatus connection={c} />
            </td>
            <td>
              {c.lastTest ? (
                <>
                  <Time value={c.lastTest.testedAt} />
                  {!c.lastTest.valid && <div className="field-error">{describeValidation(c.lastTest)}</div>}
                  {expiryWarning(c.credentialState) && <div className="field-warning">{expiryWarning(c.credentialState)}</div>}
                </>
              ) : (
                <span className="muted">—</span>
              )}
            </td>
            <td className="row-actions">
              <button
                type="button"
                className="button-small"
                onClick={() => void test(c)}
                disabled={testing === c.id}
                aria-label={`Test app connection ${c.name}`}
              >
                {testing === c.id ? 'Testing…' : 'Test'}
              </button>
              {canManage && c.method === 'oauth' && (
                <button
                  type="button"
                  className={notConnected(c) ? 'button-small button-primary' : 'button-small'}
                  onClick={() => startConsent(projectId, c.id)}
                  aria-label={`${notConnected(c) ? 'Connect' : 'Reconnect'} app connection ${c.name}`}
                >
                  {notConnected(c) ? 'Connect' : 'Reconnect'}
                </button>
              )}
              {SECRETLESS.includes(c.method) && (
                <button
                  type="button"
                  className="button-small"
                  onClick={() => setShowingCredential(c)}
                  aria-label={`What to register for app connection ${c.name}`}
                >
                  {c.method === 'certificate' ? 'Certificate' : c.method === 'workload-identity' ? 'Federated credential' : 'Identity'}
                </button>
              )}
              {canManage && (
                <button type="button" className="button-small" onClick={() => setTargeting(c)} aria-label={`Member targets of ${c.name}`}>
                  Member targets
                </button>
              )}
              {canManage && (
                <DangerButton label={`Delete app connection ${c.name}`} onClick={() => deleteConnection.ask(c)}>
                  Delete
                </DangerButton>
              )}
            </td>
          </tr>
        )}
      </ListingTable>
      {connections
        ?.filter((c) => c.method === 'oauth' && c.credentialSet && !c.organization)
        .map((c) => (
          <OrganizationPicker
            key={c.id}
            base={base}
            connection={c}
            canManage={canManage}
            onPicked={(saved, organization) => {
              const checked = saved.validation ? ` ${describeValidation(saved.validation)}` : '';
              setNotice({
                kind: saved.validation && !saved.validation.valid ? 'warning' : 'success',
                text: `App connection ${c.name} now writes to organization ${organization}.${checked}`,
              });
              reload();
            }}
          />
        ))}
      {adding && (
        <AppConnectionDialog
          projectId={projectId}
          onClose={closeWithNotice(
            () => setAdding(false),
            setNotice,
            (created) => ({
              kind: created.validation.valid ? 'success' : 'warning',
              text: `App connection ${created.connection.name} was created. ${describeValidation(created.validation)}`,
            }),
            (created) => {
              // Without a secret, what to register comes next: the certificate, the federated credential.
              if (!created.validation.valid && SECRETLESS.includes(created.connection.method)) setShowingCredential(created.connection);
              reload();
            },
          )}
        />
      )}
      {showingCredential && (
        <ClientCredentialDialog
          projectId={projectId}
          connection={showingCredential}
          canManage={canManage}
          onClose={() => setShowingCredential(undefined)}
        />
      )}
      {targeting && (
        <MemberTargetsDialog
          projectId={projectId}
          connection={targeting}
          onClose={closeWithNotice(() => setTargeting(undefined), setNotice, savedMessage, reload)}
        />
      )}
      {deleteConnection.dialog}
    </section>
  );
}

/**
 * An oauth connection consented to without an organization: it reaches the organizations of the
 * account that signed in, and syncs need one of them.
 */
function OrganizationPicker(props: {
  base: string;
  connection: AppConnection;
  canManage: boolean;
  onPicked: (saved: UpdatedConnection, organization: string) => void;
}) {
  const { base, connection, canManage, onPicked } = props;
  const headingId = useId();
  const organizations = connection.organizations ?? connection.lastTest?.organizations ?? [];
  const [choice, setChoice] = useState(organizations[0] ?? '');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const who = connection.identity?.displayName ?? connection.identity?.id ?? 'The account that signed in';
  const selected = organizations.includes(choice) ? choice : (organizations[0] ?? '');

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!selected) return;
    setBusy(true);
    setError(undefined);
    try {
      const saved = await api.patch<UpdatedConnection>(`${base}/app-connections/${encodeURIComponent(connection.id)}`, {
        organization: selected,
      });
      onPicked(saved, selected);
    } catch (err) {
      setError(sentence(messageOf(err)));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card" aria-labelledby={headingId} onSubmit={(e) => void submit(e)} noValidate>
      <h3 id={headingId}>Pick the organization of {connection.name}</h3>
      {error && <Alert>{error}</Alert>}
      {organizations.length === 0 ? (
        <p>
          {who} reaches no Azure DevOps organization. Reconnect with an account that is a member of the organization syncs should write to.
        </p>
      ) : (
        <>
          <p className="muted">
            {who} reaches{' '}
            {organizations.length === 1 ? 'this Azure DevOps organization' : `${organizations.length} Azure DevOps organizations`}. Syncs
            through {connection.name} write to the one picked here.
          </p>
          {canManage ? (
            <div className="filter">
              <SelectField
                label="Azure DevOps organization"
                name="organization"
                value={selected}
                onChange={(e) => setChoice(e.target.value)}
              >
                {organizations.map((o) => (
                  <option key={o} value={o}>
                    {o}
                  </option>
                ))}
              </SelectField>
              <FormActions submit={busy ? 'Saving…' : 'Use organization'} disabled={busy} />
            </div>
          ) : (
            <p>{organizations.join(', ')}: a project owner picks one.</p>
          )}
        </>
      )}
    </form>
  );
}

function RunStatus({ run }: { run: SyncRun }) {
  const cls = run.status === 'succeeded' ? 'badge-online' : run.status === 'failed' ? 'badge-failed' : 'badge-pending';
  const label = run.status.charAt(0).toUpperCase() + run.status.slice(1);
  return <span className={`badge ${cls}`}>{label}</span>;
}

function describeCounts(run: SyncRun): string {
  if (!run.counts) return '—';
  const { created, updated, deleted, unchanged } = run.counts;
  return `${created} created, ${updated} updated, ${deleted} deleted, ${unchanged} unchanged`;
}

const activeRun = (run: SyncRun | null | undefined) => run?.status === 'queued' || run?.status === 'running';

function SyncsSection(props: {
  base: string;
  projectId: string;
  canManage: boolean;
  connections: AppConnection[];
  runners: Runner[];
  syncs: VariableSync[] | undefined;
  loading: boolean;
  error: string | undefined;
  reload: () => void;
}) {
  const { base, projectId, canManage, connections, runners, syncs, reload } = props;
  const [adding, setAdding] = useState(false);
  const [editing, setEditing] = useState<VariableSync>();
  const [adopting, setAdopting] = useState<VariableSync>();
  const [running, setRunning] = useState<string>();
  const [history, setHistory] = useState<Record<string, number>>({});
  const [notice, setNotice] = useState<Notice>();
  const busy = syncs?.some((s) => s.running || activeRun(s.lastRun)) ?? false;

  // A run started by a change finishes in the background: keep the list fresh until it does.
  useEffect(() => {
    if (!busy) return;
    const timer = window.setInterval(reload, 1000);
    return () => window.clearInterval(timer);
  }, [busy, reload]);

  const bumpHistory = (id: string) => setHistory((h) => (id in h ? { ...h, [id]: h[id]! + 1 } : h));

  const deleteSync = useConfirm((sync: VariableSync) => ({
    title: `Delete sync ${sync.name}?`,
    confirmLabel: 'Delete sync',
    body: <p>The runner forgets the values. The variable group {sync.groupName} in Azure DevOps stays as it is.</p>,
    run: async () => {
      await api.delete(`${base}/syncs/${encodeURIComponent(sync.id)}`);
      setNotice({
        kind: 'success',
        text: `Sync ${sync.name} was deleted. The variable group in Azure DevOps was left as it is.`,
      });
      reload();
    },
  }));

  async function runNow(sync: VariableSync) {
    setRunning(sync.id);
    setNotice(undefined);
    try {
      const run = await api.post<SyncRun>(`${base}/syncs/${encodeURIComponent(sync.id)}/run?waitSeconds=30`);
      setNotice(
        run.status === 'succeeded'
          ? { kind: 'success', text: `${sync.name}: the run succeeded (${describeCounts(run)}).` }
          : run.status === 'failed'
            ? { kind: 'error', text: `${sync.name}: the run failed. ${sentence(run.error ?? 'No reason was given.')}` }
            : { kind: 'info', text: `${sync.name}: the run is ${run.status}; it finishes in the background.` },
      );
    } catch (err) {
      setNotice({ kind: 'error', text: `${sync.name}: ${sentence(messageOf(err))}` });
    } finally {
      setRunning(undefined);
      reload();
      bumpHistory(sync.id);
    }
  }

  return (
    <section className="section" aria-labelledby="variable-syncs">
      <SectionHeading id="variable-syncs" title="Variable group syncs">
        <button type="button" className="button-primary" onClick={() => setAdding(true)} disabled={connections.length === 0}>
          Add a sync
        </button>
      </SectionHeading>
      <p className="muted">
        Keep an Azure DevOps variable group equal to the variables set here, through an app connection.
        {connections.length === 0 ? ' Add an app connection first.' : ''}
      </p>
      <Listing notice={notice} items={syncs} error={props.error} loading={props.loading} empty="No syncs yet.">
        {(items) => (
          <ul className="card-list">
            {items.map((s) => {
              const connection = connections.find((c) => c.id === s.connectionId);
              return (
                <li key={s.id} className="card">
                  <h3>
                    {s.name} {!s.enabled && <span className="tag">paused</span>}
                  </h3>
                  <dl className="details details-compact">
                    <Detail term="Variable group">
                      {s.organization}/{s.project}/<strong>{s.groupName}</strong>
                    </Detail>
                    <Detail term="Through">{connection?.name ?? s.connectionId}</Detail>
                    {(s.adoptExisting || (s.takeOver?.length ?? 0) > 0) && (
                      <Detail term="Existing group">
                        {s.adoptExisting ? 'Adopted' : 'Not adopted'}
                        {s.takeOver?.length ? `; takes over ${s.takeOver.join(', ')}` : ''}
                      </Detail>
                    )}
                    <Detail term="Schedule">{s.scheduleMinutes ? `Every ${s.scheduleMinutes} minutes` : 'On change and on demand'}</Detail>
                    <Detail term="Last run">
                      {s.lastRun ? (
                        <>
                          <RunStatus run={s.lastRun} /> <Time value={s.lastRun.finishedAt ?? s.lastRun.createdAt} />
                        </>
                      ) : (
                        'Never'
                      )}
                    </Detail>
                    <Detail term={`Variables (${s.variableCount})`} wide>
                      {s.variables.length === 0
                        ? 'None yet'
                        : s.variables.map((v) => (
                            <code key={v.name} className="scope">
                              {v.name}
                              {v.isSecret ? ' (secret)' : ''}
                            </code>
                          ))}
                    </Detail>
                  </dl>
                  {s.lastRun?.status === 'failed' && s.lastRun.error && <Alert>Last run failed: {sentence(s.lastRun.error)}</Alert>}
                  <div className="actions">
                    <button
                      type="button"
                      className="button-small"
                      onClick={() => void runNow(s)}
                      disabled={running === s.id || s.running}
                      aria-label={`${running === s.id || s.running ? 'Running' : 'Run now'} (${s.name})`}
                    >
                      {running === s.id || s.running ? 'Running…' : 'Run now'}
                    </button>
                    <button
                      type="button"
                      className="button-small"
                      onClick={() => setEditing(s)}
                      aria-label={`Change variables of ${s.name}`}
                    >
                      Change variables
                    </button>
                    {canManage && (
                      <button
                        type="button"
                        className="button-small"
                        onClick={() => setAdopting(s)}
                        aria-label={`Existing group of ${s.name}`}
                      >
                        Existing group
                      </button>
                    )}
                    <button
                      type="button"
                      className="button-small"
                      aria-expanded={s.id in history}
                      onClick={() =>
                        setHistory((h) => {
                          const next = { ...h };
                          if (s.id in next) delete next[s.id];
                          else next[s.id] = 0;
                          return next;
                        })
                      }
                      aria-label={`Run history of ${s.name}`}
                    >
                      Run history
                    </button>
                    <DangerButton label={`Delete sync ${s.name}`} onClick={() => deleteSync.ask(s)}>
                      Delete
                    </DangerButton>
                  </div>
                  {s.id in history && (
                    <RunHistory
                      key={`${s.id}:${history[s.id]}:${s.lastRun?.id ?? ''}:${s.lastRun?.status ?? ''}`}
                      path={`${base}/syncs/${encodeURIComponent(s.id)}/runs?limit=20`}
                      name={s.name}
                    />
                  )}
                </li>
              );
            })}
          </ul>
        )}
      </Listing>
      {(adding || editing) && (
        <SyncDialog
          projectId={projectId}
          connections={connections}
          runners={runners}
          canManage={canManage}
          sync={editing}
          onClose={closeWithNotice(
            () => {
              setAdding(false);
              setEditing(undefined);
            },
            setNotice,
            savedMessage,
            (result) => {
              reload();
              bumpHistory(result.sync.id);
            },
          )}
        />
      )}
      {adopting && (
        <SyncAdoptionDialog
          projectId={projectId}
          sync={adopting}
          onClose={closeWithNotice(() => setAdopting(undefined), setNotice, savedMessage, reload)}
        />
      )}
      {deleteSync.dialog}
    </section>
  );
}

function RunHistory({ path, name }: { path: string; name: string }) {
  const runs = useApi<{ runs: SyncRun[] }>(path);
  return (
    <ListingTable
      items={runs.data?.runs}
      loaded={runs}
      empty="No runs yet."
      label={`Run history of ${name}`}
      columns={['Started', 'Trigger', 'Status', 'Changes', 'Requests', 'Duration']}
    >
      {(run) => (
        <tr key={run.id}>
          <TimeCell value={run.startedAt ?? run.createdAt} />
          <td>{run.trigger}</td>
          <td>
            <RunStatus run={run} />
            {run.error && <div className="field-error">{sentence(run.error)}</div>}
          </td>
          <td>{describeCounts(run)}</td>
          <td>
            {run.requests ?? '—'}
            {run.retries ? ` (${run.retries} retried)` : ''}
          </td>
          <td>{run.durationMs !== null ? `${(run.durationMs / 1000).toFixed(1)} s` : '—'}</td>
        </tr>
      )}
    </ListingTable>
  );
}
