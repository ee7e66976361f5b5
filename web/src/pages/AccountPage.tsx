import { useEffect, useState } from 'react';
import { api } from '../api.ts';
import { Detail } from '../components/details.tsx';
import { useConfirm } from '../components/dialog.tsx';
import { Alert, PageHeading, SectionHeading } from '../components/page.tsx';
import { DangerCell, DataTable } from '../components/table.tsx';
import { navigate, useLocation } from '../router.tsx';
import { useSession } from '../session.tsx';
import type { LinkedIdentity, MeInOrganization, Offboarded, SessionSummary, SsoProvider } from '../types.ts';
import { useApi } from '../use-api.ts';
import { PasswordCard } from './AccountPassword.tsx';
import { SessionsSection } from './AccountSessions.tsx';
import { LinkedSignIns } from './AccountSignIns.tsx';
import { purgeSummary } from './MembersPage.tsx';

/** What single sign-on came back from (the return path says it: the callback only redirects on success). */
const DONE: Record<string, string> = {
  linked: 'Your account at the identity provider is linked: you can sign in with it from now on.',
  reauthenticated: 'You signed in again. For the next 15 minutes you can set a new password without the current one.',
};

export function AccountPage() {
  const { me } = useSession();
  const location = useLocation();
  const identities = useApi<{ identities: LinkedIdentity[] }>('/me/identities');
  const providers = useApi<{ providers: SsoProvider[] }>('/auth/sso/providers').data?.providers;
  const sessions = useApi<{ sessions: SessionSummary[] }>('/me/sessions');
  const [done] = useState(() => DONE[location.search.get('done') ?? '']);

  // The notice is for this visit: drop ?done= so a reload or a shared address does not repeat it.
  useEffect(() => {
    if (location.search.has('done')) navigate('/account', { replace: true });
  }, [location.search]);

  return (
    <>
      <PageHeading title="Account" />
      {done && <Alert kind="success">{done}</Alert>}
      <dl className="details">
        <Detail term="Name">{me.user.displayName}</Detail>
        <Detail term="Email">{me.user.email}</Detail>
        <Detail term="Organization">
          {me.organization.name} <span className="muted">({me.organization.slug})</span>
        </Detail>
        <Detail term="Role">{me.role}</Detail>
        {me.user.operator && <Detail term="Instance">Operator: you create organizations and disable accounts on this Keyway.</Detail>}
      </dl>
      <PasswordCard identities={identities.data?.identities} onChanged={sessions.reload} />
      <SessionsSection sessions={sessions} />
      <LinkedSignIns identities={identities} providers={providers} />
      <OrganizationsSection me={me} />
    </>
  );
}

function OrganizationsSection({ me }: { me: MeInOrganization }) {
  const { refresh, signOut } = useSession();
  const [notice, setNotice] = useState<string>();

  const leave = useConfirm((organization: MeInOrganization['organizations'][number]) => ({
    title: `Leave ${organization.name}?`,
    confirmLabel: 'Leave organization',
    body: (
      <>
        <p>What happens at once:</p>
        <ul>
          <li>
            Your sessions and API tokens in {organization.name} end
            {organization.id === me.organization.id ? ', this one included: you will sign in again' : ''}.
          </li>
          <li>Its runners delete the Azure DevOps credentials you stored there, and your environments there.</li>
          <li>You lose your roles in its projects.</li>
        </ul>
        <p>
          To come back you need a new invitation from one of its admins.{' '}
          {organization.role === 'admin' && 'If you are its last admin, make someone else an admin first.'}
        </p>
      </>
    ),
    run: async () => {
      const result = await api.delete<Offboarded>(`/me/organizations/${encodeURIComponent(organization.id)}`);
      const summary = `You left ${organization.name}. ${purgeSummary(result)}`;
      // Leaving ends the sessions in that organization, this one too when it is the current one.
      if (organization.id === me.organization.id)
        await signOut({ notice: `${summary} Sign in again to continue in your other organizations.` });
      else {
        setNotice(summary);
        await refresh();
      }
    },
  }));

  return (
    <section aria-labelledby="organizations" className="section">
      <SectionHeading id="organizations" title="Your organizations" />
      {notice && <Alert kind="success">{notice}</Alert>}
      <DataTable label="Organizations you belong to" columns={['Organization', 'Your role', 'Status']} actions>
        {me.organizations.map((org) => (
          <tr key={org.id}>
            <td>{org.name}</td>
            <td>{org.role}</td>
            <td>{org.id === me.organization.id ? 'Current' : org.available ? '' : 'Single sign-on only'}</td>
            <DangerCell label={`Leave ${org.name}`} onClick={() => leave.ask(org)}>
              Leave
            </DangerCell>
          </tr>
        ))}
      </DataTable>
      {leave.dialog}
    </section>
  );
}
