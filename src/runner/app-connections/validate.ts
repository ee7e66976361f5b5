// Is an app connection's credential good for syncs? Runs on the runner, the only place the
// credential can be used. Every failure is an answer with a code, the field at fault and a sentence
// saying what to do; nothing here ever puts the credential into a message.
import { createAzureDevOpsClient } from '../../azure-devops/client.ts';
import type { AzureDevOpsClient, AzureDevOpsClientOptions } from '../../azure-devops/client.ts';
import type { AzureDevOpsEndpoints } from '../../azure-devops/endpoints.ts';
import { AzureDevOpsError } from '../../azure-devops/errors.ts';
import type { AzureDevOpsCredential, ConnectionData } from '../../azure-devops/types.ts';
import { describeScopes, SYNC_PAT_SCOPES } from '../../control/app-connections.ts';
import type { ConnectionValidation, RunnerAppConnection } from '../../control/app-connections.ts';
import { HandlerError } from '../agent.ts';
import type { AppConnectionTokens } from './tokens.ts';

export interface ValidateDeps {
  endpoints: AzureDevOpsEndpoints;
  tokens: Pick<AppConnectionTokens, 'requestToken'>;
  /** Client settings for tests (fewer retries, a fake sleep). */
  clientOptions?: Partial<AzureDevOpsClientOptions>;
}

const ALL_SCOPES = SYNC_PAT_SCOPES.map((s) => s.scope);
const AUTH_FAILURE = new Set(['unauthenticated', 'forbidden']);

function isAuthFailure(err: unknown): err is AzureDevOpsError {
  return err instanceof AzureDevOpsError && AUTH_FAILURE.has(err.kind);
}

function clientFor(deps: ValidateDeps, organization: string, credential: AzureDevOpsCredential): AzureDevOpsClient {
  return createAzureDevOpsClient({
    target: { kind: 'services', organization },
    endpoints: deps.endpoints,
    credential,
    maxRetries: 2,
    timeoutMs: 20_000,
    ...deps.clientOptions,
  });
}

function unreachable(err: unknown, organization: string | null): ConnectionValidation {
  const message = err instanceof AzureDevOpsError ? err.describe() : 'the request to Azure DevOps failed unexpectedly';
  return {
    valid: false,
    code: 'azure_devops_error',
    field: organization ? 'organization' : undefined,
    message: `Checking the connection${organization ? ` against organization '${organization}'` : ''} failed: ${message}`,
  };
}

function identityOf(data: ConnectionData): ConnectionValidation['identity'] {
  const user = data.authenticatedUser;
  return {
    id: user.id,
    ...(user.providerDisplayName || user.displayName ? { displayName: user.providerDisplayName ?? user.displayName } : {}),
  };
}

/**
 * Without an organization: who the credential is (the profile) and the organizations it reaches,
 * sorted, to pick from. The caller says what else a success carries, what to say when the list is
 * empty, and its answer when Azure DevOps refuses the credential.
 */
async function profileAndOrganizations(
  deps: ValidateDeps,
  credential: AzureDevOpsCredential,
  answers: { found?: Partial<ConnectionValidation>; noOrganization: string; refused: ConnectionValidation },
): Promise<ConnectionValidation> {
  // getProfile and listAccounts live on the global vssps host; the organization is a placeholder.
  const client = clientFor(deps, 'profile', credential);
  try {
    const profile = await client.getProfile();
    const organizations = (await client.listAccounts(profile.id)).items.map((a) => a.accountName).sort((a, b) => a.localeCompare(b));
    return {
      valid: true,
      identity: { id: profile.id, ...(profile.displayName ? { displayName: profile.displayName } : {}) },
      organizations,
      ...answers.found,
      ...(organizations.length === 0 ? { message: answers.noOrganization } : {}),
    };
  } catch (err) {
    if (isAuthFailure(err)) return answers.refused;
    return unreachable(err, null);
  }
}

/**
 * A PAT. With an organization: who it is (connectionData), then a one-item projects query (Project
 * and Team read), a one-item variable group list (Variable Groups read) and a write probe (below).
 * Without one: the profile and the organizations it reaches, to pick from.
 */
export async function validateAccessToken(
  connection: RunnerAppConnection,
  token: string,
  deps: ValidateDeps,
): Promise<ConnectionValidation> {
  const credential: AzureDevOpsCredential = { kind: 'pat', token };
  const required = describeScopes(ALL_SCOPES);
  if (!connection.organization) {
    return profileAndOrganizations(deps, credential, {
      found: { checkedScopes: [], uncheckedScopes: ALL_SCOPES },
      noOrganization: 'the token works but reaches no organization; its owner must be added to one',
      refused: {
        valid: false,
        code: 'invalid_access_token',
        field: 'accessToken',
        message:
          'Azure DevOps did not accept the access token for the profile: it is wrong, expired or revoked, or it is limited to some organizations or lacks User Profile (Read) [vso.profile]. ' +
          `Enter the organization the token is for, or create a token for all accessible organizations. Syncs need ${required}.`,
      },
    });
  }

  const org = connection.organization;
  const client = clientFor(deps, org, credential);
  let identity: ConnectionValidation['identity'];
  try {
    identity = identityOf(await client.connectionData());
  } catch (err) {
    if (isAuthFailure(err)) {
      return {
        valid: false,
        code: 'invalid_access_token',
        field: 'accessToken',
        message: `Azure DevOps organization '${org}' did not accept the access token: it is wrong, expired or revoked, it is not valid for this organization, its owner is not a member, or the organization name is misspelled. Create a token for '${org}' with ${required}.`,
      };
    }
    return unreachable(err, org);
  }

  const checked: string[] = [];
  const missing: string[] = [];
  let project: string | undefined;
  try {
    project = (await client.listProjects({ top: 1 })).items[0]?.id;
    checked.push('vso.project');
  } catch (err) {
    if (!isAuthFailure(err)) return unreachable(err, org);
    missing.push('vso.project');
  }
  if (project) {
    try {
      await client.listVariableGroups(project, { top: 1 });
    } catch (err) {
      if (!isAuthFailure(err)) return unreachable(err, org);
      missing.push('vso.variablegroups_manage');
    }
  }
  if (!missing.includes('vso.variablegroups_manage')) {
    // Write probe: a group without a name can never be created, so this POST changes nothing. With
    // write permission the service refuses the body (400); without, it refuses the caller (401/403).
    // That the scope check comes before body validation is how the emulator and the documented
    // pipeline order behave; against the live service this is unconfirmed, so only a clear 401/403
    // counts as "missing" and anything else leaves the scope unchecked.
    try {
      await client.addVariableGroup({ name: '', variables: {}, variableGroupProjectReferences: [] });
    } catch (err) {
      if (isAuthFailure(err)) missing.push('vso.variablegroups_manage');
      // Creating and updating groups is what syncs do (vso.variablegroups_write); manage adds only deletion.
      else if (err instanceof AzureDevOpsError && err.kind === 'bad-request') checked.push('vso.variablegroups_write');
    }
  }
  const unchecked = ALL_SCOPES.filter((s) => !checked.includes(s) && !missing.includes(s));
  if (missing.length > 0) {
    return {
      valid: false,
      code: 'missing_scopes',
      field: 'accessToken',
      identity,
      checkedScopes: checked,
      missingScopes: missing,
      uncheckedScopes: unchecked,
      message:
        `The access token works for '${org}' but lacks ${describeScopes(missing)}. ` +
        `Edit the token (or create one) with ${required}${unchecked.length ? `; ${describeScopes(unchecked)} cannot be checked here, so select them too` : ''}.`,
    };
  }
  return { valid: true, identity, checkedScopes: checked, uncheckedScopes: unchecked };
}

/**
 * A service principal: a token from Entra ID (the client-credentials grant with its secret,
 * certificate or federated token; or, with managed identity, the machine's Instance Metadata
 * Service) — wrong credential, unknown app, wrong tenant answer from Entra ID — then the
 * organization (a service principal that was never added to it is refused).
 */
export async function validateServicePrincipal(
  connection: RunnerAppConnection,
  secret: string | undefined,
  deps: ValidateDeps,
): Promise<ConnectionValidation> {
  if (!connection.organization)
    return {
      valid: false,
      code: 'organization_required',
      field: 'organization',
      message: 'enter the Azure DevOps organization the service principal was added to',
    };
  let token: string;
  try {
    token = (await deps.tokens.requestToken(connection, secret)).accessToken;
  } catch (err) {
    if (err instanceof HandlerError) return { valid: false, code: err.code, field: err.field, message: err.message };
    throw err;
  }
  const org = connection.organization;
  const client = clientFor(deps, org, { kind: 'bearer', token });
  let identity: ConnectionValidation['identity'];
  try {
    identity = identityOf(await client.connectionData());
    await client.listProjects({ top: 1 });
  } catch (err) {
    if (isAuthFailure(err)) {
      const kind = connection.method === 'managed-identity' ? 'the managed identity' : 'the service principal';
      const who =
        connection.method === 'managed-identity'
          ? `${kind}${connection.clientId ? ` ${connection.clientId}` : " of the runner's machine"}`
          : `${kind} (application ${connection.clientId})`;
      return {
        valid: false,
        code: 'service_principal_not_member',
        field: 'organization',
        message:
          `Entra ID signed in ${who}, but Azure DevOps organization '${org}' refused it: ${kind} is not a member of the organization. ` +
          `Add it in Azure DevOps under Organization settings → Users → Add users (search for its name), with the Basic access level, and give it access to the projects to sync. ` +
          `Also check that '${org}' is spelled right and is connected to ${connection.tenantId ? `tenant ${connection.tenantId}` : "the identity's tenant"}.`,
      };
    }
    return unreachable(err, org);
  }
  return { valid: true, identity };
}

/**
 * An oauth connection's delegated token, right after consent or on test. The scopes were granted
 * at consent, so a refusal here is about the account or the organization, not the token. Without
 * an organization: the profile and the organizations the account reaches, to pick from.
 */
export async function validateOAuthToken(
  connection: RunnerAppConnection,
  token: string,
  deps: ValidateDeps,
  who: string,
): Promise<ConnectionValidation> {
  const credential: AzureDevOpsCredential = { kind: 'bearer', token };
  if (!connection.organization) {
    return profileAndOrganizations(deps, credential, {
      noOrganization: `${who} is not a member of any Azure DevOps organization; add the account to one, then connect again`,
      refused: {
        valid: false,
        code: 'profile_refused',
        field: 'connection',
        message: `Azure DevOps refused the profile of ${who}: connect again and accept every permission Keyway asks for`,
      },
    });
  }
  const org = connection.organization;
  const client = clientFor(deps, org, credential);
  try {
    const identity = identityOf(await client.connectionData());
    const project = (await client.listProjects({ top: 1 })).items[0]?.id;
    if (project) await client.listVariableGroups(project, { top: 1 });
    return { valid: true, identity };
  } catch (err) {
    if (isAuthFailure(err)) {
      return {
        valid: false,
        code: 'organization_refused',
        field: 'organization',
        message:
          `Azure DevOps organization '${org}' refused ${who}: the account is not a member of '${org}', the organization is connected to another Entra tenant than ${connection.tenantId ?? 'the one signed in to'}, ` +
          `or '${org}' does not allow third-party applications via OAuth (an organization administrator can turn on "Third-party application access via OAuth" under Organization settings → Policies). Pick another organization, or connect with another account.`,
      };
    }
    return unreachable(err, org);
  }
}

export async function validateConnection(
  connection: RunnerAppConnection,
  secret: string | undefined,
  deps: ValidateDeps,
): Promise<ConnectionValidation> {
  switch (connection.method) {
    case 'access-token':
      return validateAccessToken(connection, secret ?? '', deps);
    case 'client-secret':
    case 'certificate':
    case 'workload-identity':
    case 'managed-identity':
      return validateServicePrincipal(connection, secret, deps);
    case 'oauth':
      // Never reached with a secret: oauth connections are validated with their current token (handlers.ts).
      return {
        valid: false,
        code: 'invalid_request',
        message: 'oauth app connections are connected through the browser, not with a secret',
      };
  }
}
