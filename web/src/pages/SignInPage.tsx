import { useEffect, useState } from 'react';
import { FrontDoorCard, PasswordSignInForm } from '../components/front-door.tsx';
import { Alert } from '../components/page.tsx';
import { SsoButtons } from '../components/sso-buttons.tsx';
import { safeNext } from '../landing.ts';
import { useLocation } from '../router.tsx';
import type { SsoProvider } from '../types.ts';
import { useApi } from '../use-api.ts';

export function SignInPage({ notice, onSignedIn }: { notice?: string | undefined; onSignedIn: () => Promise<void> }) {
  const [attempted, setAttempted] = useState(false);
  const providers = useApi<{ providers: SsoProvider[] }>('/auth/sso/providers').data?.providers ?? [];
  // Single sign-on comes back to where the visitor was going (the server checks the path again).
  const returnTo = safeNext(useLocation().search.get('next')) ?? '/';

  useEffect(() => {
    document.title = 'Sign in · Keyway';
  }, []);

  return (
    <FrontDoorCard>
      <h1>Sign in</h1>
      {notice && !attempted && <Alert kind="info">{notice}</Alert>}
      {providers.length > 0 && (
        <>
          <SsoButtons providers={providers} returnTo={returnTo} />
          <p className="divider">
            <span>or with your email and password</span>
          </p>
        </>
      )}
      <PasswordSignInForm onSignedIn={onSignedIn} onAttempt={() => setAttempted(true)} />
      <p className="hint sign-in-help">
        Invited? Open the invitation link you were sent. Setting Keyway up? <code>keyway start</code> prints a one-time admin sign-in link (
        <code>keyway admin link</code> prints another).
      </p>
    </FrontDoorCard>
  );
}
