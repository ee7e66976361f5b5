import { useEffect, useId, useRef, useState } from 'react';
import { api, messageOf } from '../api.ts';
import { CopyField } from '../components/copy.tsx';
import { useConfirm } from '../components/dialog.tsx';
import { ListingTable } from '../components/listing.tsx';
import { Alert, PageHeading, StatusText, Time } from '../components/page.tsx';
import { DangerCell, TimeCell } from '../components/table.tsx';
import { Link } from '../router.tsx';
import { sentence } from '../text.ts';
import type { Environment, EnvironmentStatus, Runner } from '../types.ts';
import { useApi } from '../use-api.ts';

/** How often a cloning environment is asked about (the runner reports progress as git runs). */
export const POLL_MS = 500;

const STATUS_LABEL: Record<EnvironmentStatus, string> = { cloning: 'Cloning', ready: 'Ready', failed: 'Failed', deleting: 'Deleting' };
const STATUS_BADGE: Record<EnvironmentStatus, string> = {
  cloning: 'badge-pending',
  ready: 'badge-online',
  failed: 'badge-failed',
  deleting: 'badge-offline',
};

export function EnvironmentStatusBadge({ status }: { status: EnvironmentStatus }) {
  return <span className={`badge ${STATUS_BADGE[status] ?? 'badge-offline'}`}>{STATUS_LABEL[status] ?? status}</span>;
}

export function describeRef(ref: Environment['ref']): string {
  if (!ref) return 'default branch';
  switch (ref.type) {
    case 'pullRequest':
      return `pull request ${ref.pullRequestId ?? ''}${ref.checkout ? ` (${ref.checkout === 'source' ? 'source branch' : 'merge commit'})` : ''}`.trim();
    case 'commit':
      return `commit ${(ref.sha ?? '').slice(0, 12)}`;
    case 'tag':
      return `tag ${ref.name ?? ''}`;
    default:
      return `branch ${ref.name ?? ''}`;
  }
}

const settled = (status: EnvironmentStatus) => status === 'ready' || status === 'failed';

/** 1536 → "1.5 KB": the workspace's size as the runner measured it. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/**
 * One environment as it clones: polls GET /api/v1/environments/:id every 500 ms until it is ready or
 * failed, showing git's phase and a <progress>. Phase changes and the outcome are announced politely.
 */
export function EnvironmentProgress({ initial, onSettled }: { initial: Environment; onSettled?: (environment: Environment) => void }) {
  const [environment, setEnvironment] = useState(initial);
  const [error, setError] = useState<string>();
  const settledRef = useRef(onSettled);
  settledRef.current = onSettled;
  const labelId = useId();

  useEffect(() => {
    if (settled(initial.status)) {
      settledRef.current?.(initial);
      return;
    }
    let stop = false;
    let timer: number | undefined;
    const controller = new AbortController();
    async function poll() {
      try {
        const next = await api.get<Environment>(`/environments/${encodeURIComponent(initial.id)}`, controller.signal);
        if (stop) return;
        setEnvironment(next);
        setError(undefined);
        if (settled(next.status)) {
          settledRef.current?.(next);
          return;
        }
      } catch (err) {
        if (stop) return;
        setError(messageOf(err));
      }
      timer = window.setTimeout(() => void poll(), POLL_MS);
    }
    timer = window.setTimeout(() => void poll(), POLL_MS);
    return () => {
      stop = true;
      controller.abort();
      window.clearTimeout(timer);
    };
  }, [initial]);

  const { progress, status } = environment;
  const name = `${environment.repository.project}/${environment.repository.repository}`;
  const percent = status === 'ready' ? 100 : Math.max(0, Math.min(100, progress?.percent ?? 0));
  return (
    <div className="environment-progress" data-status={status}>
      <p id={labelId}>
        <EnvironmentStatusBadge status={status} /> <strong>{name}</strong> at {describeRef(environment.ref)}
        {status === 'cloning' && progress && (
          <span className="muted">
            {' '}
            — {progress.phase} {progress.percent}%
          </span>
        )}
      </p>
      {(status === 'cloning' || status === 'ready') && <progress aria-labelledby={labelId} max={100} value={percent} />}
      <StatusText>
        {status === 'cloning'
          ? `Cloning: ${progress?.phase ?? 'queued'}`
          : status === 'ready'
            ? `${name} is ready.`
            : status === 'failed'
              ? `Cloning ${name} failed.`
              : ''}
      </StatusText>
      {error && <Alert kind="warning">Could not read the progress: {error} Retrying…</Alert>}
      {status === 'failed' && environment.error && <Alert>{sentence(environment.error.message)}</Alert>}
      {status === 'ready' && (
        <>
          {environment.checkout && (
            <p>
              Checked out {environment.checkout.description} at <code>{environment.checkout.commit.slice(0, 12)}</code>.
            </p>
          )}
          {environment.workspacePath && (
            <CopyField
              label="Workspace on the runner"
              value={environment.workspacePath}
              hint="git fetch and push there ask the runner for a fresh token each time."
            />
          )}
        </>
      )}
    </div>
  );
}

export function EnvironmentsPage() {
  const list = useApi<{ environments: Environment[] }>('/environments');
  const runners = useApi<{ runners: Runner[] }>('/runners');
  const [notice, setNotice] = useState<{ kind: 'success' | 'info'; text: string }>();
  const environments = list.data?.environments;
  const busy = environments?.some((e) => e.status === 'cloning' || e.status === 'deleting') ?? false;
  const { reload } = list;

  // While something clones or is being deleted, keep the list fresh.
  useEffect(() => {
    if (!busy) return;
    const timer = window.setInterval(reload, 1000);
    return () => window.clearInterval(timer);
  }, [busy, reload]);

  const runnerName = (id: string) => runners.data?.runners.find((r) => r.id === id)?.name ?? id;

  const deleteEnvironment = useConfirm((environment: Environment) => ({
    title: `Delete the environment of ${environment.repository.repository}?`,
    confirmLabel: 'Delete environment',
    body: (
      <p>
        The runner removes the workspace
        {environment.workspacePath ? (
          <>
            {' '}
            (<code>{environment.workspacePath}</code>)
          </>
        ) : null}{' '}
        with any changes not pushed, and its git stops getting tokens.
      </p>
    ),
    run: async () => {
      const answer = await api.delete<{ status: string; message: string } | undefined>(
        `/environments/${encodeURIComponent(environment.id)}`,
      );
      setNotice(
        answer?.message
          ? { kind: 'info', text: sentence(answer.message) }
          : { kind: 'success', text: `The environment of ${environment.repository.repository} was deleted.` },
      );
      reload();
    },
  }));

  return (
    <>
      <PageHeading title="Environments">
        <Link to="/open" className="button-link">
          Open a repository
        </Link>
      </PageHeading>
      <p className="lead">
        Workspaces the runners cloned for you. Their git asks the runner for a fresh token on each fetch and push. Each person may keep a
        limited number of environments and clone a few at once; runners remove environments left unused for a long time. Delete the ones you
        no longer need.
      </p>
      <ListingTable
        notice={notice}
        items={environments}
        loaded={list}
        empty={
          <>
            No environments yet. <Link to="/open">Open a repository</Link> to create one.
          </>
        }
        label="Environments"
        columns={['Repository', 'Ref', 'Status', 'Runner', 'Disk and last use', 'Created']}
        actions
      >
        {(env) => (
          <tr key={env.id}>
            <td>
              <strong>
                {env.repository.project}/{env.repository.repository}
              </strong>
              <div className="muted">{env.repository.organization}</div>
              {env.workspacePath && <div className="mono muted">{env.workspacePath}</div>}
            </td>
            <td>{describeRef(env.ref)}</td>
            <td>
              <EnvironmentStatusBadge status={env.status} />
              {env.status === 'cloning' && env.progress && (
                <div className="muted">
                  {env.progress.phase} {env.progress.percent}%
                </div>
              )}
              {env.status === 'failed' && env.error && <div className="field-error">{sentence(env.error.message)}</div>}
            </td>
            <td>{runnerName(env.runnerId)}</td>
            <td>
              {env.diskBytes !== null && env.diskBytes !== undefined ? (
                <span>{formatBytes(env.diskBytes)}</span>
              ) : (
                <span className="muted">—</span>
              )}
              {env.status === 'ready' && (
                <div className="muted">
                  {env.lastUsedAt ? (
                    <>
                      used <Time value={env.lastUsedAt} />
                    </>
                  ) : (
                    'not used yet'
                  )}
                </div>
              )}
            </td>
            <TimeCell value={env.createdAt} />
            <DangerCell
              shown={env.status !== 'deleting'}
              label={`Delete environment ${env.repository.repository} (${describeRef(env.ref)})`}
              onClick={() => deleteEnvironment.ask(env)}
            >
              Delete
            </DangerCell>
          </tr>
        )}
      </ListingTable>
      {deleteEnvironment.dialog}
    </>
  );
}
