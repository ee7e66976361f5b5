import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import rateLimit from '@fastify/rate-limit';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logging/logger.ts';
import type { Database } from '../db/database.ts';
import { pingDatabase } from '../db/database.ts';
import type { ManagementDB } from '../db/management-schema.ts';
import { ErrorResponse, installErrorHandling } from '../http/errors.ts';
import { installMetrics } from '../http/metrics.ts';
import { createAuditLog } from './audit/service.ts';
import type { AuditLog } from './audit/service.ts';
import { auditRoutes } from './audit/routes.ts';
import { installAuthentication } from './identity/authenticate.ts';
import { createRunnerService } from './runners/service.ts';
import type { RunnerService } from './runners/service.ts';
import { createRunnerStore } from './runners/store.ts';
import { createControlChannel } from './runners/control.ts';
import type { ControlChannel } from './runners/control.ts';
import { runnerRoutes } from './runners/routes.ts';
import { createRunnerEventRecorder } from './runners/events.ts';
import { createScmIntegrationService } from './scm-integrations/service.ts';
import type { ScmIntegrationService } from './scm-integrations/service.ts';
import { countSecretlessConnections } from './app-connections/service.ts';
import { scmIntegrationRoutes } from './scm-integrations/routes.ts';
import { createOAuthService } from './oauth/service.ts';
import { oauthRoutes } from './oauth/routes.ts';
import { createEnvironmentService } from './environments/service.ts';
import type { EnvironmentLimits } from './environments/service.ts';
import { environmentRoutes } from './environments/routes.ts';
import { cloneDefaultsRoutes } from './environments/clone-options.ts';
import { repositoryCacheRoutes } from './runners/repository-cache.ts';
import { createRepositoryService } from './repositories/service.ts';
import { repositoryRoutes } from './repositories/routes.ts';
import { createIdentityService } from './identity/service.ts';
import type { IdentityOptions, IdentityService } from './identity/service.ts';
import { createIdentityStore } from './identity/store.ts';
import { identityRoutes } from './identity/routes.ts';
import { createOrganizationStore } from './organizations/store.ts';
import { createOrganizationService } from './organizations/service.ts';
import type { OrganizationService } from './organizations/service.ts';
import { organizationRoutes } from './organizations/routes.ts';
import { createSsoStore } from './sso/store.ts';
import { createSsoClient } from './sso/client.ts';
import { createSsoService } from './sso/service.ts';
import type { SsoProviders, SsoService } from './sso/service.ts';
import { ssoRoutes } from './sso/routes.ts';
import type { TrustProxy } from '../config/config.ts';
import { CONTROL_PATHS } from '../control/protocol.ts';
import { registerSignInPage } from './sign-in-page.ts';
import { registerWebAssets } from './web-assets.ts';
import { registerProjectAutomation } from './projects/module.ts';
import { sealedComparisonRoutes } from './apply/routes.ts';
import { runnerSettingsRoutes } from './runners/settings-route.ts';

export interface ManagementAppOptions {
  database: Database<ManagementDB>;
  logger: Logger;
  publicUrl: string;
  /** KEYWAY_TRUST_PROXY: false, the number of proxy hops, or the proxies' addresses (never "any"). */
  trustProxy: TrustProxy;
  /** Single sign-on providers (KEYWAY_SSO_*). */
  sso?: SsoProviders;
  identity: IdentityOptions;
  version: string;
  allowInsecureHosts?: boolean;
  entraAuthorityUrl?: string;
  /** KEYWAY_AZURE_DEVOPS_SERVICES_URL: when not https://dev.azure.com, its repository URLs parse as Services URLs. */
  azureDevOpsServicesUrl?: string;
  /** How often waiters re-check the control-channel table (cross-replica wake-ups). */
  controlPollIntervalMs?: number;
  /** How long Save & Test waits for the runner. */
  integrationTestTimeoutMs?: number;
  /** KEYWAY_AZURE_DEVOPS_CLIENT_ID / _SECRET: the instance-wide Entra app of oauth app connections. */
  azureDevOpsApp?: { clientId?: string; clientSecret?: string };
  /** KEYWAY_ENVIRONMENTS_PER_USER / KEYWAY_CLONES_PER_USER. */
  environmentLimits?: Partial<EnvironmentLimits>;
  /** KEYWAY_AZURE_DEVOPS_VSSPS_URL, told to runners so they can check they use the same. */
  azureDevOpsVsspsUrl?: string;
  /** The built web UI's directory; default web/dist of the checkout or package this runs from (tests point it elsewhere). */
  webDist?: string;
  /** Module registrations added by later modules (runners, integrations, ...). */
  modules?: ((app: FastifyInstance, core: ManagementCore) => void | Promise<void>)[];
}

export interface ManagementCore {
  database: Database<ManagementDB>;
  identity: IdentityService;
  organizations: OrganizationService;
  sso: SsoService;
  audit: AuditLog;
  runners: RunnerService;
  control: ControlChannel;
  integrations: ScmIntegrationService;
  publicUrl: string;
}

export async function buildManagementApp(options: ManagementAppOptions): Promise<{ app: FastifyInstance; core: ManagementCore }> {
  const app: FastifyInstance = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    // A hop count trusts that many proxies nearest Keyway and no further (proxy-addr's rule).
    trustProxy:
      typeof options.trustProxy === 'number' ? (_address: string, hop: number) => hop < (options.trustProxy as number) : options.trustProxy,
    bodyLimit: 1024 * 1024,
    // Runners hold long-polls open; on shutdown they are cut at once (runners reconnect) instead of
    // holding the process for up to a keep-alive timeout.
    forceCloseConnections: true,
    genReqId: () => randomUUID(),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
  });

  const identity = createIdentityService(createIdentityStore(options.database.db), options.identity);
  const audit = createAuditLog(options.database.db);
  const runners = createRunnerService(createRunnerStore(options.database.db));
  const control = createControlChannel(options.database.db, { pollIntervalMs: options.controlPollIntervalMs });
  // `keyway start` learns its URL only after binding the port, so the URL is read late.
  let publicUrl = options.publicUrl;
  const integrations = createScmIntegrationService({
    db: options.database.db,
    runners,
    control,
    publicUrl: () => publicUrl,
    allowInsecureHosts: options.allowInsecureHosts ?? false,
    entraAuthorityUrl: options.entraAuthorityUrl ?? 'https://login.microsoftonline.com',
    testTimeoutMs: options.integrationTestTimeoutMs,
  });
  const secureCookies = options.publicUrl.startsWith('https:');
  const organizationStore = createOrganizationStore(options.database.db);
  const ssoStore = createSsoStore(options.database.db);
  const ssoProviders = options.sso ?? {};
  const ssoConfigured = () => ({ entra: ssoProviders.entra !== undefined, oidc: ssoProviders.oidc !== undefined });
  const organizations = createOrganizationService({
    store: organizationStore,
    identity,
    control,
    audit,
    publicUrl: () => publicUrl,
    ssoProviders: ssoConfigured,
    now: options.identity.now,
  });
  const sso = createSsoService({
    store: ssoStore,
    organizationStore,
    organizations,
    identity,
    client: createSsoClient({ allowInsecure: options.allowInsecureHosts ?? false }),
    providers: ssoProviders,
    audit,
    publicUrl: () => publicUrl,
    now: options.identity.now,
  });
  const core: ManagementCore = {
    database: options.database,
    identity,
    organizations,
    sso,
    audit,
    runners,
    control,
    integrations,
    get publicUrl() {
      return publicUrl;
    },
    set publicUrl(value: string) {
      publicUrl = value;
    },
  };

  installErrorHandling(app);
  await app.register(cookie);
  // Runner routes get their own budget before the rate limiter reads route options: a runner
  // long-polls all day and many runners may share one address. Runner registration (the exchange)
  // is a guessable secret's door: a small budget per address.
  app.addHook('onRoute', (route) => {
    const config = route.config ?? {};
    if (route.url === CONTROL_PATHS.exchange) route.config = { ...config, rateLimit: { max: 20, timeWindow: '1 minute' } };
    else if (config.auth === 'runner') route.config = { ...config, rateLimit: { max: 3000, timeWindow: '1 minute' } };
  });
  await app.register(rateLimit, {
    global: true,
    max: 600,
    timeWindow: '1 minute',
    // Health checks are probed by load balancers. Runner routes have their own, larger budget
    // (runnerRateLimit): runners long-poll all day, often many behind one address.
    allowList: (request) => request.url.startsWith('/healthz') || request.url.startsWith('/readyz'),
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Keyway API',
        version: options.version,
        description: 'Keyway management plane API. Errors share one shape: {"error":{"code","message","field"}}.',
      },
      servers: [{ url: options.publicUrl }],
      components: {
        securitySchemes: {
          apiToken: { type: 'http', scheme: 'bearer', description: 'A personal API token (kw_...)' },
          session: { type: 'apiKey', in: 'cookie', name: 'keyway_session' },
        },
      },
      security: [{ apiToken: [] }, { session: [] }],
    },
  });
  app.addSchema(ErrorResponse);
  installMetrics(app);
  installAuthentication(app, { identity, audit, authenticateRunner: (token) => runners.authenticate(token), secureCookies });

  app.addHook('onSend', async (_request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    if (!reply.hasHeader('referrer-policy')) reply.header('referrer-policy', 'same-origin');
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    // HSTS (RFC 6797) once Keyway is served over https: browsers then refuse plain http for a year,
    // so the session cookie never travels where it could be read or planted.
    if (secureCookies) reply.header('strict-transport-security', 'max-age=31536000');
  });

  app.get('/healthz', { schema: { hide: true }, logLevel: 'warn' }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true }, logLevel: 'warn' }, async (_request, reply) => {
    const ok = await pingDatabase(options.database);
    return reply.code(ok ? 200 : 503).send(ok ? { status: 'ready', database: 'ok' } : { status: 'not ready', database: 'unreachable' });
  });
  app.get('/api/openapi.json', { schema: { hide: true }, config: { auth: 'public' } }, async () => app.swagger());

  registerSignInPage(app);
  await app.register(identityRoutes, { identity, audit, secureCookies });
  await app.register(organizationRoutes, {
    organizations,
    identity,
    ssoStore,
    audit,
    secureCookies,
    ssoCallbackUrl: () => sso.redirectUri(),
    ssoConfigured,
  });
  await app.register(ssoRoutes, {
    sso,
    audit,
    secureCookies,
    publicUrl: () => publicUrl,
    checkCsrf: (principal, presented) => identity.checkCsrf(principal, presented),
  });
  await app.register(auditRoutes, { audit });
  await app.register(runnerRoutes, {
    runners,
    control,
    audit,
    publicUrl: () => core.publicUrl,
    onRunnerKeyChanged: (id) => integrations.clearSealedSecrets(id),
    countKeptCredentials: async (id) =>
      (await integrations.countSecretless(id)) + (await countSecretlessConnections(options.database.db, id)),
    runnerIntegration: async (runnerId, integrationId) =>
      integrations.toRunnerIntegration(await integrations.getRow(runnerId, integrationId)),
    onRunnerRevoked: (id) => integrations.removeForRunner(id),
    events: createRunnerEventRecorder({ db: options.database.db, audit }),
  });
  await app.register(scmIntegrationRoutes, { integrations, audit });
  // What the modules that act on a user's repositories through a runner share.
  const throughRunners = {
    db: options.database.db,
    runners,
    control,
    integrations,
    azureDevOpsServicesUrl: options.azureDevOpsServicesUrl,
  };
  const oauth = createOAuthService({ ...throughRunners, publicUrl: () => publicUrl });
  await app.register(oauthRoutes, { oauth, audit });
  const environments = createEnvironmentService({ ...throughRunners, limits: options.environmentLimits });
  await app.register(environmentRoutes, { environments, audit });
  await app.register(cloneDefaultsRoutes, { db: options.database.db, audit });
  await app.register(repositoryCacheRoutes, { db: options.database.db });
  await app.register(repositoryRoutes, {
    repositories: createRepositoryService({
      db: options.database.db,
      control,
      integrations,
      oauth,
      servicesUrl: options.azureDevOpsServicesUrl,
    }),
  });
  await registerProjectAutomation(app, {
    db: options.database.db,
    runners,
    control,
    audit,
    publicUrl: () => core.publicUrl,
    entraAuthorityUrl: options.entraAuthorityUrl,
    allowInsecureHosts: options.allowInsecureHosts,
    azureDevOpsApp: options.azureDevOpsApp,
    logger: options.logger,
    mayCreateProjects: async (user) =>
      organizations.mayCreateProjects(user, (await organizations.policy(user.organizationId)).projectCreation),
  });
  await app.register(sealedComparisonRoutes, { db: options.database.db, runners, control });
  await app.register(runnerSettingsRoutes, {
    control,
    settings: () => ({
      ...(options.azureDevOpsServicesUrl ? { azureDevOpsServicesUrl: options.azureDevOpsServicesUrl } : {}),
      ...(options.azureDevOpsVsspsUrl ? { azureDevOpsVsspsUrl: options.azureDevOpsVsspsUrl } : {}),
      allowInsecureHosts: options.allowInsecureHosts ?? false,
    }),
  });
  const pruner = setInterval(() => {
    void control.prune().catch(() => undefined);
    void identity.prune().catch(() => undefined);
    void sso.prune().catch(() => undefined);
  }, 60_000);
  pruner.unref();
  app.addHook('onClose', async () => clearInterval(pruner));
  for (const module of options.modules ?? []) await module(app, core);

  await registerWebAssets(app, options.webDist);

  return { app, core };
}
