import { describeOrLast } from '../client-credentials/described.ts';
import type { DescribedCredential } from '../client-credentials/described.ts';
import type { Kysely } from 'kysely';
import type { ManagementDB } from '../../db/management-schema.ts';
import { ApiError, badRequest, conflict, notFound } from '../../http/errors.ts';
import { isSealed, seal } from '../../crypto/sealing.ts';
import { sealingContext } from '../../control/sealing-context.ts';
import { CLIENT_CREDENTIAL_REQUESTS, CLIENT_CREDENTIAL_TYPES } from '../../control/client-credentials.ts';
import type {
  CertificateSummary,
  ClientCredentialState,
  ClientCredentialType,
  IntegrationCredential,
} from '../../control/client-credentials.ts';
import type { RunnerIntegration } from '../../control/integration.ts';
import { InvalidIssuerUrlError, normalizeIssuerUrl } from '../../entra/issuer.ts';
import { newId } from '../identity/tokens.ts';
import type { ControlChannel } from '../runners/control.ts';
import type { RunnerService } from '../runners/service.ts';
import { HostPolicyError, normalizeHost, normalizeVirtualDirectory } from '../../azure-devops/host-policy.ts';
import { createScmIntegrationStore } from './store.ts';
import type { IntegrationRow } from './store.ts';

/** Providers the model knows; only Azure DevOps has a runner implementation so far. */
export const KNOWN_SCM_IDS = ['azure-devops', 'github', 'gitlab', 'bitbucket'] as const;
export const SUPPORTED_SCM_IDS = ['azure-devops'] as const;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface TestResult {
  valid: boolean;
  /** Something changed since the test that it did not see (the runner's key): test again. */
  stale?: boolean;
  staleReason?: string;
  hostError?: string;
  oauthError?: string;
  /** AADSTS50011: the callback is not registered; the message names the exact value to register. */
  redirectUriError?: string;
  /** Azure DevOps Server: the path named a collection; the server's own virtual directory was saved. */
  serverLayout?: { virtualDirectory: string; collection: string };
  hostNote?: string;
  patError?: string;
  scmIdError?: string;
  runnerError?: string;
  /** About the next certificate: accepted by Entra (now in use), or still to be uploaded. */
  credentialNote?: string;
  testedAt: string;
}

export interface OAuthInput {
  clientId: string;
  clientSecret?: string;
  sealedClientSecret?: string;
  issuerUrl: string;
  /** How the runner authenticates as the app; default: what is stored, else a client secret. */
  credential?: ClientCredentialType;
  /** credential managed-identity: a user-assigned identity's client id (none: the system-assigned one). */
  managedIdentityClientId?: string | null;
}

export interface IntegrationInput {
  id?: string;
  scmId: string;
  host: string;
  virtualDirectory?: string;
  oauth?: OAuthInput | null;
  pat?: { enabled: boolean };
}

export type IntegrationPatch = Partial<Omit<IntegrationInput, 'id'>> & {
  /** Apply even though the test fails (replacing a working configuration, or purging users' credentials). */
  force?: boolean;
  /** Who proposed it, for the draft. */
  proposedBy?: string;
};

/** The stored settings a change touches. */
const SETTING_COLUMNS = [
  'scm_id',
  'host',
  'virtual_directory',
  'settings',
  'oauth_client_id',
  'oauth_client_secret_sealed',
  'oauth_issuer_url',
  'pat_enabled',
  'oauth_credential',
] as const;
type Settings = Pick<ManagementDB['scm_integrations'], (typeof SETTING_COLUMNS)[number]>;

/** A change whose test failed, kept beside the configuration that keeps serving. */
interface Draft extends Settings {
  test: TestResult;
  /** What applying it would purge. */
  purges: ('oauth' | 'pat')[];
  proposedAt: string;
  proposedBy: string | null;
}

function pickSettings(row: Settings): Settings {
  return Object.fromEntries(SETTING_COLUMNS.map((c) => [c, row[c]])) as Settings;
}

function sameSettings(a: Settings, b: Settings): boolean {
  // Rows older than a column hold null where new ones may leave it out.
  return SETTING_COLUMNS.every((c) => (a[c] ?? null) === (b[c] ?? null));
}

/** The stored credential of an integration's app; null (every row before issue 19) is a client secret. */
export function parseCredential(column: string | null | undefined): IntegrationCredential {
  if (!column) return { type: 'client-secret' };
  const parsed = JSON.parse(column) as IntegrationCredential;
  return { type: parsed.type, ...(parsed.managedIdentityClientId ? { managedIdentityClientId: parsed.managedIdentityClientId } : {}) };
}

function credentialColumn(credential: IntegrationCredential): string | null {
  return credential.type === 'client-secret' ? null : JSON.stringify(credential);
}

type Row = IntegrationRow;

export interface ScmIntegrationDeps {
  db: Kysely<ManagementDB>;
  runners: Pick<RunnerService, 'get'>;
  control: Pick<ControlChannel, 'call' | 'enqueue'>;
  publicUrl: () => string;
  allowInsecureHosts: boolean;
  entraAuthorityUrl: string;
  testTimeoutMs?: number;
  now?: () => Date;
}

export function createScmIntegrationService(deps: ScmIntegrationDeps) {
  const store = createScmIntegrationStore(deps.db);
  const now = deps.now ?? (() => new Date());
  const callbackUrl = (id: string) => `${deps.publicUrl()}/api/v1/oauth/callback/${id}`;

  function view(row: Row) {
    const settings = JSON.parse(row.settings) as { kind?: 'services' | 'server'; origin?: string };
    return {
      id: row.id,
      runnerId: row.runner_id,
      scmId: row.scm_id,
      host: row.host,
      virtualDirectory: row.virtual_directory,
      kind: settings.kind ?? 'services',
      oauth: row.oauth_client_id ? { ...oauthView(row, row.credential_state), callbackUrl: callbackUrl(row.id) } : null,
      pat: { enabled: row.pat_enabled === 1 },
      lastTest: row.last_test ? (JSON.parse(row.last_test) as TestResult) : null,
      draft: row.draft ? draftView(JSON.parse(row.draft) as Draft, row.credential_state) : null,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  /** The OAuth app as the admin sees it: never its sealed secret, only whether one is set. */
  function oauthView(
    app: Pick<Row, 'oauth_client_id' | 'oauth_issuer_url' | 'oauth_client_secret_sealed' | 'oauth_credential'>,
    credentialState: string | null | undefined,
  ) {
    return {
      clientId: app.oauth_client_id ?? '',
      issuerUrl: app.oauth_issuer_url ?? '',
      clientSecretSet: app.oauth_client_secret_sealed !== null,
      ...credentialView({ oauth_credential: app.oauth_credential, credential_state: credentialState }),
    };
  }

  /** The app credential and, without a secret, what the runner last said the admin must register. */
  function credentialView(row: Pick<Row, 'oauth_credential' | 'credential_state'>) {
    const credential = parseCredential(row.oauth_credential);
    const state =
      credential.type !== 'client-secret' && row.credential_state ? (JSON.parse(row.credential_state) as ClientCredentialState) : null;
    return {
      credential: credential.type,
      ...(credential.managedIdentityClientId ? { managedIdentityClientId: credential.managedIdentityClientId } : {}),
      ...(state && state.type === credential.type ? { credentialState: state } : {}),
    };
  }

  /** A draft as the admin sees it: never its sealed secret, only whether one was entered. */
  function draftView(draft: Draft, credentialState: string | null | undefined) {
    const settings = JSON.parse(draft.settings) as { kind?: 'services' | 'server' };
    return {
      host: draft.host,
      virtualDirectory: draft.virtual_directory,
      kind: settings.kind ?? 'services',
      // A change to a credential without secret waits for what it asks the admin to register: show it.
      oauth: draft.oauth_client_id ? oauthView(draft, credentialState) : null,
      pat: { enabled: draft.pat_enabled === 1 },
      test: draft.test,
      wouldPurge: draft.purges,
      proposedAt: draft.proposedAt,
    };
  }

  function toRunnerIntegration(row: Row): RunnerIntegration {
    const settings = JSON.parse(row.settings) as { kind: 'services' | 'server'; origin: string };
    return {
      id: row.id,
      scmId: row.scm_id,
      kind: settings.kind,
      host: row.host,
      origin: settings.origin,
      virtualDirectory: row.virtual_directory,
      oauth: row.oauth_client_id
        ? {
            clientId: row.oauth_client_id,
            issuerUrl: row.oauth_issuer_url ?? '',
            sealedClientSecret: row.oauth_client_secret_sealed,
            callbackUrl: callbackUrl(row.id),
            credential: parseCredential(row.oauth_credential),
          }
        : null,
      patEnabled: row.pat_enabled === 1,
    };
  }

  function checkScmId(scmId: string) {
    if (!(KNOWN_SCM_IDS as readonly string[]).includes(scmId))
      throw badRequest('unknown_scm', `scmId "${scmId.slice(0, 40)}" is unknown; use azure-devops`, 'scmId');
    if (!(SUPPORTED_SCM_IDS as readonly string[]).includes(scmId))
      throw badRequest('scm_not_supported', `${scmId} is not supported yet; use azure-devops`, 'scmId');
  }

  /**
   * The issuer as it is stored: always a tenant's own issuer (`…/{tenant-id}/v2.0`). A domain is
   * resolved once, through the runner's discovery request, to its tenant ID; common, organizations
   * and consumers are refused before anything is saved (docs/entra-id.md says why).
   */
  async function resolveIssuer(runnerId: string, value: string): Promise<string> {
    let normalized: ReturnType<typeof normalizeIssuerUrl>;
    try {
      normalized = normalizeIssuerUrl(value, { authorityOrigins: [deps.entraAuthorityUrl] });
    } catch (err) {
      if (err instanceof InvalidIssuerUrlError) throw badRequest('invalid_issuer_url', err.message, 'oauth.issuerUrl');
      throw err;
    }
    if (normalized.multiTenant) {
      throw badRequest(
        'multi_tenant_issuer',
        `"${normalized.tenant}" signs in users of any tenant, but an integration serves one tenant (the one its Azure DevOps organizations are connected to): ` +
          `use ${normalized.authorityOrigin}/{tenant-id}/v2.0 with the Directory (tenant) ID from the Entra admin center (Overview), or your tenant's domain (${normalized.authorityOrigin}/contoso.onmicrosoft.com/v2.0)`,
        'oauth.issuerUrl',
      );
    }
    if (normalized.tenantKind !== 'domain') return normalized.issuer;
    try {
      const resolved = await deps.control.call(runnerId, 'resolve-issuer', { issuerUrl: normalized.issuer }, { timeoutMs: 20_000 });
      return resolved.issuer;
    } catch (err) {
      if (err instanceof ApiError && err.code.startsWith('runner_')) {
        throw new ApiError(
          err.statusCode,
          err.code,
          `${err.message}. The runner resolves the domain ${normalized.tenant} to its tenant ID before the integration is saved; or enter the Directory (tenant) ID (a GUID) instead`,
          'oauth.issuerUrl',
        );
      }
      throw err;
    }
  }

  async function sealedSecret(
    runnerPublicKey: string | null,
    runnerFingerprint: string | null,
    id: string,
    oauth: { clientSecret?: string; sealedClientSecret?: string },
  ): Promise<string | undefined> {
    if (oauth.clientSecret !== undefined && oauth.sealedClientSecret !== undefined) {
      throw badRequest('ambiguous_secret', 'send either oauth.clientSecret or oauth.sealedClientSecret, not both', 'oauth.clientSecret');
    }
    if (oauth.sealedClientSecret !== undefined) {
      if (!isSealed(oauth.sealedClientSecret))
        throw badRequest('invalid_sealed_secret', 'oauth.sealedClientSecret is not a sealed value (hpke1.…)', 'oauth.sealedClientSecret');
      if (!runnerFingerprint || oauth.sealedClientSecret.split('.')[1] !== runnerFingerprint) {
        throw badRequest(
          'sealed_for_another_key',
          "oauth.sealedClientSecret was sealed to another key than this runner's current one; reload the page and enter the secret again",
          'oauth.sealedClientSecret',
        );
      }
      return oauth.sealedClientSecret;
    }
    if (oauth.clientSecret !== undefined) {
      if (!oauth.clientSecret.trim()) throw badRequest('invalid_client_secret', 'oauth.clientSecret is empty', 'oauth.clientSecret');
      if (!runnerPublicKey)
        throw conflict(
          'runner_not_registered',
          'the runner has not registered its key yet, so the secret cannot be sealed for it; start the runner first',
          'oauth.clientSecret',
        );
      // Sealed at once: the plaintext goes no further than this function's stack.
      return seal(runnerPublicKey, oauth.clientSecret, sealingContext.integrationClientSecret(id));
    }
    return undefined;
  }

  async function getRow(runnerId: string, id: string): Promise<Row> {
    const row = await store.getForRunner(runnerId, id);
    if (!row) throw notFound('integration');
    return row;
  }

  /**
   * Asks the runner to test a configuration (stored or proposed); records it on the row when asked.
   * With `countCredentials` the answer also says how many credentials the stored integration has
   * produced (unknown when the runner could not be asked).
   */
  async function runTest(
    row: Row,
    options: { record?: boolean; countCredentials?: boolean } = {},
  ): Promise<TestResult & { credentials?: { oauth: number; pat: number } }> {
    const testedAt = now().toISOString();
    let result: TestResult;
    let credentials: { oauth: number; pat: number } | undefined;
    let credentialState: ClientCredentialState | undefined;
    try {
      const answer = await deps.control.call(
        row.runner_id,
        'validate-integration',
        { integration: toRunnerIntegration(row), ...(options.countCredentials ? { countCredentials: true } : {}) },
        { timeoutMs: deps.testTimeoutMs ?? 25_000 },
      );
      ({ credentials, credentialState, ...result } = { ...answer, testedAt });
    } catch (err) {
      const message = err instanceof ApiError ? err.message : 'the runner could not be asked';
      result = { valid: false, runnerError: message, testedAt };
    }
    // What the runner holds for the app (its certificates, its federated token's claims) is true
    // whatever becomes of the tested configuration, so it is kept even for a draft.
    if (credentialState) row.credential_state = JSON.stringify(credentialState);
    if (options.record !== false) {
      await store.setTestAndCredentialState(row.id, JSON.stringify(result), credentialState ? row.credential_state : undefined);
    } else if (credentialState) {
      await store.setCredentialState(row.id, row.credential_state!);
    }
    return credentials ? Object.assign(result, { credentials }) : result;
  }

  /** The credential an OAuth input asks for, checked; `stored` is the integration's current one (kept when the input names none). */
  function credentialOf(input: OAuthInput, stored?: IntegrationCredential): IntegrationCredential {
    const type = input.credential ?? stored?.type ?? 'client-secret';
    if (!CLIENT_CREDENTIAL_TYPES.includes(type))
      throw badRequest('invalid_credential', `oauth.credential must be one of ${CLIENT_CREDENTIAL_TYPES.join(', ')}`, 'oauth.credential');
    if (type !== 'client-secret') {
      for (const f of ['clientSecret', 'sealedClientSecret'] as const) {
        if (input[f] !== undefined)
          throw badRequest(
            'field_not_for_credential',
            `oauth.${f} does not belong to a ${type} credential: the runner authenticates without a secret`,
            `oauth.${f}`,
          );
      }
    }
    let managedIdentityClientId =
      type === 'managed-identity' && input.credential === undefined ? stored?.managedIdentityClientId : undefined;
    if (input.managedIdentityClientId !== undefined && input.managedIdentityClientId !== null && input.managedIdentityClientId !== '') {
      if (type !== 'managed-identity')
        throw badRequest(
          'field_not_for_credential',
          'oauth.managedIdentityClientId belongs to the managed-identity credential only',
          'oauth.managedIdentityClientId',
        );
      if (!GUID.test(input.managedIdentityClientId.trim()))
        throw badRequest(
          'invalid_client_id',
          "oauth.managedIdentityClientId must be the user-assigned managed identity's client ID, a GUID (leave it out for the system-assigned identity)",
          'oauth.managedIdentityClientId',
        );
      managedIdentityClientId = input.managedIdentityClientId.trim().toLowerCase();
    }
    return { type, ...(managedIdentityClientId ? { managedIdentityClientId } : {}) };
  }

  /**
   * A Server path that named a collection (`/tfs/DefaultCollection`), as the test found: the
   * integration keeps the server's own virtual directory; repository URLs name the collection.
   */
  function withServerLayout(row: Row, test: TestResult): Row {
    const layout = test.serverLayout;
    if (!layout || JSON.parse(row.settings).kind !== 'server' || layout.virtualDirectory === row.virtual_directory) return row;
    return { ...row, virtual_directory: normalizeVirtualDirectory(layout.virtualDirectory) };
  }

  /** Whether the stored configuration works: its last test passed and nothing has made it stale. */
  function works(row: Row): boolean {
    const last = row.last_test ? (JSON.parse(row.last_test) as TestResult) : undefined;
    return Boolean(last?.valid && !last.stale);
  }

  /** Replaces the stored configuration with `next` (tested as `test`), then purges what it must. */
  async function apply(
    runnerId: string,
    previous: Row,
    next: Row,
    test: TestResult,
    purgeMethods: readonly ('oauth' | 'pat')[],
  ): Promise<Row> {
    const applied: Row = { ...next, last_test: JSON.stringify(test), draft: null, updated_at: now().toISOString() };
    await store.applySettings(applied.id, {
      scm_id: applied.scm_id,
      host: applied.host,
      virtual_directory: applied.virtual_directory,
      settings: applied.settings,
      oauth_client_id: applied.oauth_client_id,
      oauth_client_secret_sealed: applied.oauth_client_secret_sealed,
      oauth_issuer_url: applied.oauth_issuer_url,
      pat_enabled: applied.pat_enabled,
      oauth_credential: applied.oauth_credential ?? null,
      last_test: applied.last_test,
      updated_at: applied.updated_at,
    });
    if (purgeMethods.length) await purge(runnerId, applied.id, [...purgeMethods]);
    // The app no longer authenticates with the runner's certificate: its key pair goes.
    const had = previous.oauth_client_id ? parseCredential(previous.oauth_credential).type : undefined;
    const has = applied.oauth_client_id ? parseCredential(applied.oauth_credential).type : undefined;
    if (had === 'certificate' && has !== 'certificate')
      await deps.control.enqueue(runnerId, CLIENT_CREDENTIAL_REQUESTS.delete, { owner: { type: 'integration', id: applied.id } });
    return applied;
  }

  async function purge(runnerId: string, integrationId: string, methods: ('oauth' | 'pat')[] | 'all') {
    await deps.control.enqueue(runnerId, 'purge-credentials', { integrationId, methods });
  }

  return {
    view,
    toRunnerIntegration,
    getRow,

    async list(organizationId: string, runnerId: string) {
      await deps.runners.get(organizationId, runnerId);
      return (await store.listForRunner(runnerId)).map(view);
    },

    async get(organizationId: string, runnerId: string, id: string) {
      await deps.runners.get(organizationId, runnerId);
      return view(await getRow(runnerId, id));
    },

    async create(organizationId: string, runnerId: string, input: IntegrationInput) {
      const runner = await deps.runners.get(organizationId, runnerId);
      if (runner.revoked_at) throw conflict('runner_revoked', 'this runner was revoked; configure a new runner');
      checkScmId(input.scmId);
      const host = wrapHostErrors(() => normalizeHost(input.host, input.virtualDirectory, { allowInsecure: deps.allowInsecureHosts }));
      const id = input.id ?? newId('int');
      if (!/^int_[A-Za-z0-9_-]{8,40}$/.test(id))
        throw badRequest('invalid_id', 'id must look like int_ followed by 8–40 letters, digits, _ or -', 'id');
      if (await store.exists(id)) throw conflict('id_taken', 'an integration with this id exists; generate another id', 'id');
      const duplicate = async (virtualDirectory: string) => {
        if (await store.findAt(runnerId, host.host, virtualDirectory))
          throw conflict(
            'integration_exists',
            `this runner already has an integration for ${host.host}${virtualDirectory}; edit it instead`,
            'host',
          );
      };
      await duplicate(host.virtualDirectory);

      let oauthColumns: Pick<Row, 'oauth_client_id' | 'oauth_client_secret_sealed' | 'oauth_issuer_url' | 'oauth_credential'> = {
        oauth_client_id: null,
        oauth_client_secret_sealed: null,
        oauth_issuer_url: null,
        oauth_credential: null,
      };
      if (input.oauth) {
        const clientId = input.oauth.clientId.trim();
        if (!GUID.test(clientId))
          throw badRequest(
            'invalid_client_id',
            'oauth.clientId must be the application (client) ID from Entra ID, a GUID like 11111111-2222-3333-4444-555555555555',
            'oauth.clientId',
          );
        const credential = credentialOf(input.oauth);
        const issuer = await resolveIssuer(runnerId, input.oauth.issuerUrl);
        const secret =
          credential.type === 'client-secret'
            ? await sealedSecret(runner.public_key, runner.public_key_fingerprint, id, input.oauth)
            : undefined;
        if (credential.type === 'client-secret' && !secret) {
          throw badRequest(
            'missing_client_secret',
            "oauth.clientSecret is required to enable OAuth with a client secret (the secret's Value from Entra ID, not its ID); or choose a credential without secret (oauth.credential: certificate, workload-identity, managed-identity)",
            'oauth.clientSecret',
          );
        }
        oauthColumns = {
          oauth_client_id: clientId.toLowerCase(),
          oauth_client_secret_sealed: secret ?? null,
          oauth_issuer_url: issuer,
          oauth_credential: credentialColumn(credential),
        };
      }
      if (!input.oauth && !input.pat?.enabled)
        throw badRequest('no_method', 'enable OAuth, Personal Access Tokens, or both', 'pat.enabled');
      const at = now().toISOString();
      const row: Row = {
        id,
        organization_id: organizationId,
        runner_id: runnerId,
        scm_id: input.scmId,
        host: host.host,
        virtual_directory: host.virtualDirectory,
        ...oauthColumns,
        pat_enabled: input.pat?.enabled ? 1 : 0,
        settings: JSON.stringify({ kind: host.kind, origin: host.origin }),
        last_test: null,
        created_at: at,
        updated_at: at,
        credential_state: null,
      };
      // Tested before it is stored: what the test learns about a Server's layout is saved, not the guess.
      const test = await runTest(row, { record: false });
      const laidOut = withServerLayout(row, test);
      if (laidOut.virtual_directory !== row.virtual_directory) await duplicate(laidOut.virtual_directory);
      const stored: Row = { ...laidOut, last_test: JSON.stringify(test) };
      await store.insert(stored);
      return { integration: view(stored), test };
    },

    async update(organizationId: string, runnerId: string, id: string, patch: IntegrationPatch) {
      const runner = await deps.runners.get(organizationId, runnerId);
      const row = await getRow(runnerId, id);
      const next: Row = { ...row };
      if (patch.scmId !== undefined) {
        checkScmId(patch.scmId);
        next.scm_id = patch.scmId;
      }
      if (patch.host !== undefined || patch.virtualDirectory !== undefined) {
        const host = wrapHostErrors(() =>
          normalizeHost(patch.host ?? row.host, patch.virtualDirectory ?? (patch.host !== undefined ? undefined : row.virtual_directory), {
            allowInsecure: deps.allowInsecureHosts,
          }),
        );
        next.host = host.host;
        next.virtual_directory = host.virtualDirectory;
        next.settings = JSON.stringify({ kind: host.kind, origin: host.origin });
      }
      const purgeMethods: ('oauth' | 'pat')[] = [];
      if (patch.oauth === null) {
        if (row.oauth_client_id) purgeMethods.push('oauth');
        next.oauth_client_id = null;
        next.oauth_client_secret_sealed = null;
        next.oauth_issuer_url = null;
        next.oauth_credential = null;
      } else if (patch.oauth) {
        const clientId = patch.oauth.clientId.trim();
        if (!GUID.test(clientId))
          throw badRequest(
            'invalid_client_id',
            'oauth.clientId must be the application (client) ID from Entra ID, a GUID',
            'oauth.clientId',
          );
        const credential = credentialOf(patch.oauth, row.oauth_client_id ? parseCredential(row.oauth_credential) : undefined);
        next.oauth_client_id = clientId.toLowerCase();
        next.oauth_issuer_url = await resolveIssuer(runnerId, patch.oauth.issuerUrl);
        next.oauth_credential = credentialColumn(credential);
        if (credential.type === 'client-secret') {
          const secret = await sealedSecret(runner.public_key, runner.public_key_fingerprint, id, patch.oauth);
          if (secret) next.oauth_client_secret_sealed = secret;
          if (!next.oauth_client_secret_sealed)
            throw badRequest(
              'missing_client_secret',
              'oauth.clientSecret is required: no secret is stored for this integration (or the runner key changed)',
              'oauth.clientSecret',
            );
        } else {
          // A credential without secret retires the stored one once the change applies.
          next.oauth_client_secret_sealed = null;
        }
        // A new app or tenant cannot refresh tokens another app issued.
        if (row.oauth_client_id && (row.oauth_client_id !== next.oauth_client_id || row.oauth_issuer_url !== next.oauth_issuer_url))
          purgeMethods.push('oauth');
      }
      if (patch.pat !== undefined) {
        if (row.pat_enabled === 1 && !patch.pat.enabled) purgeMethods.push('pat');
        next.pat_enabled = patch.pat.enabled ? 1 : 0;
      }
      if (!next.oauth_client_id && next.pat_enabled === 0)
        throw badRequest('no_method', 'enable OAuth, Personal Access Tokens, or both (or delete the integration)', 'pat.enabled');
      // The change is tested before it replaces what is stored. It takes effect when it works, when
      // it only turns a method off, when nothing worked before and nobody's credentials are at
      // stake, or when the admin says so (`force`). Otherwise the stored configuration keeps
      // serving and the change waits beside it as a draft.
      const { credentials: held, ...test } = await runTest(next, { record: false, countCredentials: true });
      Object.assign(next, withServerLayout(next, test));
      if (next.virtual_directory !== row.virtual_directory) {
        if (await store.findAt(runnerId, next.host, next.virtual_directory, id))
          throw conflict(
            'integration_exists',
            `this runner already has an integration for ${next.host}${next.virtual_directory}; edit that one instead`,
            'host',
          );
      }
      // Turning a method off purges what it produced, on purpose; any other purge is a side
      // effect of the change (another host, app or tenant) and waits for a passing test.
      const turnedOff = purgeMethods.filter((m) => (m === 'oauth' ? patch.oauth === null : patch.pat?.enabled === false));
      if (next.host !== row.host || next.virtual_directory !== row.virtual_directory) purgeMethods.push('oauth', 'pat');
      const methods = [...new Set(purgeMethods)];
      const turnsOff = patch.oauth === null || patch.pat?.enabled === false;
      const offOnly: Row = {
        ...row,
        ...(patch.oauth === null
          ? { oauth_client_id: null, oauth_client_secret_sealed: null, oauth_issuer_url: null, oauth_credential: null }
          : {}),
        ...(patch.pat?.enabled === false ? { pat_enabled: 0 } : {}),
      };
      const onlyTurnsOff = turnsOff && sameSettings(offOnly, next);
      // A purge that would delete nothing protects nothing; when the runner could not say, it might.
      const sideEffects = methods.filter((m) => !turnedOff.includes(m) && (held === undefined || held[m] > 0));

      const protect = works(row) || sideEffects.length > 0;
      if (test.valid || onlyTurnsOff || !protect || patch.force) {
        const applied = await apply(runnerId, row, next, test, methods);
        return {
          integration: view(applied),
          test,
          purgedMethods: methods,
          applied: true,
          forced: Boolean(patch.force) && !test.valid && !onlyTurnsOff && protect,
        };
      }
      const draft: Draft = {
        ...pickSettings(next),
        test,
        purges: methods,
        proposedAt: now().toISOString(),
        proposedBy: patch.proposedBy ?? null,
      };
      await store.setDraft(id, JSON.stringify(draft));
      return {
        integration: view({
          ...row,
          draft: JSON.stringify(draft),
          credential_state: next.credential_state ?? row.credential_state ?? null,
        }),
        test,
        purgedMethods: [] as ('oauth' | 'pat')[],
        applied: false,
        forced: false,
      };
    },

    /** Applies the rejected draft anyway: the admin's explicit decision (audited as forced). */
    async applyDraft(organizationId: string, runnerId: string, id: string) {
      await deps.runners.get(organizationId, runnerId);
      const row = await getRow(runnerId, id);
      if (!row.draft) throw notFound('draft');
      const draft = JSON.parse(row.draft) as Draft;
      const { test, purges, proposedAt: _at, proposedBy: _by, ...settings } = draft;
      const applied = await apply(runnerId, row, { ...row, ...settings }, test, purges);
      return { integration: view(applied), test, purgedMethods: purges, applied: true, forced: !test.valid };
    },

    async discardDraft(organizationId: string, runnerId: string, id: string) {
      await deps.runners.get(organizationId, runnerId);
      const row = await getRow(runnerId, id);
      if (!row.draft) throw notFound('draft');
      await store.setDraft(id, null);
    },

    async remove(organizationId: string, runnerId: string, id: string) {
      await deps.runners.get(organizationId, runnerId);
      await getRow(runnerId, id);
      await store.remove(id);
      await purge(runnerId, id, 'all');
    },

    async test(organizationId: string, runnerId: string, id: string) {
      await deps.runners.get(organizationId, runnerId);
      return runTest(await getRow(runnerId, id));
    },

    /**
     * The runner was revoked: its integrations (with their sealed secrets) and sign-ins in progress
     * through them are deleted. The credentials they produced rest on the runner, which deletes
     * them when it learns of the revocation.
     */
    removeForRunner: (runnerId: string): Promise<{ integrations: number; sealedSecrets: number }> => store.removeForRunner(runnerId),

    /**
     * The runner's key changed: secrets sealed to the old key can never be opened again, and every
     * test of its integrations was made with the old key, so none of them says anything any more.
     */
    /** Integrations of the runner whose app credential is no secret (kept across a runner key change). */
    async countSecretless(runnerId: string): Promise<number> {
      const rows = await store.oauthCredentials(runnerId);
      return rows.filter((r) => parseCredential(r.oauth_credential).type !== 'client-secret').length;
    },

    /**
     * What the runner holds for the integration's app credential without secret, asked now (the
     * certificate to upload, the federated credential to add); the last answer when the runner
     * cannot be asked (`stale`).
     */
    async clientCredential(organizationId: string, runnerId: string, id: string): Promise<DescribedCredential> {
      await deps.runners.get(organizationId, runnerId);
      const row = await getRow(runnerId, id);
      const credential = row.oauth_client_id ? parseCredential(row.oauth_credential) : undefined;
      if (!credential || credential.type === 'client-secret')
        throw conflict(
          'no_client_credential',
          "this integration's app uses a client secret (or OAuth is off): there is no certificate or federated credential to show",
          'oauth.credential',
        );
      return describeOrLast(
        () =>
          deps.control.call(
            runnerId,
            CLIENT_CREDENTIAL_REQUESTS.describe,
            { owner: { type: 'integration', id }, credential },
            { timeoutMs: 20_000 },
          ),
        row.credential_state,
        (state) => store.setCredentialState(id, state),
      );
    },

    /** Has the runner make the next certificate now (ahead of expiry), to upload before it is used. */
    async prepareNextCertificate(organizationId: string, runnerId: string, id: string): Promise<ClientCredentialState> {
      await deps.runners.get(organizationId, runnerId);
      const row = await getRow(runnerId, id);
      if (!row.oauth_client_id || parseCredential(row.oauth_credential).type !== 'certificate')
        throw conflict('not_certificate', "this integration's app does not authenticate with the runner's certificate", 'oauth.credential');
      const state = await deps.control.call(
        runnerId,
        CLIENT_CREDENTIAL_REQUESTS.prepareNext,
        { owner: { type: 'integration', id } },
        { timeoutMs: 30_000 },
      );
      await store.setCredentialState(id, JSON.stringify(state));
      return state;
    },

    /** A certificate of the integration as the runner last described it (public), for download. */
    async certificate(organizationId: string, runnerId: string, id: string, status: 'active' | 'next'): Promise<CertificateSummary> {
      await deps.runners.get(organizationId, runnerId);
      const row = await getRow(runnerId, id);
      const state = row.credential_state ? (JSON.parse(row.credential_state) as ClientCredentialState) : undefined;
      const found = state?.type === 'certificate' ? state.certificates?.find((c) => c.status === status) : undefined;
      if (!found) throw certificateNotFound(status);
      return found;
    },

    async clearSealedSecrets(runnerId: string): Promise<number> {
      const cleared = await store.clearSealedSecrets(runnerId, now().toISOString());
      const tested = await store.tested(runnerId);
      // An app credential without secret (certificate, federated token, managed identity) is not
      // sealed to the runner key: its test still says what it said.
      for (const row of tested.filter((r) => !r.oauth_client_id || parseCredential(r.oauth_credential).type === 'client-secret')) {
        const last = JSON.parse(row.last_test ?? '{}') as TestResult;
        const stale: TestResult = {
          ...last,
          stale: true,
          staleReason: `the runner's key changed on ${now().toISOString().slice(0, 10)}, after this test; test again`,
        };
        await store.setLastTest(row.id, JSON.stringify(stale));
      }
      return cleared;
    },
  };
}

/** No such certificate to download: says how to get one. */
export function certificateNotFound(status: 'active' | 'next'): ApiError {
  return new ApiError(
    404,
    'not_found',
    status === 'next'
      ? 'there is no next certificate: prepare one first (POST …/client-credential/next-certificate)'
      : 'the runner has described no certificate yet: save the configuration with the certificate credential (Save & Test), or ask for the credential again',
  );
}

function wrapHostErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof HostPolicyError) throw badRequest('invalid_host', err.message, err.field);
    throw err;
  }
}

export type ScmIntegrationService = ReturnType<typeof createScmIntegrationService>;
