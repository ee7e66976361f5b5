import type { CredentialStore } from '../credentials/store.ts';
import type { RunnerEvents } from '../events/outbox.ts';
import type { CertificateStore } from '../client-credentials/certificates.ts';
import type { ControlPayload, ControlResult } from '../../control/registry.ts';

/**
 * An admin disabled a method on an integration or deleted it: the credentials it produced go. A
 * deleted integration also takes the certificates (and private keys) the runner made for its app.
 */
export function createPurgeCredentialsHandler(deps: {
  credentials: Pick<CredentialStore, 'deleteForIntegration'>;
  certificates?: Pick<CertificateStore, 'deleteForOwner'>;
  events?: RunnerEvents;
}) {
  return async ({ integrationId, methods }: ControlPayload<'purge-credentials'>): Promise<ControlResult<'purge-credentials'>> => {
    let deleted = 0;
    let clientCertificates = 0;
    if (methods === 'all') {
      deleted = await deps.credentials.deleteForIntegration(integrationId);
      clientCertificates = (await deps.certificates?.deleteForOwner({ type: 'integration', id: integrationId })) ?? 0;
    } else for (const method of methods) deleted += await deps.credentials.deleteForIntegration(integrationId, method);
    // Said once per purge, with what it removed (0 is worth saying too: nothing was left behind).
    deps.events?.record({
      action: 'credentials.purged',
      outcome: 'success',
      integrationId,
      details: { count: deleted, methods: methods === 'all' ? 'all' : methods.join(','), clientCertificates },
    });
    return { deleted, clientCertificates };
  };
}
