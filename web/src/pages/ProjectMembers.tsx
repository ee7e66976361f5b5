import { useState } from 'react';

import { api, messageOf } from '../api.ts';
import { Dialog, useConfirm } from '../components/dialog.tsx';
import { SelectField } from '../components/fields.tsx';
import { Form, FormActions } from '../components/form.tsx';
import { asSentences, bindField, formErrorsFrom, useSubmission } from '../components/forms.ts';
import { Alert, SectionHeading } from '../components/page.tsx';
import { DangerCell, TimeCell } from '../components/table.tsx';
import { ListingTable } from '../components/listing.tsx';
import { navigate } from '../router.tsx';
import { useSession } from '../session.tsx';
import { sentence } from '../text.ts';
import type { Member, Project, ProjectMember, ProjectRole } from '../types.ts';
import { useApi } from '../use-api.ts';

// Who is in a project. Owners and organization admins add members of the organization, change
// their role and remove them; everyone else in the project sees the list. The server decides
// (GET/POST/DELETE /projects/{id}/members) and keeps at least one owner; this shows its answers.

type Notice = { kind: 'success' | 'error'; text: string };

const ROLE_LABEL: Record<ProjectRole, string> = { owner: 'Owner', member: 'Member' };

const nameOf = (m: { displayName: string; email: string }) => m.displayName || m.email;

export function ProjectMembersSection({ project, onAccessChanged }: { project: Project; onAccessChanged: () => void }) {
  const { me, isAdmin } = useSession();
  const base = `/projects/${encodeURIComponent(project.id)}/members`;
  const members = useApi<{ members: ProjectMember[] }>(base);
  const canManage = project.role === 'admin' || project.role === 'owner';
  const [adding, setAdding] = useState(false);
  const [busy, setBusy] = useState<string>();
  const [notice, setNotice] = useState<Notice>();

  /** After changing their own place in the project, a non-admin may see less (or nothing) of it. */
  const removeMember = useConfirm((member: ProjectMember) => ({
    title: `Remove ${nameOf(member)} from ${project.name}?`,
    confirmLabel: 'Remove from project',
    body: (
      <p>
        {member.userId === me.user.id && !isAdmin
          ? `You will no longer see ${project.name}, its app connections or its syncs.`
          : `${nameOf(member)} will no longer see ${project.name}, its app connections or its syncs. Their account and their place in the organization stay.`}
      </p>
    ),
    run: async () => {
      await api.delete(`${base}/${encodeURIComponent(member.userId)}`);
      setNotice({ kind: 'success', text: `${nameOf(member)} was removed from ${project.name}.` });
      members.reload();
      afterOwnChange(member.userId, true);
    },
  }));

  function afterOwnChange(userId: string, removed: boolean) {
    if (userId !== me.user.id || isAdmin) return;
    if (removed) navigate('/projects');
    else onAccessChanged();
  }

  async function changeRole(member: ProjectMember, role: ProjectRole) {
    setBusy(member.userId);
    setNotice(undefined);
    try {
      await api.post(base, { userId: member.userId, role });
      setNotice({ kind: 'success', text: `${nameOf(member)} is now ${role === 'owner' ? 'an owner' : 'a member'} of ${project.name}.` });
      afterOwnChange(member.userId, false);
    } catch (err) {
      setNotice({
        kind: 'error',
        text: `${nameOf(member)} is still ${member.role === 'owner' ? 'an owner' : 'a member'}: ${sentence(messageOf(err))}`,
      });
    } finally {
      setBusy(undefined);
      members.reload();
    }
  }

  return (
    <section className="section" aria-labelledby="project-members">
      <SectionHeading id="project-members" title="Members">
        {canManage && (
          <button type="button" className="button-primary" onClick={() => setAdding(true)}>
            Add a member
          </button>
        )}
      </SectionHeading>
      <p className="muted">
        Owners manage the project's members and app connections; members use them.
        {canManage ? '' : ' Ask an owner of the project to add or remove someone.'}
      </p>
      <ListingTable
        notice={notice}
        items={members.data?.members}
        loaded={members}
        empty="Nobody is a member yet."
        label={`Members of ${project.name}`}
        columns={['Name', 'Email', 'Role', 'Added']}
        actions={canManage}
      >
        {(m) => {
          const you = m.userId === me.user.id;
          return (
            <tr key={m.userId}>
              <td>
                {nameOf(m)}
                {you && <span className="muted"> (you)</span>}
              </td>
              <td>{m.email}</td>
              <td>
                {canManage ? (
                  <select
                    aria-label={`Project role of ${nameOf(m)}`}
                    value={m.role}
                    disabled={busy === m.userId}
                    onChange={(e) => void changeRole(m, e.target.value as ProjectRole)}
                  >
                    <option value="member">{ROLE_LABEL.member}</option>
                    <option value="owner">{ROLE_LABEL.owner}</option>
                  </select>
                ) : (
                  ROLE_LABEL[m.role]
                )}
              </td>
              <TimeCell value={m.addedAt} />
              {canManage && (
                <DangerCell label={`Remove ${nameOf(m)} from the project`} onClick={() => removeMember.ask(m)}>
                  Remove
                </DangerCell>
              )}
            </tr>
          );
        }}
      </ListingTable>
      {adding && (
        <AddProjectMemberDialog
          project={project}
          present={members.data?.members ?? []}
          onClose={(added) => {
            setAdding(false);
            if (added) {
              setNotice({ kind: 'success', text: `${added} was added to ${project.name}.` });
              members.reload();
            }
          }}
        />
      )}
      {removeMember.dialog}
    </section>
  );
}

/** Picks a member of the organization who is not in the project yet, and their role. */
function AddProjectMemberDialog({
  project,
  present,
  onClose,
}: {
  project: Project;
  present: ProjectMember[];
  onClose: (added?: string) => void;
}) {
  const organization = useApi<{ members: Member[] }>('/members');
  const candidates = (organization.data?.members ?? []).filter((m) => !m.disabled && !present.some((p) => p.userId === m.id));
  const [userId, setUserId] = useState('');
  const [role, setRole] = useState<ProjectRole>('member');
  const { errors, setErrors, formRef, busy, attempt } = useSubmission();

  async function submit() {
    if (!userId) return setErrors({ fields: { userId: 'Pick the person to add.' } });
    await attempt(
      async () => {
        const added = await api.post<{ email: string }>(`/projects/${encodeURIComponent(project.id)}/members`, { userId, role });
        const person = candidates.find((c) => c.id === userId);
        onClose(person ? nameOf(person) : added.email);
      },
      (err) => asSentences(formErrorsFrom(err, { userId: 'userId', email: 'userId', role: 'role' })),
      { untilGone: true },
    );
  }

  return (
    <Dialog title={`Add a member to ${project.name}`} onClose={() => onClose()}>
      {organization.error && <Alert>{organization.error.message}</Alert>}
      {organization.data && candidates.length === 0 ? (
        <>
          <p>Everyone in the organization is already in this project. An organization admin adds people to the organization first.</p>
          <div className="actions">
            <button type="button" onClick={() => onClose()}>
              Close
            </button>
          </div>
        </>
      ) : (
        <Form ref={formRef} onSubmit={submit} error={errors.form}>
          <SelectField
            label="Person"
            {...bindField(errors, 'userId', userId, setUserId)}
            hint="Members of the organization who are not in the project yet."
          >
            <option value="">{organization.data ? 'Pick a person…' : 'Loading…'}</option>
            {candidates.map((m) => (
              <option key={m.id} value={m.id}>
                {m.displayName && m.displayName !== m.email ? `${m.displayName} (${m.email})` : m.email}
              </option>
            ))}
          </SelectField>
          <SelectField
            label="Project role"
            {...bindField(errors, 'role', role, (value) => setRole(value as ProjectRole))}
            hint="Owners also manage members and app connections."
          >
            <option value="member">{ROLE_LABEL.member}</option>
            <option value="owner">{ROLE_LABEL.owner}</option>
          </SelectField>
          <FormActions submit={busy ? 'Adding…' : 'Add to project'} disabled={busy || !organization.data} onCancel={() => onClose()} />
        </Form>
      )}
    </Dialog>
  );
}
