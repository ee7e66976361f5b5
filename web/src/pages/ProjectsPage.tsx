import { useState } from 'react';

import { api } from '../api.ts';
import { TextField } from '../components/fields.tsx';
import { Form, FormActions } from '../components/form.tsx';
import { bindField, formErrorsFrom, useSubmission } from '../components/forms.ts';
import { ListingTable } from '../components/listing.tsx';
import { Card, PageHeading } from '../components/page.tsx';
import { TimeCell } from '../components/table.tsx';
import { Link, navigate } from '../router.tsx';
import { useSession } from '../session.tsx';
import type { Project } from '../types.ts';
import { useApi } from '../use-api.ts';

const ROLE_LABEL: Record<Project['role'], string> = { admin: 'Organization admin', owner: 'Owner', member: 'Member' };

export function projectRoleLabel(role: Project['role']): string {
  return ROLE_LABEL[role] ?? role;
}

export function ProjectsPage() {
  const { isAdmin } = useSession();
  const list = useApi<{ projects: Project[]; mayCreate: boolean }>('/projects');
  // The organization decides who creates projects (Organization settings): admins, or every member.
  const mayCreate = list.data?.mayCreate ?? false;
  return (
    <>
      <PageHeading title="Projects" />
      <p className="lead">Projects hold app connections (credentials for automation) and keep Azure DevOps variable groups in sync.</p>
      {mayCreate && <CreateProjectForm />}
      <h2>{isAdmin ? 'All projects' : 'Your projects'}</h2>
      <ListingTable
        items={list.data?.projects}
        loaded={list}
        empty={`No projects yet.${mayCreate ? ' Create one above.' : ' Ask an admin to add you to one.'}`}
        label="Projects"
        columns={['Name', 'Your role', 'Created']}
      >
        {(p) => (
          <tr key={p.id}>
            <td>
              <Link to={`/projects/${encodeURIComponent(p.id)}`}>{p.name}</Link>
            </td>
            <td>{projectRoleLabel(p.role)}</td>
            <TimeCell value={p.createdAt} />
          </tr>
        )}
      </ListingTable>
    </>
  );
}

function CreateProjectForm() {
  const [name, setName] = useState('');
  const { errors, setErrors, formRef, busy, attempt } = useSubmission();

  async function submit() {
    if (!name.trim()) return setErrors({ fields: { name: 'Enter a name for the project.' } });
    await attempt(
      async () => {
        const project = await api.post<Project>('/projects', { name: name.trim() });
        navigate(`/projects/${encodeURIComponent(project.id)}`);
      },
      (err) => formErrorsFrom(err, { name: 'name' }),
      { untilGone: true },
    );
  }

  return (
    <Card id="create-project" title="Create a project">
      <Form ref={formRef} onSubmit={submit} error={errors.form}>
        <TextField label="Project name" {...bindField(errors, 'name', name, setName)} hint="You become its owner." autoComplete="off" />
        <FormActions submit={busy ? 'Creating…' : 'Create project'} disabled={busy} />
      </Form>
    </Card>
  );
}
