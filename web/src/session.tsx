import { createContext, useContext } from 'react';
import type { MeInOrganization } from './types.ts';

export interface SignOutOptions {
  /** What the sign-in page says (default: "You have signed out."). */
  notice?: string;
  /** Stay on this page instead of going to /sign-in (the invitation page signs out and carries on). */
  stay?: boolean;
}

export interface Session {
  me: MeInOrganization;
  isAdmin: boolean;
  /** Re-reads GET /api/v1/me (after switching organization, for instance). */
  refresh: () => Promise<void>;
  /** Ends this session (harmless when the server ended it already) and shows the sign-in page. */
  signOut: (options?: SignOutOptions) => Promise<void>;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in page');
  return session;
}
