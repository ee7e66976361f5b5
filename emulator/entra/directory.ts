// The directory's objects: tenants, app registrations, users. Types only, so that the modules
// that work on them need not import the emulator's entry point (index.ts re-exports them).
import type { FederatedCredential, RegisteredCertificate } from './app-credentials.ts';

export interface EntraTenant {
  id: string;
  domain: string;
  displayName: string;
  sendIssParameter: boolean;
}
export interface EntraApp {
  tenantId: string;
  clientId: string;
  displayName: string;
  redirectUris: string[];
  requirePkce: boolean;
  servicePrincipalObjectId: string;
  secrets: { id: string; value: string; expiresAt: number }[];
  /** signInAudience AzureADMultipleOrgs: users of any tenant may sign in through their own tenant. */
  multiTenant: boolean;
  /** Certificates & secrets → Certificates (keyCredentials). */
  certificates: RegisteredCertificate[];
  /** Certificates & secrets → Federated credentials. */
  federatedCredentials: FederatedCredential[];
}
export interface EntraUser {
  tenantId: string;
  oid: string;
  upn: string;
  displayName: string;
  password?: string;
  /** Object ids of the security groups the user is in (the ID token's `groups` claim). */
  groups?: string[];
  /** App roles assigned to the user, per application client id (the ID token's `roles` claim). */
  appRoles?: Record<string, string[]>;
  /** accountEnabled = false: sign-in fails with AADSTS50057. */
  disabled?: boolean;
}
