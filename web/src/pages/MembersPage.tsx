import { useState } from 'react';
import type { FormEvent } from 'react';
import { api, messageOf } from '../api.ts';
import { SelectField, TextField } from '../components/fields.tsx';
import { Form, FormActions } from '../components/form.tsx';
import { NO_ERRORS, formErrorsFrom, useFormErrors } from '../components/forms.ts';
import { Listing } from '../components/listing.tsx';
import { Alert, Card, PageHeading, Time } from '../components/page.tsx';
import { DataTable } from '../components/table.tsx';
import { useSession } from '../session.tsx';
import type { Member, Role } from '../types.ts';
import { useApi } from '../use-api.ts';

export function MembersPage() {
  const { me } = useSession();
  const members = useApi<{ members: Member[] }>('/members');
  const [notice, setNotice] = useState<{ kind: 'success' | 'error'; text: string }>();

  async function changeRole(member: Member, role: Role) {
    setNotice(undefined);
    try {
      await api.put(`/members/${encodeURIComponent(member.id)}/role`, { role });
      setNotice({ kind: 'success', text: `${member.email} is now ${role === 'admin' ? 'an admin' : 'a member'}.` });
    } catch (err) {
      setNotice({ kind: 'error', text: messageOf(err) });
    }
    members.reload();
  }

  return (
    <>
      <PageHeading title="Members" />
      <p className="lead">People in {me.organization.name}. Admins manage runners, repository access, members and the audit log.</p>
      <AddMemberForm onAdded={(text) => { setNotice({ kind: 'success', text }); members.reload(); }} />
      <h2>Current members</h2>
      {notice && <Alert kind={notice.kind}>{notice.text}</Alert>}
      <Listing items={members.data?.members} error={members.error?.message} loading={members.loading}>
        {(list) => (
          <DataTable label="Members" columns={['Name', 'Email', 'Role', 'Added', 'Status']}>
            {list.map((member) => (
              <tr key={member.id}>
                <td>{member.displayName}</td>
                <td>{member.email}</td>
                <td>
                  {member.id === me.user.id ? (
                    <span>{member.role} (you)</span>
                  ) : (
                    <select aria-label={`Role of ${member.email}`} value={member.role} onChange={(e) => void changeRole(member, e.target.value as Role)}>
                      <option value="member">member</option>
                      <option value="admin">admin</option>
                    </select>
                  )}
                </td>
                <td>
                  <Time value={member.createdAt} />
                </td>
                <td>{member.disabled ? <span className="badge badge-revoked">Disabled</span> : <span className="badge badge-online">Active</span>}</td>
              </tr>
            ))}
          </DataTable>
        )}
      </Listing>
    </>
  );
}

function AddMemberForm({ onAdded }: { onAdded: (message: string) => void }) {
  const [email, setEmail] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('member');
  const { errors, setErrors, formRef } = useFormErrors();
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!email.trim()) return setErrors({ fields: { email: 'Enter the email address of the person to add.' } });
    setBusy(true);
    setErrors(NO_ERRORS);
    try {
      const created = await api.post<{ id: string; email: string; created: boolean }>('/members', {
        email: email.trim(),
        ...(displayName.trim() ? { displayName: displayName.trim() } : {}),
        ...(password ? { password } : {}),
        role,
      });
      setEmail('');
      setDisplayName('');
      setPassword('');
      setRole('member');
      onAdded(created.created ? `Added ${created.email}.` : `${created.email} already had a Keyway account and was added to this organization.`);
    } catch (err) {
      setErrors(formErrorsFrom(err, { email: 'email', displayName: 'displayName', password: 'password', role: 'role' }));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Card id="add-member" title="Add a member">
      <Form ref={formRef} onSubmit={submit} error={errors.form}>
        <div className="field-row">
          <TextField label="Email" name="email" type="email" autoComplete="off" value={email} onChange={(e) => setEmail(e.target.value)} error={errors.fields.email} required />
          <TextField label="Display name" name="displayName" autoComplete="off" value={displayName} onChange={(e) => setDisplayName(e.target.value)} error={errors.fields.displayName} hint="Optional; defaults to the email." />
        </div>
        <div className="field-row">
          <TextField
            label="Initial password"
            name="password"
            type="password"
            autoComplete="new-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            error={errors.fields.password}
            hint="Optional, at least 12 characters. Share it safely; they can change it under Account."
          />
          <SelectField label="Role" name="role" value={role} onChange={(e) => setRole(e.target.value as Role)} error={errors.fields.role}>
            <option value="member">Member</option>
            <option value="admin">Admin</option>
          </SelectField>
        </div>
        <FormActions submit={busy ? 'Adding…' : 'Add member'} disabled={busy} />
      </Form>
    </Card>
  );
}
