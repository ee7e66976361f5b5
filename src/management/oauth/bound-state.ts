import { createHash } from 'node:crypto';
import type { UserPrincipal } from '../identity/principal.ts';

/** How long a browser has between leaving for Entra ID and coming back. */
export const STATE_MINUTES = 10;

export const hashState = (state: string) => createHash('sha256').update(state, 'utf8').digest('hex');

/** What every consent's state row holds: who started it, in which session, until when. */
export interface BoundState {
  session_id: string;
  user_id: string;
  expires_at: string;
}

export type StateCheck<T> =
  | { ok: true; row: T }
  | { ok: false; code: 'missing_state' | 'unknown_state' | 'expired_state' | 'session_mismatch'; message: string; row?: T };

/**
 * The checks every OAuth callback makes on its state before anything is relayed: known, single use
 * (the row is consumed whatever follows), unexpired, and finished by the browser session that
 * started it (login CSRF). `again` says how to start over, e.g. "start Connect again".
 */
export async function takeBoundState<T extends BoundState>(
  state: string | undefined,
  store: { find(stateHash: string): Promise<T | undefined>; consume(stateHash: string): Promise<number> },
  user: UserPrincipal | undefined,
  options: { now: Date; again: string },
): Promise<StateCheck<T>> {
  if (!state) return { ok: false, code: 'missing_state', message: `the sign-in response has no state; ${options.again} from Keyway` };
  const stateHash = hashState(state);
  const row = await store.find(stateHash);
  if (!row) return { ok: false, code: 'unknown_state', message: `this sign-in is unknown, was already used, or expired; ${options.again}` };
  if ((await store.consume(stateHash)) !== 1)
    return { ok: false, code: 'unknown_state', message: `this sign-in was already used; ${options.again}` };
  if (row.expires_at < options.now.toISOString())
    return { ok: false, code: 'expired_state', message: `the sign-in took longer than ${STATE_MINUTES} minutes; ${options.again}`, row };
  if (!user || user.sessionId !== row.session_id || user.userId !== row.user_id) {
    return {
      ok: false,
      code: 'session_mismatch',
      message: `this sign-in was started in another browser session; ${options.again} from your own session`,
      row,
    };
  }
  return { ok: true, row };
}
