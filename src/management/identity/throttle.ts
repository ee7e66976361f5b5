import { tooManyRequests } from '../../http/errors.ts';
import type { IdentityStore } from './store.ts';

export interface ThrottleLimits {
  /** Attempts per account and client address in a window (KEYWAY_SIGN_IN_MAX_FAILURES). */
  maxFailures: number;
  windowMinutes: number;
}

/**
 * Sign-in throttling. Every attempt reserves a slot before the password is checked, under three
 * keys: the account and address pair (what one attacker at one address gets: `maxFailures`), the
 * address alone (`4 × maxFailures`, across accounts: spraying), and the account alone from
 * addresses it never signed in from (`4 × maxFailures`: a distributed guess at one account). An
 * owner signing in from an address they used before is not counted against the account, so an
 * attacker elsewhere slows themselves down without locking the owner out. A success gives its
 * reservations back and clears the pair.
 */
export function createSignInThrottle(
  store: Pick<IdentityStore, 'reserveAttempt' | 'releaseAttempt' | 'clearAttempts'>,
  limits: ThrottleLimits,
  now: () => Date,
) {
  const windowMs = limits.windowMinutes * 60_000;

  function keysFor(subject: string, ip: string, knownAddress: boolean) {
    return [
      { key: `pair:${subject}|${ip}`, max: limits.maxFailures },
      { key: `ip:${ip}`, max: limits.maxFailures * 4 },
      ...(knownAddress ? [] : [{ key: `account:${subject}`, max: limits.maxFailures * 4 }]),
    ];
  }

  return {
    /**
     * Reserves the attempt or throws 429 with Retry-After. `subject` is what is being guessed at
     * (an email, or `password-change:{userId}`); the caller must call `succeeded` on success.
     */
    async reserve(subject: string, ip: string, knownAddress: boolean): Promise<{ succeeded(): Promise<void> }> {
      const at = now();
      const taken: string[] = [];
      for (const { key, max } of keysFor(subject, ip, knownAddress)) {
        const result = await store.reserveAttempt(key, max, at.toISOString(), new Date(at.getTime() - windowMs).toISOString());
        if (!result.ok) {
          const start = result.windowStart ? Date.parse(result.windowStart) : at.getTime();
          const retryAfter = Math.max(1, Math.ceil((start + windowMs - at.getTime()) / 1000));
          throw tooManyRequests(`too many sign-in attempts; wait ${Math.ceil(retryAfter / 60)} minute(s) and try again`, retryAfter);
        }
        taken.push(key);
      }
      return {
        async succeeded() {
          for (const key of taken) {
            if (key.startsWith('pair:')) await store.clearAttempts(key);
            else await store.releaseAttempt(key);
          }
        },
      };
    },
  };
}

export type SignInThrottle = ReturnType<typeof createSignInThrottle>;
