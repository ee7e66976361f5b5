import * as client from 'openid-client';
import { open, UnsealError } from '../../crypto/sealing.ts';
import { sealingContext } from '../../control/protocol.ts';
import { AZURE_DEVOPS_DEFAULT_SCOPE, describeEntraFailure, discoverIssuer } from '../../entra/oidc.ts';
import type { RunnerIntegration } from '../../management/scm-integrations/service.ts';
import { HandlerError } from '../agent.ts';

export interface HostProbeResult {
  ok: boolean;
  /** Why not, in words an admin can act on. */
  message?: string;
}

export interface ValidateDeps {
  privateKey: string;
  allowInsecure: boolean;
  probeHost: (integration: RunnerIntegration) => Promise<HostProbeResult>;
}

export interface ValidationResult {
  valid: boolean;
  hostError?: string;
  oauthError?: string;
  patError?: string;
  scmIdError?: string;
}

/**
 * Save & Test, on the runner: is the host reachable and really Azure DevOps, does the issuer answer
 * discovery, and do the client id and secret work (a client-credentials request for the Azure DevOps
 * resource). Each check reports on its own field; all run even when one fails.
 */
export function createValidateIntegrationHandler(deps: ValidateDeps) {
  return async (payload: unknown): Promise<ValidationResult> => {
    const integration = (payload as { integration?: RunnerIntegration }).integration;
    if (!integration) throw new HandlerError('invalid_request', 'validate-integration needs an integration');
    const result: ValidationResult = { valid: true };

    if (integration.scmId !== 'azure-devops') {
      result.scmIdError = `this runner supports azure-devops, not ${integration.scmId}`;
    }

    const [host, oauth] = await Promise.all([deps.probeHost(integration), integration.oauth ? checkOAuth(integration, deps) : Promise.resolve(undefined)]);
    if (!host.ok) result.hostError = host.message ?? `${integration.host} is not reachable`;
    if (oauth) result.oauthError = oauth;
    if (!integration.oauth && !integration.patEnabled) result.patError = 'enable OAuth or Personal Access Tokens';

    result.valid = !result.hostError && !result.oauthError && !result.patError && !result.scmIdError;
    return result;
  };
}

async function checkOAuth(integration: RunnerIntegration, deps: ValidateDeps): Promise<string | undefined> {
  const oauth = integration.oauth;
  if (!oauth) return undefined;
  if (!oauth.sealedClientSecret) return 'no client secret is stored (the runner key changed since it was entered): enter the client secret again';
  let secret: string;
  try {
    secret = await open(deps.privateKey, oauth.sealedClientSecret, sealingContext.integrationClientSecret(integration.id));
  } catch (err) {
    if (err instanceof UnsealError && err.reason === 'wrong-recipient') return 'the client secret was sealed for another runner key: enter the client secret again';
    return 'the stored client secret cannot be opened by this runner: enter the client secret again';
  }
  let config: client.Configuration;
  try {
    config = await discoverIssuer(oauth.issuerUrl, oauth.clientId, secret, { allowInsecure: deps.allowInsecure });
  } catch (err) {
    return describeEntraFailure(err, { issuerUrl: oauth.issuerUrl }).message;
  }
  try {
    await client.clientCredentialsGrant(config, { scope: AZURE_DEVOPS_DEFAULT_SCOPE });
    return undefined;
  } catch (err) {
    return describeEntraFailure(err, { issuerUrl: oauth.issuerUrl }).message;
  }
}
