import { useEffect, useRef, useState } from 'react';
import { api, messageOf } from '../api.ts';
import { FrontDoorCard } from '../components/front-door.tsx';
import { Alert } from '../components/page.tsx';
import type { SignOutOptions } from '../session.tsx';
import type { Me } from '../types.ts';

interface Props {
  me: Me;
  /** Re-reads GET /me once the session is in the chosen organization. */
  onChosen: () => Promise<void>;
  signOut: (options?: SignOutOptions) => Promise<void>;
}

/**
 * The session is in no organization yet (the person belongs to several and Keyway does not guess):
 * they choose one. Nothing of any organization is shown before that. Organizations this session may
 * not enter (they require single sign-on and this is a password session) are listed with the way in.
 */
export function OrganizationChooser({ me, onChosen, signOut }: Props) {
  const [busy, setBusy] = useState<string>();
  const [error, setError] = useState<string>();
  const heading = useRef<HTMLHeadingElement>(null);
  const available = me.organizations.filter((org) => org.available);
  const unavailable = me.organizations.filter((org) => !org.available);

  useEffect(() => {
    document.title = 'Choose an organization · Keyway';
  }, []);

  async function choose(organizationId: string) {
    setBusy(organizationId);
    setError(undefined);
    try {
      await api.put('/me/organization', { organizationId });
      await onChosen();
    } catch (err) {
      setError(messageOf(err));
      setBusy(undefined);
      heading.current?.focus();
    }
  }

  return (
    <FrontDoorCard>
      <h1 ref={heading} tabIndex={-1}>
        Choose an organization
      </h1>
      <p>
        You are signed in as <strong>{me.user.email}</strong>.{' '}
        {me.organizations.length > 1
          ? 'You belong to several organizations: pick the one to work in. You can switch at any time in the header, and Keyway opens this one next time you sign in.'
          : ''}
      </p>
      {error && <Alert>{error}</Alert>}
      {available.length > 0 && (
        <ul className="org-choices" aria-label="Your organizations">
          {available.map((org) => (
            <li key={org.id}>
              <button type="button" className="org-choice" onClick={() => void choose(org.id)} disabled={busy !== undefined}>
                <strong>{busy === org.id ? `Opening ${org.name}…` : org.name}</strong>
                <span className="hint">Your role: {org.role}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      {unavailable.length > 0 && (
        <>
          <h2>Single sign-on only</h2>
          <ul className="org-choices" aria-label="Organizations that need single sign-on">
            {unavailable.map((org) => (
              <li key={org.id} className="org-choice-unavailable">
                <strong>{org.name}</strong>
                <p className="hint">
                  {org.name} lets its members in only through single sign-on, and you signed in with a password. To work there, sign out and
                  use &ldquo;Sign in with Microsoft&rdquo; (or the organization&rsquo;s own sign-in button).
                </p>
              </li>
            ))}
          </ul>
        </>
      )}
      {me.organizations.length === 0 && (
        <Alert kind="info">
          You belong to no organization yet. Ask an admin of your team for an invitation, then open the link they send you.
        </Alert>
      )}
      <div className="actions">
        <button type="button" onClick={() => void signOut()}>
          Sign out
        </button>
      </div>
    </FrontDoorCard>
  );
}
