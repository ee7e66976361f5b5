import { useId, useState } from 'react';
import type { ChangeEvent, ReactNode } from 'react';
import { api, messageOf } from './api.ts';
import { homeFor } from './landing.ts';
import { Alert } from './components/page.tsx';
import { Link, navigate, useLocation } from './router.tsx';
import { useSession } from './session.tsx';

interface NavItem {
  to: string;
  label: string;
  adminOnly?: boolean;
  operatorOnly?: boolean;
}

const NAV: NavItem[] = [
  { to: '/open', label: 'Open a repository' },
  { to: '/environments', label: 'Environments' },
  { to: '/authorizations', label: 'Authorizations' },
  { to: '/projects', label: 'Projects' },
  { to: '/runners', label: 'Runners' },
  { to: '/members', label: 'Members', adminOnly: true },
  { to: '/api-tokens', label: 'API tokens' },
  { to: '/audit-log', label: 'Audit log', adminOnly: true },
  { to: '/organization', label: 'Organization settings', adminOnly: true },
  { to: '/account', label: 'Account' },
  { to: '/instance', label: 'Instance', operatorOnly: true },
];

export function Shell({ children }: { children: ReactNode }) {
  const { me, isAdmin, signOut } = useSession();
  const { pathname } = useLocation();
  const items = NAV.filter((item) => (isAdmin || !item.adminOnly) && (me.user.operator || !item.operatorOnly));

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="app-header">
        <div className="header-row">
          <Link to={homeFor(me.role)} className="brand">
            <img src="/favicon.svg" alt="" width="24" height="24" />
            Keyway
          </Link>
          <OrganizationSwitcher />
          <div className="whoami">
            <span className="whoami-name">
              <span className="visually-hidden">Signed in as </span>
              {me.user.displayName || me.user.email}
              {me.user.displayName && me.user.displayName !== me.user.email && <span className="whoami-email"> ({me.user.email})</span>}
              <span className="role-tag">{me.role}</span>
            </span>
            <button type="button" className="button-small" onClick={() => void signOut()}>
              Sign out
            </button>
          </div>
        </div>
        <nav aria-label="Main">
          <ul className="nav-list">
            {items.map((item) => {
              const current = pathname === item.to || pathname.startsWith(`${item.to}/`);
              return (
                <li key={item.to}>
                  <Link to={item.to} aria-current={current ? 'page' : undefined}>
                    {item.label}
                  </Link>
                </li>
              );
            })}
          </ul>
        </nav>
      </header>
      <main id="main" tabIndex={-1} className="content">
        {children}
      </main>
    </>
  );
}

function OrganizationSwitcher() {
  const { me, refresh } = useSession();
  const id = useId();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  if (me.organizations.length <= 1) {
    return (
      <p className="org-name">
        <span className="visually-hidden">Organization: </span>
        {me.organization.name}
      </p>
    );
  }

  async function change(event: ChangeEvent<HTMLSelectElement>) {
    const organizationId = event.target.value;
    const role = me.organizations.find((org) => org.id === organizationId)?.role ?? 'member';
    setBusy(true);
    setError(undefined);
    try {
      await api.put('/me/organization', { organizationId });
      await refresh();
      // Pages show the previous organization's data: start again from the home page.
      navigate(homeFor(role));
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="org-switcher">
      <label htmlFor={id}>Organization</label>
      <select id={id} value={me.organization.id} onChange={(e) => void change(e)} disabled={busy}>
        {me.organizations.map((org) => (
          <option key={org.id} value={org.id} disabled={!org.available}>
            {org.name} ({org.role}){org.available ? '' : ' — sign in with single sign-on to enter'}
          </option>
        ))}
      </select>
      {error && <Alert>{error}</Alert>}
    </div>
  );
}
