import { useRef, useState } from 'react';
import type { FormEvent } from 'react';
import { api } from '../api.ts';
import { TextField } from '../components/fields.tsx';
import { NO_ERRORS, formErrorsFrom, useFocusFirstError } from '../components/forms.ts';
import type { FormErrors } from '../components/forms.ts';
import { Alert, Loading, PageHeading, TableWrap, Time } from '../components/page.tsx';
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
  const list = useApi<{ projects: Project[] }>('/projects');
  const projects = list.data?.projects;
  return (
    <>
      <PageHeading title="Projects" />
      <p className="lead">Projects hold app connections (credentials for automation) and keep Azure DevOps variable groups in sync.</p>
      {isAdmin && <CreateProjectForm />}
      <h2>{isAdmin ? 'All projects' : 'Your projects'}</h2>
      {list.error && <Alert>{list.error.message}</Alert>}
      {list.loading && !projects && <Loading />}
      {projects && projects.length === 0 && <p className="empty">No projects yet.{isAdmin ? ' Create one above.' : ' Ask an admin to add you to one.'}</p>}
      {projects && projects.length > 0 && (
        <TableWrap label="Projects">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Your role</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {projects.map((p) => (
                <tr key={p.id}>
                  <td>
                    <Link to={`/projects/${encodeURIComponent(p.id)}`}>{p.name}</Link>
                  </td>
                  <td>{projectRoleLabel(p.role)}</td>
                  <td>
                    <Time value={p.createdAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </>
  );
}

function CreateProjectForm() {
  const [name, setName] = useState('');
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [busy, setBusy] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);
  useFocusFirstError(formRef, errors);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!name.trim()) return setErrors({ fields: { name: 'Enter a name for the project.' } });
    setBusy(true);
    setErrors(NO_ERRORS);
    try {
      const project = await api.post<Project>('/projects', { name: name.trim() });
      navigate(`/projects/${encodeURIComponent(project.id)}`);
    } catch (err) {
      setErrors(formErrorsFrom(err, { name: 'name' }));
      setBusy(false);
    }
  }

  return (
    <section className="card" aria-labelledby="create-project">
      <h2 id="create-project">Create a project</h2>
      <form ref={formRef} onSubmit={(e) => void submit(e)} noValidate>
        {errors.form && <Alert>{errors.form}</Alert>}
        <TextField label="Project name" name="name" value={name} onChange={(e) => setName(e.target.value)} error={errors.fields.name} hint="You become its owner." autoComplete="off" />
        <div className="actions">
          <button type="submit" className="button-primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create project'}
          </button>
        </div>
      </form>
    </section>
  );
}
