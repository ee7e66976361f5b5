// Control handlers for credentials without a client secret (src/runner/client-credentials): what
// an admin must register in Entra ID (describe), a next certificate on demand, and deletion when
// the owner goes or changes method.
import { CLIENT_CREDENTIAL_REQUESTS } from '../../control/client-credentials.ts';
import type { HandlerSet } from '../agent.ts';
import { HandlerError } from '../agent.ts';
import type { ClientCredentials } from '../client-credentials/index.ts';

type ClientCredentialKind = (typeof CLIENT_CREDENTIAL_REQUESTS)[keyof typeof CLIENT_CREDENTIAL_REQUESTS];

export function createClientCredentialHandlers(deps: { credentials: ClientCredentials }): HandlerSet<ClientCredentialKind> {
  return {
    [CLIENT_CREDENTIAL_REQUESTS.describe]: async ({ owner, credential }) => {
      if (credential.type === 'client-secret') throw new HandlerError('invalid_request', 'a client secret has nothing to describe');
      return deps.credentials.prepare({
        type: credential.type,
        owner,
        managedIdentityClientId: credential.managedIdentityClientId ?? null,
      });
    },

    [CLIENT_CREDENTIAL_REQUESTS.prepareNext]: async ({ owner }) => deps.credentials.prepareNextCertificate(owner),

    [CLIENT_CREDENTIAL_REQUESTS.delete]: async ({ owner }) => ({ deleted: await deps.credentials.certificates.deleteForOwner(owner) }),
  };
}
