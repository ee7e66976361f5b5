import { useState } from 'react';

import { api } from '../api.ts';
import { CopyField } from '../components/copy.tsx';
import { Dialog, useConfirm } from '../components/dialog.tsx';
import { TextField } from '../components/fields.tsx';
import { Form, FormActions } from '../components/form.tsx';
import { bindField, formErrorsFrom, useSubmission } from '../components/forms.ts';
import { ListingTable } from '../components/listing.tsx';
import { Alert, PageHeading, Time } from '../components/page.tsx';
import { DangerCell, TimeCell } from '../components/table.tsx';
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
  const [notice, setNotice] = useState<string>();
  const revoke = useConfirm((runner: Runner) => ({
    title: `Revoke runner ${runner.name}?`,
    confirmLabel: 'Revoke runner',
    body: <p>The runner can no longer connect or hand out credentials, and users lose the access it provided. This cannot be undone.</p>,
    run: async () => {
      await api.delete(`/runners/${encodeURIComponent(runner.id)}`);
      setNotice(`Runner ${runner.name} was revoked.`);
      runners.reload();
    },
  }));

  return (
    <>
      <PageHeading title="Runners">
        {isAdmin && (
          <button type="button" className="button-primary" onClick={() => setCreating(true)}>
            Register a runner
          </button>
        )}
      </PageHeading>
      <p className="lead">
        Runners hold your users' Azure DevOps credentials and do the work that needs them. Open a runner to configure repository access.
      </p>
      <ListingTable
        notice={notice}
        items={runners.data?.runners}
        loaded={runners}
        empty={`No runners yet.${isAdmin ? ' Register one to get started.' : ' Ask an admin to register one.'}`}
        label="Runners"
        columns={['Name', 'Status', 'Last seen', 'Version', 'Key fingerprint']}
        actions={isAdmin}
      >
        {(runner) => (
          <tr key={runner.id}>
            <td>
              <Link to={`/runners/${encodeURIComponent(runner.id)}`}>{runner.name}</Link>
              {runner.local && <span className="tag">local</span>}
            </td>
            <td>
              <RunnerStatusBadge status={runner.status} />
            </td>
            <TimeCell value={runner.lastSeenAt} />
            <td>{runner.version ?? <span className="muted">—</span>}</td>
            <td className="mono">{runner.publicKeyFingerprint ?? <span className="muted">not registered yet</span>}</td>
            {isAdmin && (
              <DangerCell shown={runner.status !== 'revoked'} label={`Revoke runner ${runner.name}`} onClick={() => revoke.ask(runner)}>
                Revoke
              </DangerCell>
            )}
          </tr>
        )}
      </ListingTable>
      {creating && (
        <RegisterRunnerDialog
          onClose={() => {
            setCreating(false);
            runners.reload();
          }}
        />
      )}
      {revoke.dialog}
    </>
  );
}

function RegisterRunnerDialog({ onClose }: { onClose: () => void }) {
  const [name, setName] = useState('');
  const { errors, setErrors, formRef, busy, attempt } = useSubmission();
  const [created, setCreated] = useState<CreatedRunner>();

  async function submit() {
    if (!name.trim()) return setErrors({ fields: { name: 'Give the runner a name, for example build-eu-1.' } });
    await attempt(
      async () => setCreated(await api.post<CreatedRunner>('/runners', { name: name.trim() })),
      (err) => formErrorsFrom(err, { name: 'name' }),
    );
  }

  if (created) {
    return (
      <Dialog key="created" title={`Runner ${created.runner.name} registered`} onClose={onClose} wide>
        <Alert kind="warning">
          Copy these now: the exchange token is shown only once and works only once
          {created.exchangeExpiresAt ? (
            <>
              , until <Time value={created.exchangeExpiresAt} />
            </>
          ) : null}
          .
        </Alert>
        <CopyField label="Exchange token" value={created.exchangeToken} />
        <CopyField
          label="Command"
          value={created.command}
          multiline
          hint="Run this on the runner's machine. It exchanges the token for the runner's own credentials."
        />
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
      <Form ref={formRef} onSubmit={submit} error={errors.form}>
        <TextField
          label="Name"
          {...bindField(errors, 'name', name, setName)}
          hint="Letters, digits, spaces, dots, dashes or underscores; up to 64. For example build-eu-1."
          maxLength={64}
          required
        />
        <FormActions submit={busy ? 'Registering…' : 'Register runner'} disabled={busy} onCancel={onClose} />
      </Form>
    </Dialog>
  );
}
