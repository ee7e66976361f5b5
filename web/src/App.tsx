import { Fragment, useCallback, useEffect, useMemo, useState } from 'react';
import { ApiError, api, messageOf, onOrganizationRequired, onSessionLost, setCsrfToken } from './api.ts';
import { landingFor, rememberPage } from './landing.ts';
import { Alert, Loading } from './components/page.tsx';
import { matchPath, navigate, useLocation } from './router.tsx';
import { SessionContext } from './session.tsx';
import type { Session, SignOutOptions } from './session.tsx';
import type { Me, MeInOrganization } from './types.ts';
import { Shell } from './Shell.tsx';
import { SignInPage } from './pages/SignInPage.tsx';
import { RunnersPage } from './pages/RunnersPage.tsx';
import { RunnerPage } from './pages/RunnerPage.tsx';
import { MembersPage } from './pages/MembersPage.tsx';
import { ApiTokensPage } from './pages/ApiTokensPage.tsx';
import { AuditLogPage } from './pages/AuditLogPage.tsx';
import { AccountPage } from './pages/AccountPage.tsx';
import { AdminOnly, NotFoundPage, OperatorOnly } from './pages/NotFoundPage.tsx';
import { OpenPage } from './pages/OpenPage.tsx';
import { EnvironmentsPage } from './pages/EnvironmentsPage.tsx';
import { AuthorizationsPage } from './pages/AuthorizationsPage.tsx';
import { ProjectsPage } from './pages/ProjectsPage.tsx';
import { ProjectPage } from './pages/ProjectPage.tsx';
import { OrganizationChooser } from './pages/OrganizationChooser.tsx';
import { InvitationPage, INVITATION_PATH } from './pages/InvitationPage.tsx';
import { OrganizationSettingsPage } from './pages/OrganizationSettingsPage.tsx';
import { InstancePage } from './pages/InstancePage.tsx';

type State =
  | { status: 'loading' }
  | { status: 'signed-out'; notice?: string | undefined }
  | { status: 'signed-in'; me: Me }
  | { status: 'error'; message: string };

/** Pages shown whoever is (or is not) signed in: they decide themselves what to show. */
const OPEN_PAGES = [INVITATION_PATH];

function inOrganization(me: Me): me is MeInOrganization {
  return me.organization !== null && me.role !== null;
}

export function App() {
  const location = useLocation();
  const [state, setState] = useState<State>({ status: 'loading' });

  const load = useCallback(async () => {
    try {
      const me = await api.get<Me>('/me');
      setCsrfToken(me.csrfToken);
      setState({ status: 'signed-in', me });
    } catch (err) {
      setCsrfToken(null);
      if (err instanceof ApiError && err.status === 401) setState({ status: 'signed-out' });
      else setState({ status: 'error', message: messageOf(err) });
    }
  }, []);

  useEffect(() => {
    onSessionLost(() => {
      setCsrfToken(null);
      setState({ status: 'signed-out', notice: 'Your session has ended. Sign in again.' });
    });
    // The session is in no organization (any more): GET /me again shows the chooser.
    onOrganizationRequired(() => void load());
    void load();
  }, [load]);

  // Keep the address bar honest: signed-out users are on /sign-in, signed-in users are not. A session
  // in no organization stays where it is (its chooser shows there) and moves on once it has chosen.
  useEffect(() => {
    if (OPEN_PAGES.includes(location.pathname)) return;
    if (state.status === 'signed-out' && location.pathname !== '/sign-in') {
      const here = location.pathname + (location.search.size ? `?${location.search.toString()}` : '');
      navigate(here === '/' ? '/sign-in' : `/sign-in?next=${encodeURIComponent(here)}`, { replace: true });
    } else if (
      state.status === 'signed-in' &&
      inOrganization(state.me) &&
      (location.pathname === '/sign-in' || location.pathname === '/')
    ) {
      navigate(landingFor(state.me, location.search.get('next')), { replace: true });
    }
  }, [state, location.pathname, location.search]);

  // Members land on their last page next time (src/landing.ts says which pages count).
  const userId = state.status === 'signed-in' && inOrganization(state.me) ? state.me.user.id : undefined;
  useEffect(() => {
    if (userId && !OPEN_PAGES.includes(location.pathname)) rememberPage(userId, location.pathname);
  }, [userId, location.pathname]);

  const signOut = useCallback(async ({ notice = 'You have signed out.', stay = false }: SignOutOptions = {}) => {
    try {
      await api.post('/auth/sign-out');
    } catch {
      // Already gone on the server (signed out everywhere, left the organization): signed out all the same.
    }
    setCsrfToken(null);
    setState({ status: 'signed-out', notice });
    if (!stay) navigate('/sign-in', { replace: true });
  }, []);

  const session = useMemo<Session | null>(
    () =>
      state.status === 'signed-in' && inOrganization(state.me)
        ? { me: state.me, isAdmin: state.me.role === 'admin', refresh: load, signOut }
        : null,
    [state, load, signOut],
  );

  if (state.status === 'loading') {
    return (
      <main className="centered">
        <Loading label="Loading Keyway…" />
      </main>
    );
  }
  if (state.status === 'error') {
    return (
      <main className="centered">
        <h1>Keyway</h1>
        <Alert>{state.message}</Alert>
        <button type="button" onClick={() => void load()}>
          Try again
        </button>
      </main>
    );
  }
  if (location.pathname === INVITATION_PATH) {
    return <InvitationPage me={state.status === 'signed-in' ? state.me : null} onSignedIn={load} signOut={signOut} />;
  }
  if (state.status === 'signed-out') {
    return <SignInPage notice={state.notice} onSignedIn={load} />;
  }
  if (!session) {
    // Signed in, in no organization yet: nothing that belongs to one renders before the choice.
    return <OrganizationChooser me={state.me} onChosen={load} signOut={signOut} />;
  }

  return (
    <SessionContext.Provider value={session}>
      {/* Keyed by organization: after a switch no page keeps the previous organization's data. */}
      <Shell>
        <Fragment key={session.me.organization.id}>{route(location.pathname, session)}</Fragment>
      </Shell>
    </SessionContext.Provider>
  );
}

function route(pathname: string, session: Session) {
  if (pathname === '/' || pathname === '/sign-in') return <Loading />;
  if (pathname === '/open') return <OpenPage />;
  if (pathname === '/environments') return <EnvironmentsPage />;
  if (pathname === '/authorizations') return <AuthorizationsPage />;
  if (pathname === '/projects') return <ProjectsPage />;
  const project = matchPath('/projects/:projectId', pathname);
  if (project) return <ProjectPage key={project.projectId} projectId={project.projectId!} />;
  if (pathname === '/runners') return <RunnersPage />;
  const runner = matchPath('/runners/:runnerId', pathname);
  if (runner) return <RunnerPage key={runner.runnerId} runnerId={runner.runnerId!} />;
  if (pathname === '/members') return session.isAdmin ? <MembersPage /> : <AdminOnly title="Members" />;
  if (pathname === '/api-tokens') return <ApiTokensPage />;
  if (pathname === '/audit-log') return session.isAdmin ? <AuditLogPage /> : <AdminOnly title="Audit log" />;
  if (pathname === '/account') return <AccountPage />;
  if (pathname === '/organization') return session.isAdmin ? <OrganizationSettingsPage /> : <AdminOnly title="Organization settings" />;
  if (pathname === '/instance') return session.me.user.operator ? <InstancePage /> : <OperatorOnly />;
  return <NotFoundPage />;
}
