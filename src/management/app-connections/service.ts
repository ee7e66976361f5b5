import { describeOrLast } from '../client-credentials/described.ts';
import type { DescribedCredential } from '../client-credentials/described.ts';
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ManagementDB } from '../../db/management-schema.ts';
import { ApiError, badRequest, conflict, notFound } from '../../http/errors.ts';
import { isSealed, seal } from '../../crypto/sealing.ts';
import { InvalidIssuerUrlError, normalizeIssuerUrl } from '../../entra/issuer.ts';
import { APP_CONNECTION_REQUESTS } from '../../control/app-connections.ts';
import { sealingContext } from '../../control/sealing-context.ts';
import type {
  AppConnectionMethod,
  AppConnectionSavePayload,
  ConnectionValidation,
  RunnerAppConnection,
} from '../../control/app-connections.ts';
import { newId } from '../identity/tokens.ts';
import type { UserPrincipal } from '../identity/principal.ts';
import type { ControlChannel } from '../runners/control.ts';
import type { RunnerService } from '../runners/service.ts';
import type { ProjectService } from '../projects/service.ts';
import type { CreateConnectionInput, UpdateConnectionInput } from './schema.ts';
import { checkMemberTargets, parseMemberTargets } from '../syncs/targets.ts';
import { CLIENT_CREDENTIAL_REQUESTS } from '../../control/client-credentials.ts';
import type { CertificateSummary, ClientCredentialState } from '../../control/client-credentials.ts';
import { certificateNotFound } from '../scm-integrations/service.ts';
import { createSyncStore } from '../syncs/store.ts';
import { createAppConnectionStore } from './store.ts';
import type { AppConnectionRow } from './store.ts';

/** Connections of a runner whose credential is no secret (kept across a runner key change). */
export async function countSecretlessConnections(db: Kysely<ManagementDB>, runnerId: string): Promise<number> {
  const methods = await createAppConnectionStore(db).methodsForRunner(runnerId);
  return methods.filter((method) => isSecretless(method)).length;
}

/** Methods that sign in as a service principal without a secret (issue 19). */
export function isSecretless(method: string): method is 'certificate' | 'workload-identity' | 'managed-identity' {
  return method === 'certificate' || method === 'workload-identity' || method === 'managed-identity';
}

type Row = AppConnectionRow;
type Runner = ManagementDB['runners'];

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Azure DevOps organization names: letters, digits and hyphens, starting and ending with a letter or digit.
const ADO_ORGANIZATION = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,48}[A-Za-z0-9])?$/;
const NAME = /^[\w .()-]{1,64}$/;
export const OAUTH_CALLBACK_PATH = '/organization/app-connections/azure-devops/oauth/callback';

export interface OAuthAppConfig {
  clientId?: string;
  clientSecret?: string;
}

export interface AppConnectionDeps {
  db: Kysely<ManagementDB>;
  runners: Pick<RunnerService, 'get'>;
  control: Pick<ControlChannel, 'call' | 'enqueue'>;
  projects: Pick<ProjectService, 'require'>;
  publicUrl: () => string;
  entraAuthorityUrl: string;
  /** KEYWAY_AZURE_DEVOPS_CLIENT_ID / _SECRET: the instance-wide Entra app of `oauth` connections. */
  oauthApp: () => OAuthAppConfig;
  allowInsecureHosts: boolean;
  validateTimeoutMs?: number;
  now?: () => Date;
}

interface Details {
  identity?: { id: string; displayName?: string } | null;
  organizations?: string[];
}

/**
 * App connections: named, project-scoped credentials for automation. The management plane keeps
 * the settings; the credential is sealed to the holding runner's key the moment it arrives, checked
 * by the runner and stored there only when it works. No answer ever carries it back.
 */
export function createAppConnectionService(deps: AppConnectionDeps) {
  const store = createAppConnectionStore(deps.db);
  const syncs = createSyncStore(deps.db);
  const now = deps.now ?? (() => new Date());
  const timeoutMs = deps.validateTimeoutMs ?? 45_000;

  function view(row: Row) {
    const details = JSON.parse(row.details) as Details;
    return {
      id: row.id,
      projectId: row.project_id,
      runnerId: row.runner_id,
      name: row.name,
      method: row.method as AppConnectionMethod,
      organization: row.ado_organization,
      tenantId: row.tenant_id,
      clientId: row.client_id,
      status: row.status,
      credentialSet: row.status !== 'pending',
      identity: details.identity ?? null,
      ...(details.organizations ? { organizations: details.organizations } : {}),
      lastTest: row.last_test ? (JSON.parse(row.last_test) as ConnectionValidation) : null,
      ...(row.method === 'oauth' ? { authorizeUrl: authorizePath(row.project_id, row.id) } : {}),
      memberTargets: parseMemberTargets(row.member_targets),
      ...(row.credential_state && isSecretless(row.method)
        ? { credentialState: JSON.parse(row.credential_state) as ClientCredentialState }
        : {}),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  /** Where the browser starts (or restarts) an oauth connection's consent. */
  function authorizePath(projectId: string, id: string): string {
    return `/api/v1/projects/${encodeURIComponent(projectId)}/app-connections/${encodeURIComponent(id)}/oauth/authorize`;
  }

  function issuerFor(tenantId: string | null): string | null {
    if (!tenantId) return null;
    try {
      const normalized = normalizeIssuerUrl(`${deps.entraAuthorityUrl.replace(/\/+$/, '')}/${tenantId}/v2.0`, {
        authorityOrigins: [deps.entraAuthorityUrl],
      });
      if (normalized.multiTenant)
        throw badRequest(
          'invalid_tenant_id',
          'tenantId must name one tenant (its Directory ID or domain), not common, organizations or consumers',
          'tenantId',
        );
      return normalized.issuer;
    } catch (err) {
      if (err instanceof InvalidIssuerUrlError)
        throw badRequest(
          'invalid_tenant_id',
          'tenantId must be the Directory (tenant) ID from Entra ID, a GUID like 11111111-2222-3333-4444-555555555555',
          'tenantId',
        );
      throw err;
    }
  }

  /** Sealed copies of the instance app's client secret, per runner key: sealing costs an HPKE operation. */
  const sealedAppSecrets = new Map<string, string>();

  async function sealedAppSecret(row: Pick<Row, 'organization_id' | 'runner_id' | 'client_id'>): Promise<string | undefined> {
    const app = deps.oauthApp();
    // Tokens belong to the app that issued them: another configured app cannot refresh them.
    if (!app.clientId || !app.clientSecret || app.clientId.toLowerCase() !== row.client_id?.toLowerCase()) return undefined;
    const runner = await deps.runners.get(row.organization_id, row.runner_id);
    if (!runner.public_key || !runner.public_key_fingerprint) return undefined;
    const key = `${runner.public_key_fingerprint}|${app.clientId}|${createHash('sha256').update(app.clientSecret).digest('hex')}`;
    let sealed = sealedAppSecrets.get(key);
    if (!sealed) {
      sealed = await seal(runner.public_key, app.clientSecret, sealingContext.oauthAppClientSecret(row.client_id));
      if (sealedAppSecrets.size > 1000) sealedAppSecrets.clear();
      sealedAppSecrets.set(key, sealed);
    }
    return sealed;
  }

  /** The connection as its runner needs it; for oauth with the instance app's secret sealed to that runner. */
  async function toRunner(
    row: Pick<Row, 'id' | 'organization_id' | 'runner_id' | 'method' | 'ado_organization' | 'tenant_id' | 'client_id'>,
  ): Promise<RunnerAppConnection> {
    const connection: RunnerAppConnection = {
      id: row.id,
      method: row.method as AppConnectionMethod,
      organization: row.ado_organization,
      tenantId: row.tenant_id,
      clientId: row.client_id,
      issuerUrl: row.method === 'access-token' || (row.method === 'managed-identity' && !row.tenant_id) ? null : issuerFor(row.tenant_id),
    };
    if (row.method === 'oauth') {
      const sealed = await sealedAppSecret(row);
      if (sealed) connection.sealedClientSecret = sealed;
    }
    return connection;
  }

  async function getRow(projectId: string, id: string): Promise<Row> {
    const row = await store.getInProject(projectId, id);
    if (!row) throw notFound('app connection');
    return row;
  }

  async function usableRunner(user: UserPrincipal, runnerId: string): Promise<Runner> {
    let runner: Runner;
    try {
      runner = await deps.runners.get(user.organizationId, runnerId);
    } catch (err) {
      if (err instanceof ApiError && err.statusCode === 404)
        throw badRequest('unknown_runner', 'runnerId names no runner of this organization', 'runnerId');
      throw err;
    }
    if (runner.revoked_at) throw conflict('runner_revoked', 'this runner was revoked; pick another runner', 'runnerId');
    return runner;
  }

  function checkOrganization(value: string | undefined | null, required: boolean): string | null {
    const org = value?.trim() ?? '';
    if (!org) {
      if (required)
        throw badRequest(
          'organization_required',
          'organization is required: the Azure DevOps organization (dev.azure.com/{organization}) the service principal was added to',
          'organization',
        );
      return null;
    }
    if (!ADO_ORGANIZATION.test(org))
      throw badRequest(
        'invalid_organization',
        'organization must be the name in dev.azure.com/{organization}: letters, digits and hyphens',
        'organization',
      );
    return org;
  }

  function checkGuid(value: string | undefined | null, field: 'tenantId' | 'clientId'): string {
    const v = value?.trim() ?? '';
    const what = field === 'tenantId' ? 'the Directory (tenant) ID' : 'the Application (client) ID';
    if (!v)
      throw badRequest(
        `${field === 'tenantId' ? 'tenant_id' : 'client_id'}_required`,
        `${field} is required: ${what} from Entra ID`,
        field,
      );
    if (!GUID.test(v))
      throw badRequest(
        `invalid_${field === 'tenantId' ? 'tenant_id' : 'client_id'}`,
        `${field} must be ${what}, a GUID like 11111111-2222-3333-4444-555555555555`,
        field,
      );
    return v.toLowerCase();
  }

  /** The secret of the request, sealed for the runner; undefined when the request carries none. */
  async function sealSecret(
    runner: Runner,
    id: string,
    method: AppConnectionMethod,
    input: Partial<CreateConnectionInput>,
  ): Promise<string | undefined> {
    if (isSecretless(method)) {
      for (const f of ['clientSecret', 'sealedClientSecret', 'accessToken', 'sealedAccessToken'] as const) {
        if (input[f] !== undefined)
          throw badRequest('field_not_for_method', `${f} does not belong to a ${method} connection: it signs in without a secret`, f);
      }
      return undefined;
    }
    const [plainField, sealedField] =
      method === 'access-token' ? (['accessToken', 'sealedAccessToken'] as const) : (['clientSecret', 'sealedClientSecret'] as const);
    const other = method === 'access-token' ? ['clientSecret', 'sealedClientSecret'] : ['accessToken', 'sealedAccessToken'];
    for (const f of other)
      if ((input as Record<string, unknown>)[f] !== undefined)
        throw badRequest('field_not_for_method', `${f} does not belong to a ${method} connection`, f);
    const plain = input[plainField];
    const sealed = input[sealedField];
    if (plain !== undefined && sealed !== undefined)
      throw badRequest('ambiguous_secret', `send either ${plainField} or ${sealedField}, not both`, plainField);
    if (sealed !== undefined) {
      if (!isSealed(sealed)) throw badRequest('invalid_sealed_secret', `${sealedField} is not a sealed value (hpke1.…)`, sealedField);
      if (!runner.public_key_fingerprint || sealed.split('.')[1] !== runner.public_key_fingerprint) {
        throw badRequest(
          'sealed_for_another_key',
          `${sealedField} was sealed to another key than the runner's current one; reload the page and enter it again`,
          sealedField,
        );
      }
      return sealed;
    }
    if (plain === undefined) return undefined;
    if (!plain.trim()) throw badRequest('empty_secret', `${plainField} is empty`, plainField);
    if (!runner.public_key)
      throw conflict(
        'runner_not_registered',
        'the runner has not registered its key yet, so the credential cannot be sealed for it; start the runner first',
        'runnerId',
      );
    // Sealed at once: the plaintext goes no further than this function.
    return seal(runner.public_key, plain.trim(), sealingContext.appConnectionSecret(id));
  }

  /** Asks the runner to check (and, when it works, keep) the credential. A refusal is a 400 that says why. */
  async function saveOnRunner(
    runnerId: string,
    connection: RunnerAppConnection,
    sealedSecret: string | undefined,
  ): Promise<ConnectionValidation> {
    const payload: AppConnectionSavePayload = { connection, ...(sealedSecret ? { sealedSecret } : {}) };
    const validation = await deps.control.call(runnerId, APP_CONNECTION_REQUESTS.save, payload, { timeoutMs });
    // Without a secret, what must be registered (the runner's certificate, the federated
    // credential's values) comes from this very answer: the connection is kept, pending, to show it.
    if (!validation.valid && !isSecretless(connection.method))
      throw new ApiError(
        400,
        validation.code ?? 'invalid_connection',
        validation.message ?? 'the connection did not validate',
        validation.field,
      );
    return validation;
  }

  /** The columns a validation writes: who the credential is, the test, and (without a secret) what the runner described. */
  function validated(
    validation: ConnectionValidation,
    previous: Pick<Row, 'status' | 'details'>,
  ): Pick<Row, 'details' | 'last_test' | 'status' | 'credential_state'> {
    const { credentialState, ...test } = validation;
    return {
      details: validation.valid ? details(validation) : previous.details,
      last_test: testRecord(test),
      status: validation.valid ? 'active' : previous.status === 'active' ? 'invalid' : 'pending',
      credential_state: credentialState ? JSON.stringify(credentialState) : null,
    };
  }

  function details(validation: ConnectionValidation): string {
    const out: Details = { identity: validation.identity ?? null };
    if (validation.organizations) out.organizations = validation.organizations;
    return JSON.stringify(out);
  }

  function testRecord(validation: ConnectionValidation) {
    return JSON.stringify({ ...validation, testedAt: now().toISOString() });
  }

  /**
   * A connection without secret is kept whatever its first test says: the runner's certificate to
   * upload, or the federated credential's values, are what the admin needs to make it work.
   */
  async function createSecretless(row: Row, runnerId: string) {
    const validation = await saveOnRunner(runnerId, await toRunner(row), undefined);
    Object.assign(row, validated(validation, row));
    try {
      await store.insert(row);
    } catch (err) {
      await deps.control.enqueue(runnerId, APP_CONNECTION_REQUESTS.delete, { connectionId: row.id }).catch(() => undefined);
      throw err;
    }
    return { connection: view(row), validation };
  }

  return {
    view,
    toRunner,
    authorizePath,
    /** The details column for a validation: who the credential is and the organizations it reaches. */
    details,
    getRow,
    /** A runner of the user's organization that can hold credentials (errors name the field runnerId). */
    runnerOf: usableRunner,

    oauthConfiguration() {
      const app = deps.oauthApp();
      const base = deps.publicUrl().replace(/\/+$/, '');
      const redirectUri = `${base}${OAUTH_CALLBACK_PATH}`;
      const problems: string[] = [];
      if (!app.clientId)
        problems.push('KEYWAY_AZURE_DEVOPS_CLIENT_ID is not set: register an app in Entra ID and set its Application (client) ID');
      else if (!GUID.test(app.clientId)) problems.push('KEYWAY_AZURE_DEVOPS_CLIENT_ID must be the Application (client) ID, a GUID');
      if (!app.clientSecret)
        problems.push('KEYWAY_AZURE_DEVOPS_CLIENT_SECRET is not set: create a client secret for the app and set its Value');
      let url: URL | undefined;
      try {
        url = new URL(base);
      } catch {
        problems.push(`KEYWAY_PUBLIC_URL (${base}) is not a URL`);
      }
      if (url && url.protocol !== 'https:' && !deps.allowInsecureHosts && !['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)) {
        problems.push(
          `KEYWAY_PUBLIC_URL must use https: Entra ID accepts http redirect URIs for localhost only, so ${redirectUri} cannot be registered`,
        );
      }
      if (url && (url.search || url.hash)) problems.push('KEYWAY_PUBLIC_URL must not have a query or fragment');
      return { configured: problems.length === 0, clientId: app.clientId ?? null, redirectUri, problems };
    },

    /**
     * The browser reached the OAuth callback at `origin`. When that is not the public URL's origin,
     * Keyway sent Entra ID a redirect URI for one address while users reach it at another: say so.
     */
    callbackMismatch(origin: string): string | undefined {
      const expected = this.oauthConfiguration().redirectUri;
      let publicOrigin: string;
      try {
        publicOrigin = new URL(expected).origin;
      } catch {
        return `KEYWAY_PUBLIC_URL is not a URL; set it to the address users reach Keyway at`;
      }
      if (origin.toLowerCase() === publicOrigin.toLowerCase()) return undefined;
      return (
        `this callback was reached at ${origin}, but KEYWAY_PUBLIC_URL says Keyway is at ${publicOrigin}: the redirect URI Keyway sends to Entra ID is ${expected}. ` +
        `Set KEYWAY_PUBLIC_URL to the address users reach Keyway at, and register exactly ${OAUTH_CALLBACK_PATH} under it as a Web redirect URI of the app registration. ` +
        // Behind a proxy that terminates TLS, Keyway sees http and the proxy's upstream host unless it trusts X-Forwarded-*.
        `If Keyway runs behind a reverse proxy, set KEYWAY_TRUST_PROXY=true so that it sees the address the browser used.`
      );
    },

    /** Asks a runner whether Entra ID accepts the redirect URI for the instance-wide app (AADSTS50011 otherwise). */
    async probeOAuth(runnerId: string, tenant: string): Promise<ConnectionValidation> {
      const config = this.oauthConfiguration();
      if (!config.clientId) return { valid: false, code: 'oauth_not_configured', message: config.problems.join('; ') };
      return deps.control.call(
        runnerId,
        APP_CONNECTION_REQUESTS.oauthProbe,
        { authority: deps.entraAuthorityUrl, tenant, clientId: config.clientId, redirectUri: config.redirectUri },
        { timeoutMs: 20_000 },
      );
    },

    async list(user: UserPrincipal, projectId: string) {
      await deps.projects.require(user, projectId);
      const rows = await store.listForProject(projectId);
      return rows.map(view);
    },

    async get(user: UserPrincipal, projectId: string, id: string) {
      await deps.projects.require(user, projectId);
      return view(await getRow(projectId, id));
    },

    /** For syncs: the connection must belong to the sync's project. */
    async forProject(projectId: string, id: string): Promise<Row> {
      const row = await store.getInProject(projectId, id);
      if (!row) throw badRequest('unknown_connection', 'connectionId names no app connection of this project', 'connectionId');
      return row;
    },

    async create(user: UserPrincipal, projectId: string, input: CreateConnectionInput) {
      const { project } = await deps.projects.require(user, projectId, 'owner');
      const name = input.name.trim();
      if (!NAME.test(name))
        throw badRequest('invalid_name', 'name: 1–64 letters, digits, spaces, dots, dashes, underscores or parentheses', 'name');
      const id = input.id ?? newId('conn');
      if (!/^conn_[A-Za-z0-9_-]{8,40}$/.test(id))
        throw badRequest('invalid_id', 'id must look like conn_ followed by 8–40 letters, digits, _ or -', 'id');
      if (await store.idTaken(id)) throw conflict('id_taken', 'an app connection with this id exists; generate another id', 'id');
      if (await store.nameTaken(projectId, name)) {
        throw conflict('name_taken', `this project already has an app connection named "${name}"`, 'name');
      }
      const runner = await usableRunner(user, input.runnerId);
      const newRow = (fields: Pick<Row, 'method' | 'ado_organization' | 'tenant_id' | 'client_id' | 'status'>): Row => {
        const at = now().toISOString();
        const memberTargets = input.memberTargets ? JSON.stringify(checkMemberTargets(input.memberTargets, fields.ado_organization)) : null;
        return {
          id,
          organization_id: project.organization_id,
          project_id: projectId,
          runner_id: runner.id,
          name,
          ...fields,
          details: '{}',
          last_test: null,
          created_by: user.userId,
          created_at: at,
          updated_at: at,
          member_targets: memberTargets,
        };
      };

      if (input.method === 'oauth') {
        for (const f of ['clientId', 'clientSecret', 'sealedClientSecret', 'accessToken', 'sealedAccessToken'] as const) {
          if (input[f] !== undefined)
            throw badRequest(
              'field_not_for_method',
              `${f} does not belong to an oauth connection: it uses this Keyway's Entra app and your consent`,
              f,
            );
        }
        const config = this.oauthConfiguration();
        if (!config.configured)
          throw badRequest(
            'oauth_not_configured',
            `oauth app connections are not available on this Keyway: ${config.problems.join('; ')}`,
            'method',
          );
        const tenantId = checkGuid(input.tenantId, 'tenantId');
        const organization = checkOrganization(input.organization, false);
        const probe = await this.probeOAuth(runner.id, tenantId);
        if (!probe.valid && probe.code !== 'entra_unreachable')
          throw badRequest(
            probe.code ?? 'oauth_misconfigured',
            probe.message ?? 'the oauth app registration does not fit',
            probe.field === 'tenantId' ? 'tenantId' : 'method',
          );
        // Pending until someone consents: the runner holds nothing for it yet.
        const row = newRow({
          method: 'oauth',
          ado_organization: organization,
          tenant_id: tenantId,
          client_id: config.clientId,
          status: 'pending',
        });
        await store.insert(row);
        return {
          connection: view(row),
          validation: { valid: true, message: 'connect the connection: sign in at Microsoft Entra ID and consent' },
          authorizeUrl: authorizePath(projectId, id),
        };
      }

      if (input.method === 'managed-identity') {
        const organization = checkOrganization(input.organization, true);
        const clientId = input.clientId?.trim() ? checkGuid(input.clientId, 'clientId') : null;
        const tenantId = input.tenantId?.trim() ? checkGuid(input.tenantId, 'tenantId') : null;
        await sealSecret(runner, id, input.method, input);
        return createSecretless(
          newRow({ method: input.method, ado_organization: organization, tenant_id: tenantId, client_id: clientId, status: 'pending' }),
          runner.id,
        );
      }
      if (input.method === 'certificate' || input.method === 'workload-identity') {
        const organization = checkOrganization(input.organization, true);
        const tenantId = checkGuid(input.tenantId, 'tenantId');
        const clientId = checkGuid(input.clientId, 'clientId');
        await sealSecret(runner, id, input.method, input);
        return createSecretless(
          newRow({ method: input.method, ado_organization: organization, tenant_id: tenantId, client_id: clientId, status: 'pending' }),
          runner.id,
        );
      }

      const organization = checkOrganization(input.organization, input.method === 'client-secret');
      const tenantId = input.method === 'client-secret' ? checkGuid(input.tenantId, 'tenantId') : null;
      const clientId = input.method === 'client-secret' ? checkGuid(input.clientId, 'clientId') : null;
      if (input.method === 'access-token') {
        for (const f of ['tenantId', 'clientId'] as const)
          if (input[f] !== undefined) throw badRequest('field_not_for_method', `${f} does not belong to an access-token connection`, f);
      }
      const sealed = await sealSecret(runner, id, input.method, input);
      if (!sealed) {
        const field = input.method === 'access-token' ? 'accessToken' : 'clientSecret';
        throw badRequest('credential_required', `${field} is required for a ${input.method} connection`, field);
      }
      const row = newRow({
        method: input.method,
        ado_organization: organization,
        tenant_id: tenantId,
        client_id: clientId,
        status: 'active',
      });
      const validation = await saveOnRunner(runner.id, await toRunner(row), sealed);
      row.details = details(validation);
      row.last_test = testRecord(validation);
      try {
        await store.insert(row);
      } catch (err) {
        // The runner kept a credential for a connection that does not exist: have it forget.
        await deps.control.enqueue(runner.id, APP_CONNECTION_REQUESTS.delete, { connectionId: id }).catch(() => undefined);
        throw err;
      }
      return { connection: view(row), validation };
    },

    /** Rename, or re-enter the credential and settings (validated again; nothing changes when that fails). */
    async update(user: UserPrincipal, projectId: string, id: string, patch: UpdateConnectionInput) {
      await deps.projects.require(user, projectId, 'owner');
      const row = await getRow(projectId, id);
      const next: Row = { ...row };
      if (patch.name !== undefined) {
        const name = patch.name.trim();
        if (!NAME.test(name))
          throw badRequest('invalid_name', 'name: 1–64 letters, digits, spaces, dots, dashes, underscores or parentheses', 'name');
        if (await store.nameTaken(projectId, name, id))
          throw conflict('name_taken', `this project already has an app connection named "${name}"`, 'name');
        next.name = name;
      }
      const method = row.method as AppConnectionMethod;
      if (method === 'access-token') {
        for (const f of ['tenantId', 'clientId'] as const)
          if (patch[f] !== undefined) throw badRequest('field_not_for_method', `${f} does not belong to an access-token connection`, f);
      }
      if (method === 'oauth') {
        for (const f of ['tenantId', 'clientId', 'clientSecret', 'sealedClientSecret', 'accessToken', 'sealedAccessToken'] as const) {
          if (patch[f] !== undefined)
            throw badRequest(
              'field_not_for_method',
              `${f} cannot be changed on an oauth connection: only its name and organization can; create another connection for another tenant`,
              f,
            );
        }
        if (patch.organization !== undefined && row.status === 'pending')
          throw conflict('not_connected', 'connect the connection first (sign in at Entra ID), then pick the organization', 'organization');
      }
      const optionalIds = method === 'managed-identity';
      if (patch.organization !== undefined)
        next.ado_organization = checkOrganization(patch.organization, method !== 'access-token' && method !== 'oauth');
      if (patch.tenantId !== undefined)
        next.tenant_id = optionalIds && !patch.tenantId.trim() ? null : checkGuid(patch.tenantId, 'tenantId');
      if (patch.clientId !== undefined)
        next.client_id = optionalIds && !patch.clientId.trim() ? null : checkGuid(patch.clientId, 'clientId');
      if (patch.memberTargets !== undefined)
        next.member_targets =
          patch.memberTargets === null ? null : JSON.stringify(checkMemberTargets(patch.memberTargets, next.ado_organization));
      const touchesCredential = [
        'organization',
        'accessToken',
        'sealedAccessToken',
        'tenantId',
        'clientId',
        'clientSecret',
        'sealedClientSecret',
      ].some((f) => (patch as Record<string, unknown>)[f] !== undefined);
      let validation: ConnectionValidation | undefined;
      if (touchesCredential) {
        const runner = await usableRunner(user, row.runner_id);
        const sealed = await sealSecret(runner, id, method, patch);
        validation = await saveOnRunner(runner.id, await toRunner(next), sealed);
        if (isSecretless(method)) Object.assign(next, validated(validation, row));
        else {
          next.details = details(validation);
          next.last_test = testRecord(validation);
          next.status = 'active';
        }
      }
      next.updated_at = now().toISOString();
      await store.update(id, {
        name: next.name,
        ado_organization: next.ado_organization,
        tenant_id: next.tenant_id,
        client_id: next.client_id,
        details: next.details,
        last_test: next.last_test,
        status: next.status,
        updated_at: next.updated_at,
        member_targets: next.member_targets,
        ...(next.credential_state !== undefined ? { credential_state: next.credential_state } : {}),
      });
      return { connection: view(next), ...(validation ? { validation } : {}) };
    },

    /** What the runner holds for a connection without secret, asked now (stale: the last answer, when it cannot be asked). */
    async clientCredential(user: UserPrincipal, projectId: string, id: string): Promise<DescribedCredential> {
      await deps.projects.require(user, projectId);
      const row = await getRow(projectId, id);
      if (!isSecretless(row.method))
        throw conflict('no_client_credential', `a ${row.method} connection has no certificate or federated credential to show`, 'method');
      const credential = { type: row.method };
      const ask = async (): Promise<ClientCredentialState> => {
        const state =
          row.method === 'managed-identity'
            ? ((await deps.control.call(row.runner_id, APP_CONNECTION_REQUESTS.test, { connection: await toRunner(row) }, { timeoutMs }))
                .credentialState ?? null)
            : await deps.control.call(
                row.runner_id,
                CLIENT_CREDENTIAL_REQUESTS.describe,
                { owner: { type: 'app-connection', id }, credential },
                { timeoutMs: 20_000 },
              );
        if (!state) throw conflict('no_client_credential', 'the runner described nothing for this connection');
        return state;
      };
      return describeOrLast(ask, row.credential_state, async (state) => {
        await store.setCredentialState(id, state);
      });
    },

    async prepareNextCertificate(user: UserPrincipal, projectId: string, id: string): Promise<ClientCredentialState> {
      await deps.projects.require(user, projectId, 'owner');
      const row = await getRow(projectId, id);
      if (row.method !== 'certificate')
        throw conflict('not_certificate', "this connection does not sign in with the runner's certificate", 'method');
      const state = await deps.control.call(
        row.runner_id,
        CLIENT_CREDENTIAL_REQUESTS.prepareNext,
        { owner: { type: 'app-connection', id } },
        { timeoutMs: 30_000 },
      );
      await store.setCredentialState(id, JSON.stringify(state));
      return state;
    },

    async certificate(user: UserPrincipal, projectId: string, id: string, status: 'active' | 'next'): Promise<CertificateSummary> {
      await deps.projects.require(user, projectId);
      const row = await getRow(projectId, id);
      const state = row.credential_state ? (JSON.parse(row.credential_state) as ClientCredentialState) : undefined;
      const found =
        row.method === 'certificate' && state?.type === 'certificate' ? state.certificates?.find((c) => c.status === status) : undefined;
      if (!found) throw certificateNotFound(status);
      return found;
    },

    async remove(user: UserPrincipal, projectId: string, id: string) {
      await deps.projects.require(user, projectId, 'owner');
      const row = await getRow(projectId, id);
      const users = await syncs.namesUsingConnection(id);
      if (users.length > 0) {
        throw conflict(
          'connection_in_use',
          `syncs use this connection (${users.slice(0, 5).join(', ')}); delete them or move them to another connection first`,
        );
      }
      await store.delete(id);
      await deps.control.enqueue(row.runner_id, APP_CONNECTION_REQUESTS.delete, { connectionId: id });
      return row;
    },

    /** Members may test: it proves the connection works without showing anything of it. */
    async test(user: UserPrincipal, projectId: string, id: string): Promise<ConnectionValidation & { testedAt: string }> {
      await deps.projects.require(user, projectId);
      const row = await getRow(projectId, id);
      let validation: ConnectionValidation;
      if (row.status === 'pending' && row.method === 'oauth') {
        validation = {
          valid: false,
          code: 'not_connected',
          message: 'this oauth connection was never connected: choose Connect and consent at Entra ID',
        };
      } else {
        try {
          validation = await deps.control.call(
            row.runner_id,
            APP_CONNECTION_REQUESTS.test,
            { connection: await toRunner(row) },
            { timeoutMs },
          );
        } catch (err) {
          validation = {
            valid: false,
            code: err instanceof ApiError ? err.code : 'runner_error',
            message: err instanceof ApiError ? err.message : 'the runner could not be asked',
          };
        }
      }
      const testedAt = now().toISOString();
      const { credentialState, ...test } = validation;
      await store.update(id, {
        last_test: JSON.stringify({ ...test, testedAt }),
        status: validation.valid ? 'active' : row.status === 'pending' ? 'pending' : 'invalid',
        ...(validation.valid ? { details: details(validation) } : {}),
        ...(credentialState ? { credential_state: JSON.stringify(credentialState) } : {}),
      });
      return { ...validation, testedAt };
    },
  };
}

export type AppConnectionService = ReturnType<typeof createAppConnectionService>;
