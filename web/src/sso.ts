// Single sign-on from the browser: POST /auth/sso/{provider}/begin answers the identity provider's
// URL (and sets a cookie binding the sign-in to this browser); the whole page goes there, and the
// provider sends it back to Keyway's callback, which redirects to `returnTo` or shows why not.

import { api } from './api.ts';
import type { LinkedIdentity, SsoProvider, SsoProviderId } from './types.ts';

export type SsoIntent = 'sign-in' | 'reauthenticate' | 'link';

export interface BeginSso {
  intent?: SsoIntent;
  /** The work email: picks the Entra tenant (sign-in when the instance has several, link). */
  email?: string;
  /** A Directory (tenant) ID, for link. */
  tenant?: string;
  invitationToken?: string;
  /** An in-app path to come back to; the server checks it again. */
  returnTo?: string;
}

/** Starts a sign-in with the provider and leaves the page; only returns by throwing (an ApiError). */
export async function beginSso(provider: SsoProviderId, body: BeginSso): Promise<void> {
  const { redirectUrl } = await api.post<{ redirectUrl: string }>(`/auth/sso/${provider}/begin`, body);
  window.location.assign(redirectUrl);
  // The page is going away: keep the caller's "busy" state until it does.
  await new Promise<never>(() => undefined);
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** "name@example.com" or a Directory (tenant) ID, as linking a Microsoft account takes either. */
export function emailOrTenant(value: string): { email: string } | { tenant: string } {
  const trimmed = value.trim();
  return GUID.test(trimmed) ? { tenant: trimmed } : { email: trimmed };
}

/** The sign-in button's wording for a provider ("Microsoft", or the OIDC provider's configured name). */
export function providerLabel(provider: { id: SsoProviderId; name: string }): string {
  return provider.id === 'entra' ? 'Microsoft' : provider.name;
}

/** What to call the provider of a linked sign-in ("Microsoft", or the OIDC provider's name when known). */
export function identityProviderName(identity: Pick<LinkedIdentity, 'provider'>, providers?: SsoProvider[]): string {
  if (identity.provider === 'entra') return 'Microsoft';
  return providers?.find((p) => p.id === 'oidc')?.name ?? 'your identity provider';
}
