import { useCallback, useEffect, useMemo, useState } from 'react';
import { ApiError, api, messageOf, onSessionLost, setCsrfToken } from './api.ts';
import { landingFor, rememberPage } from './landing.ts';
import { Alert, Loading } from './components/page.tsx';
import { matchPath, navigate, useLocation } from './router.tsx';
import { SessionContext } from './session.tsx';
import type { Session } from './session.tsx';
import type { Me } from './types.ts';
import { Shell } from './Shell.tsx';
import { SignInPage } from './pages/SignInPage.tsx';
import { RunnersPage } from './pages/RunnersPage.tsx';
import { RunnerPage } from './pages/RunnerPage.tsx';
import { MembersPage } from './pages/MembersPage.tsx';
import { ApiTokensPage } from './pages/ApiTokensPage.tsx';
import { AuditLogPage } from './pages/AuditLogPage.tsx';
import { AccountPage } from './pages/AccountPage.tsx';
import { AdminOnly, NotFoundPage } from './pages/NotFoundPage.tsx';
import { OpenPage } from './pages/OpenPage.tsx';
import { EnvironmentsPage } from './pages/EnvironmentsPage.tsx';
import { AuthorizationsPage } from './pages/AuthorizationsPage.tsx';
import { ProjectsPage } from './pages/ProjectsPage.tsx';
import { ProjectPage } from './pages/ProjectPage.tsx';

type State = { status: 'loading' } | { status: 'signed-out'; notice?: string } | { status: 'signed-in'; me: Me } | { status: 'error'; message: string };

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
    void load();
  }, [load]);

  // Keep the address bar honest: signed-out users are on /sign-in, signed-in users are not.
  useEffect(() => {
    if (state.status === 'signed-out' && location.pathname !== '/sign-in') {
      const here = location.pathname + (location.search.size ? `?${location.search.toString()}` : '');
      navigate(here === '/' ? '/sign-in' : `/sign-in?next=${encodeURIComponent(here)}`, { replace: true });
    } else if (state.status === 'signed-in' && (location.pathname === '/sign-in' || location.pathname === '/')) {
      navigate(landingFor(state.me, location.search.get('next')), { replace: true });
    }
  }, [state, location.pathname, location.search]);

  // Members land on their last page next time (src/landing.ts says which pages count).
  const userId = state.status === 'signed-in' ? state.me.user.id : undefined;
  useEffect(() => {
    if (userId) rememberPage(userId, location.pathname);
  }, [userId, location.pathname]);

  const signOut = useCallback(async () => {
    try {
      await api.post('/auth/sign-out');
    } finally {
      setCsrfToken(null);
      setState({ status: 'signed-out', notice: 'You have signed out.' });
      navigate('/sign-in', { replace: true });
    }
  }, []);

  const session = useMemo<Session | null>(
    () => (state.status === 'signed-in' ? { me: state.me, isAdmin: state.me.role === 'admin', refresh: load, signOut } : null),
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
  if (state.status === 'signed-out' || !session) {
    return <SignInPage notice={state.status === 'signed-out' ? state.notice : undefined} onSignedIn={load} />;
  }

  return (
    <SessionContext.Provider value={session}>
      <Shell>{route(location.pathname, session)}</Shell>
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
  return <NotFoundPage />;
}

