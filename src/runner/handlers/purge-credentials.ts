import type { CredentialStore } from '../credentials/store.ts';
import { HandlerError } from '../agent.ts';

/** An admin disabled a method on an integration or deleted it: the credentials it produced go. */
export function createPurgeCredentialsHandler(deps: { credentials: Pick<CredentialStore, 'deleteForIntegration'> }) {
  return async (payload: unknown): Promise<{ deleted: number }> => {
    const { integrationId, methods } = payload as { integrationId?: string; methods?: string[] | 'all' };
    if (!integrationId || !methods) throw new HandlerError('invalid_request', 'purge-credentials needs integrationId and methods');
    if (methods === 'all') return { deleted: await deps.credentials.deleteForIntegration(integrationId) };
    let deleted = 0;
    for (const method of methods) deleted += await deps.credentials.deleteForIntegration(integrationId, method);
    return { deleted };
  };
}
