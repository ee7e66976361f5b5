import { useState } from 'react';

import { api } from '../api.ts';
import { TextField } from '../components/fields.tsx';
import { Form, FormActions } from '../components/form.tsx';
import { asSentences, bindField, formErrorsFrom, useSubmission } from '../components/forms.ts';
import { useConfirm } from '../components/dialog.tsx';
import { ListingTable } from '../components/listing.tsx';
import { Alert, Card, PageHeading } from '../components/page.tsx';
import { TimeCell } from '../components/table.tsx';
import { useSession } from '../session.tsx';
import type { InstanceOrganization, InstanceUser, Organization } from '../types.ts';
import { useApi } from '../use-api.ts';

/** What instance operators do for the whole Keyway: create organizations, disable and enable accounts. */
export function InstancePage() {
  return (
    <>
      <PageHeading title="Instance" />
      <p className="lead">Everything on this Keyway, whatever the organization. Only instance operators see this page.</p>
      <Organizations />
      <Accounts />
    </>
  );
}

function Organizations() {
  const { refresh } = useSession();
  const organizations = useApi<{ organizations: InstanceOrganization[] }>('/organizations');
  const [name, setName] = useState('');
  const { errors, setErrors, formRef, busy, attempt } = useSubmission();
  const [notice, setNotice] = useState<string>();

  async function submit() {
    setNotice(undefined);
    if (!name.trim()) return setErrors({ fields: { name: 'Enter a name for the organization.' } });
    await attempt(
      async () => {
        const created = await api.post<Organization>('/organizations', { name: name.trim() });
        setName('');
        setNotice(`${created.name} was created, with you as its admin. Switch to it in the header to invite its people.`);
        organizations.reload();
        // The header's organization switcher lists it now.
        await refresh();
      },
      (err) => asSentences(formErrorsFrom(err, { name: 'name' })),
    );
  }

  return (
    <>
      <Card id="create-organization" title="Create an organization">
        <Form ref={formRef} onSubmit={submit} error={errors.form}>
          {notice && <Alert kind="success">{notice}</Alert>}
          <TextField
            label="Organization name"
            {...bindField(errors, 'name', name, setName)}
            autoComplete="off"
            maxLength={100}
            hint="You become its first admin."
          />
          <FormActions submit={busy ? 'Creating…' : 'Create organization'} disabled={busy} />
        </Form>
      </Card>
      <h2 id="all-organizations">Organizations</h2>
      <ListingTable
        items={organizations.data?.organizations}
        loaded={organizations}
        label="Organizations"
        columns={['Name', 'Slug', 'Created']}
      >
        {(org) => (
          <tr key={org.id}>
            <td>{org.name}</td>
            <td className="mono">{org.slug}</td>
            <TimeCell value={org.createdAt} />
          </tr>
        )}
      </ListingTable>
    </>
  );
}

function Accounts() {
  const { me } = useSession();
  const users = useApi<{ users: InstanceUser[] }>('/users');
  const [notice, setNotice] = useState<string>();

  const changeAccount = useConfirm((user: InstanceUser) => ({
    title: `${user.disabled ? 'Enable' : 'Disable'} the account ${user.email}?`,
    confirmLabel: user.disabled ? 'Enable account' : 'Disable account',
    danger: !user.disabled,
    body: (
      <>
        {user.disabled ? (
          <p>
            They can sign in again and get back into the organizations they still belong to. Credentials deleted when they were disabled do
            not come back: they connect again.
          </p>
        ) : (
          <>
            <p>What happens at once:</p>
            <ul>
              <li>They cannot sign in, by password or single sign-on.</li>
              <li>Their sessions and API tokens end, in every organization.</li>
              <li>Every runner of their organizations deletes the Azure DevOps credentials they stored.</li>
            </ul>
            <p>Their memberships stay, so enabling the account later brings them back.</p>
          </>
        )}
      </>
    ),
    run: async () => {
      const result = await api.put<{ organizations: number; runners: number }>(`/users/${encodeURIComponent(user.id)}/disabled`, {
        disabled: !user.disabled,
      });
      setNotice(
        user.disabled
          ? `${user.email} can sign in again.`
          : `${user.email} is disabled: their sessions and API tokens ended, and ${result.runners === 1 ? '1 runner was' : `${result.runners} runners were`} asked to delete their stored credentials.`,
      );
      users.reload();
    },
  }));

  return (
    <>
      <h2 id="accounts">Accounts</h2>
      <ListingTable
        notice={notice}
        items={users.data?.users}
        loaded={users}
        label="Accounts"
        columns={['Name', 'Email', 'Operator', 'Status', 'Created']}
        actions
      >
        {(user) => (
          <tr key={user.id}>
            <td>{user.displayName}</td>
            <td>{user.email}</td>
            <td>{user.operator ? 'Yes' : 'No'}</td>
            <td>
              {user.disabled ? <span className="badge badge-revoked">Disabled</span> : <span className="badge badge-online">Active</span>}
            </td>
            <TimeCell value={user.createdAt} />
            <td className="row-actions">
              {user.id === me.user.id ? (
                <span className="muted">You</span>
              ) : (
                <button
                  type="button"
                  className={`button-small${user.disabled ? '' : ' button-danger-outline'}`}
                  onClick={() => changeAccount.ask(user)}
                  aria-label={`${user.disabled ? 'Enable' : 'Disable'} the account ${user.email}`}
                >
                  {user.disabled ? 'Enable' : 'Disable'}
                </button>
              )}
            </td>
          </tr>
        )}
      </ListingTable>
      {changeAccount.dialog}
    </>
  );
}
