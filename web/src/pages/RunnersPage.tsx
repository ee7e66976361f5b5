import { useRef, useState } from 'react';
import type { FormEvent } from 'react';
import { api } from '../api.ts';
import { CopyField } from '../components/copy.tsx';
import { ConfirmDialog, Dialog } from '../components/dialog.tsx';
import { TextField } from '../components/fields.tsx';
import { NO_ERRORS, formErrorsFrom, useFocusFirstError } from '../components/forms.ts';
import type { FormErrors } from '../components/forms.ts';
import { Alert, Loading, PageHeading, TableWrap, Time } from '../components/page.tsx';
import { Link } from '../router.tsx';
import { useSession } from '../session.tsx';
import type { CreatedRunner, Runner, RunnerStatus } from '../types.ts';
import { useApi } from '../use-api.ts';

const STATUS_LABEL: Record<RunnerStatus, string> = { pending: 'Pending', online: 'Online', offline: 'Offline', revoked: 'Revoked' };

export function RunnerStatusBadge({ status }: { status: RunnerStatus }) {
  return <span className={`badge badge-${status}`}>{STATUS_LABEL[status] ?? status}</span>;
}

export function RunnersPage() {
  const { isAdmin } = useSession();
  const runners = useApi<{ runners: Runner[] }>('/runners');
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<Runner>();
  const [notice, setNotice] = useState<string>();

  return (
    <>
      <PageHeading title="Runners">
        {isAdmin && (
          <button type="button" className="button-primary" onClick={() => setCreating(true)}>
            Register a runner
          </button>
        )}
      </PageHeading>
      <p className="lead">Runners hold your users' Azure DevOps credentials and do the work that needs them. Open a runner to configure repository access.</p>
      {notice && <Alert kind="success">{notice}</Alert>}
      {runners.error && <Alert>{runners.error.message}</Alert>}
      {runners.loading && !runners.data && <Loading />}
      {runners.data &&
        (runners.data.runners.length === 0 ? (
          <p className="empty">No runners yet.{isAdmin ? ' Register one to get started.' : ' Ask an admin to register one.'}</p>
        ) : (
          <TableWrap label="Runners">
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Status</th>
                  <th scope="col">Last seen</th>
                  <th scope="col">Version</th>
                  <th scope="col">Key fingerprint</th>
                  {isAdmin && (
                    <th scope="col">
                      <span className="visually-hidden">Actions</span>
                    </th>
                  )}
                </tr>
              </thead>
              <tbody>
                {runners.data.runners.map((runner) => (
                  <tr key={runner.id}>
                    <td>
                      <Link to={`/runners/${encodeURIComponent(runner.id)}`}>{runner.name}</Link>
                      {runner.local && <span className="tag">local</span>}
                    </td>
                    <td>
                      <RunnerStatusBadge status={runner.status} />
                    </td>
                    <td>
                      <Time value={runner.lastSeenAt} />
                    </td>
                    <td>{runner.version ?? <span className="muted">—</span>}</td>
                    <td className="mono">{runner.publicKeyFingerprint ?? <span className="muted">not registered yet</span>}</td>
                    {isAdmin && (
                      <td className="row-actions">
                        {runner.status !== 'revoked' && (
                          <button type="button" className="button-small button-danger-outline" onClick={() => setRevoking(runner)} aria-label={`Revoke runner ${runner.name}`}>
                            Revoke
                          </button>
                        )}
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        ))}
      {creating && (
        <RegisterRunnerDialog
          onClose={() => {
            setCreating(false);
            runners.reload();
          }}
        />
      )}
      {revoking && (
        <ConfirmDialog
          title={`Revoke runner ${revoking.name}?`}
          confirmLabel="Revoke runner"
          onClose={() => setRevoking(undefined)}
          onConfirm={async () => {
            await api.delete(`/runners/${encodeURIComponent(revoking.id)}`);
            setNotice(`Runner ${revoking.name} was revoked.`);
            runners.reload();
          }}
        >
          <p>The runner can no longer connect or hand out credentials, and users lose the access it provided. This cannot be undone.</p>
        </ConfirmDialog>
      )}
    </>
  );
}

function RegisterRunnerDialog({ onClose }: { onClose: () => void }) {
  const [name, setName] = useState('');
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<CreatedRunner>();
  const formRef = useRef<HTMLFormElement>(null);
  useFocusFirstError(formRef, errors);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!name.trim()) return setErrors({ fields: { name: 'Give the runner a name, for example build-eu-1.' } });
    setBusy(true);
    setErrors(NO_ERRORS);
    try {
      setCreated(await api.post<CreatedRunner>('/runners', { name: name.trim() }));
    } catch (err) {
      setErrors(formErrorsFrom(err, { name: 'name' }));
    } finally {
      setBusy(false);
    }
  }

  if (created) {
    return (
      <Dialog key="created" title={`Runner ${created.runner.name} registered`} onClose={onClose} wide>
        <Alert kind="warning">
          Copy these now: the exchange token is shown only once and works only once
          {created.exchangeExpiresAt ? <>, until <Time value={created.exchangeExpiresAt} /></> : null}.
        </Alert>
        <CopyField label="Exchange token" value={created.exchangeToken} />
        <CopyField label="Command" value={created.command} multiline hint="Run this on the runner's machine. It exchanges the token for the runner's own credentials." />
        <div className="actions">
          <button type="button" className="button-primary" onClick={onClose} data-autofocus>
            Done
          </button>
        </div>
      </Dialog>
    );
  }

  return (
    <Dialog key="form" title="Register a runner" onClose={onClose}>
      <form ref={formRef} onSubmit={(e) => void submit(e)} noValidate>
        {errors.form && <Alert>{errors.form}</Alert>}
        <TextField label="Name" name="name" value={name} onChange={(e) => setName(e.target.value)} error={errors.fields.name} hint="Letters, digits, spaces, dots, dashes or underscores; up to 64. For example build-eu-1." maxLength={64} required />
        <div className="actions">
          <button type="submit" className="button-primary" disabled={busy}>
            {busy ? 'Registering…' : 'Register runner'}
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
