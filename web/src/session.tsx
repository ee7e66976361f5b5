import { createContext, useContext } from 'react';
import type { Me } from './types.ts';

export interface Session {
  me: Me;
  isAdmin: boolean;
  /** Re-reads GET /api/v1/me (after switching organization, for instance). */
  refresh: () => Promise<void>;
  signOut: () => Promise<void>;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in page');
  return session;
}
