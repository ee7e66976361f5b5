// For the emulator's pure tests (no server): what testkit.ts offers would start one.
import { EntraOAuthError } from './errors.ts';

/** The AADSTS code `fn` throws as an EntraOAuthError; anything else thrown, or nothing, fails. */
export function aadstsCode(fn: () => unknown): number {
  try {
    fn();
  } catch (err) {
    if (err instanceof EntraOAuthError) return err.code;
    throw err;
  }
  throw new Error('expected an EntraOAuthError');
}
