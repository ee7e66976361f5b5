// Control handlers for credentials without a client secret (src/runner/client-credentials): what
// an admin must register in Entra ID (describe), a next certificate on demand, and deletion when
// the owner goes or changes method.
import { CLIENT_CREDENTIAL_REQUESTS, CLIENT_CREDENTIAL_TYPES } from '../../control/client-credentials.ts';
import type { CredentialOwner, DescribeCredentialPayload } from '../../control/client-credentials.ts';
import type { Handler } from '../agent.ts';
import { HandlerError } from '../agent.ts';
import type { ClientCredentials } from '../client-credentials/index.ts';

function owner(payload: unknown): CredentialOwner {
  const o = (payload as { owner?: CredentialOwner } | null)?.owner;
  if (!o || (o.type !== 'integration' && o.type !== 'app-connection') || typeof o.id !== 'string' || !o.id)
    throw new HandlerError('invalid_request', 'the request needs an owner (integration or app-connection) with an id');
  return o;
}

export function createClientCredentialHandlers(deps: { credentials: ClientCredentials }): Record<string, Handler> {
  return {
    [CLIENT_CREDENTIAL_REQUESTS.describe]: async (payload) => {
      const { credential } = payload as DescribeCredentialPayload;
      if (!credential || !CLIENT_CREDENTIAL_TYPES.includes(credential.type))
        throw new HandlerError('invalid_request', 'describe needs a credential type');
      if (credential.type === 'client-secret') throw new HandlerError('invalid_request', 'a client secret has nothing to describe');
      return deps.credentials.prepare({
        type: credential.type,
        owner: owner(payload),
        managedIdentityClientId: credential.managedIdentityClientId ?? null,
      });
    },

    [CLIENT_CREDENTIAL_REQUESTS.prepareNext]: async (payload) => deps.credentials.prepareNextCertificate(owner(payload)),

    [CLIENT_CREDENTIAL_REQUESTS.delete]: async (payload) => ({
      deleted: await deps.credentials.certificates.deleteForOwner(owner(payload)),
    }),
  };
}
