// Composition: one listener per real host on 127.0.0.1 — login (Entra ID), services (dev.azure.com
// and {org}.visualstudio.com as {org}.localhost), vssps (app.vssps.visualstudio.com and
// vssps.dev.azure.com) and server (an Azure DevOps Server under /tfs) — sharing one world.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { createEntraEmulator, type EntraEmulator, type EntraTenant } from './entra/index.ts';
import type { AdoEnv } from './ado/context.ts';
import { installAdoErrorHandling, registerOrgRestRoutes, registerVssps } from './ado/routes/index.ts';
import { SERVER_VIRTUAL_DIR, Urls, type ListenerOrigins } from './ado/urls.ts';
import { World } from './ado/world.ts';
import { registerControlRoutes } from './control.ts';
import { Counters } from './counters.ts';
import { Faults, type FaultRuleInput, type ListenerName } from './faults.ts';
import { registerGitRoutes } from './git/http-backend.ts';
import { Throttle, type ThrottleConfig } from './throttling.ts';
import { loadState, StateWriter, STATE_VERSION, type LoadedState } from './persistence.ts';

export interface StartEmulatorOptions {
  /** First port: login = N, services = N+1, vssps = N+2, server = N+3. Default: random ports. */
  basePort?: number;
  /** Where the bare git repositories live; default a temporary directory removed on close. */
  dataDir?: string;
  /**
   * Keep the whole state under dataDir (state.v8 beside the repositories): loaded at start, saved
   * shortly after each request that may change it and on close. A restart then listens on the same
   * ports (unless basePort says otherwise) with the same control token, tenants, apps, users and
   * tokens, so URLs and credentials clients stored keep working. Needs dataDir.
   */
  persist?: boolean;
  /** Token guarding /_emulator on the services listener; default generated. */
  controlToken?: string;
  accessTokenLifetimeSeconds?: number;
  /**
   * Azure DevOps's consumption limit (emulator/throttling.ts): `true` for the documented defaults,
   * or a partial configuration. Default: off, unless KEYWAY_EMULATOR_THROTTLING=on (or `off`, which
   * also wins over this option) says otherwise. Unit tests leave it off; end-to-end journeys and
   * benchmarks switch it on.
   */
  throttling?: boolean | Partial<ThrottleConfig>;
}

/** The throttling configuration a start asks for, with the environment variable's say. */
export function throttlingFromOptions(
  option: StartEmulatorOptions['throttling'],
  env: NodeJS.ProcessEnv = process.env,
): Partial<ThrottleConfig> {
  const fromEnv = (env.KEYWAY_EMULATOR_THROTTLING ?? '').trim().toLowerCase();
  const asked: Partial<ThrottleConfig> = typeof option === 'object' ? { enabled: true, ...option } : { enabled: option === true };
  if (fromEnv === 'off') return { ...asked, enabled: false };
  if (fromEnv === 'on') return { ...asked, enabled: true };
  return asked;
}

export interface EmulatorUrls {
  login: string;
  services: string;
  vssps: string;
  /** Server URL including the /tfs virtual directory. */
  server: string;
  /** Base URL of the emulated Instance Metadata Service (the login listener serves /metadata/identity/oauth2/token). */
  imds: string;
}

export interface EmulatorCounters {
  restCalls: Record<string, number>;
  gitRequests: number;
  gitByService: Record<string, number>;
  /** Bytes of git smart HTTP answers, headers aside: what clones and fetches cost the service. */
  gitBytesServed: number;
  tokenRequests: number;
}

export interface EmulatorHandle {
  urls: EmulatorUrls;
  controlToken: string;
  entra: EntraEmulator;
  /** Tenant created at start; organizations connect to it unless told otherwise. */
  defaultTenant: EntraTenant;
  world: World;
  faults: {
    add(rule: FaultRuleInput): string;
    remove(id: string): boolean;
    clear(): void;
    list(): ReturnType<Faults['list']>;
  };
  counters(): EmulatorCounters;
  resetCounters(): void;
  /** The consumption limit: configure(), snapshot() (usage and counters per identity), reset(). */
  throttle: Throttle;
  persistence: {
    /** True when this start loaded saved state (the world is as it was, nothing needs seeding). */
    restored: boolean;
    /** Why saved state was set aside and the emulator started afresh, when it was. */
    notice?: string;
    /** Values a caller keeps with the state (saved on the next save). */
    extras: Map<string, unknown>;
    /** Saves now: call after changing the world in process rather than over HTTP. No-op without persist. */
    save(): Promise<void>;
  };
  /** Organization URL: `dev` (dev.azure.com form, default) or `visualstudio` ({org}.localhost form). */
  orgUrl(org: string, form?: 'dev' | 'visualstudio'): string;
  /** Clone URL without user info: /{org}/{project}/_git/{repo} (or /tfs/{collection}/… on the Server). */
  gitUrl(org: string, project: string, repo: string): string;
  close(): Promise<void>;
}

function newApp(rewriteUrl?: (req: { url?: string; headers: Record<string, string | string[] | undefined> }) => string): FastifyInstance {
  const app = Fastify({
    logger: false,
    exposeHeadRoutes: false,
    bodyLimit: 20 * 1024 * 1024,
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true, maxParamLength: 2000 },
    ...(rewriteUrl ? { rewriteUrl } : {}),
  });
  // Azure DevOps accepts JSON patch documents with their own media type.
  app.addContentTypeParser('application/json-patch+json', { parseAs: 'string' }, app.getDefaultJsonParser('ignore', 'ignore'));
  return app;
}

/** `{org}.localhost:{port}/[DefaultCollection/]…` plays `{org}.visualstudio.com/…`. */
export function rewriteVisualStudioHost(req: { url?: string; headers: Record<string, string | string[] | undefined> }): string {
  const url = req.url ?? '/';
  const hostHeader = req.headers.host;
  const host = Array.isArray(hostHeader) ? hostHeader[0] : hostHeader;
  const m = host ? /^([a-z0-9][a-z0-9-]*)\.localhost(?::\d+)?$/i.exec(host) : null;
  if (!m || url.startsWith('/_emulator')) return url;
  const rest = url.replace(/^\/DefaultCollection(?=\/|\?|$)/i, '');
  return `/${m[1]}${rest.startsWith('/') ? rest : `/${rest}`}`;
}

/**
 * Correlation headers every Azure DevOps response carries: ActivityId, X-VSS-E2EID, and the client's
 * X-TFS-Session echoed back (a new one when absent).
 */
async function serviceHeaders(req: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  const session = req.headers['x-tfs-session'];
  reply.header('ActivityId', randomUUID());
  reply.header('X-VSS-E2EID', randomUUID());
  reply.header('X-TFS-Session', typeof session === 'string' && session ? session : randomUUID());
  return payload;
}

async function listen(app: FastifyInstance, port: number): Promise<string> {
  await app.listen({ host: '127.0.0.1', port });
  const addr = app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('listener has no TCP address');
  return `http://127.0.0.1:${addr.port}`;
}

/** Requests that may change the state: anything but a read, and every token the login listener issues. */
function mayChangeState(listener: ListenerName, method: string): boolean {
  return listener === 'login' || !['GET', 'HEAD', 'OPTIONS'].includes(method);
}

export async function startEmulator(opts: StartEmulatorOptions = {}): Promise<EmulatorHandle> {
  if (opts.persist && !opts.dataDir) throw new Error('persist needs a dataDir to keep the state in');
  const tempDir = opts.dataDir ? undefined : mkdtempSync(join(tmpdir(), 'keyway-emulator-'));
  const dataDir = opts.dataDir ?? tempDir!;
  const loaded: LoadedState = opts.persist ? loadState(dataDir) : {};
  const saved = loaded.state;
  const controlToken = opts.controlToken ?? saved?.controlToken ?? randomBytes(24).toString('base64url');
  const origins: ListenerOrigins = { login: '', services: '', vssps: '', server: '' };
  const urls = new Urls(() => origins);

  const holder: { world?: World } = {};
  const entra = createEntraEmulator({
    origin: () => origins.login,
    // The organization's "third-party application access via OAuth" policy, enforced by Entra at
    // sign-in (the flow fails with an invalid-scope error) as well as by the REST API.
    isOAuthBlocked: ({ tenantId, userOid }) => holder.world?.isOAuthBlocked(tenantId, userOid) ?? false,
    ...(opts.accessTokenLifetimeSeconds !== undefined ? { accessTokenLifetimeSeconds: opts.accessTokenLifetimeSeconds } : {}),
  });
  if (saved) entra.importState(saved.entra);
  const defaultTenant = saved?.entra.directory.tenants.get(saved.defaultTenantId) ?? entra.addTenant({ displayName: 'Emulator tenant' });
  const world = new World({ dataDir, entra, defaultTenantId: defaultTenant.id });
  if (saved) world.importState(saved.world);
  holder.world = world;
  const extras = saved?.extras ?? new Map<string, unknown>();
  const ports: Record<ListenerName, number> = { login: 0, services: 0, vssps: 0, server: 0 };
  const writer = opts.persist
    ? new StateWriter(dataDir, () => ({
        version: STATE_VERSION,
        controlToken,
        ports,
        defaultTenantId: defaultTenant.id,
        entra: entra.exportState(),
        world: world.exportState(),
        extras,
      }))
    : undefined;
  const throttle = new Throttle(throttlingFromOptions(opts.throttling));
  const counters = new Counters();
  const env: AdoEnv = { world, entra, urls, throttle, traffic: counters };
  const faults = new Faults();

  const handleCounters = (): EmulatorCounters => ({ ...counters.snapshot(), tokenRequests: entra.counters().tokenRequests });
  const resetCounters = (): void => {
    counters.reset();
    entra.resetCounters();
  };

  const apps: Record<ListenerName, FastifyInstance> = {
    login: newApp(),
    services: newApp(rewriteVisualStudioHost),
    vssps: newApp(),
    server: newApp(),
  };
  for (const [name, app] of Object.entries(apps) as Array<[ListenerName, FastifyInstance]>) {
    if (name !== 'login') {
      app.addHook('onRequest', counters.hook());
      app.addHook('onSend', serviceHeaders);
    }
    app.addHook('onRequest', faults.hook(name));
    if (writer) {
      app.addHook('onResponse', async (req) => {
        if (mayChangeState(name, req.method)) writer.schedule();
      });
    }
  }

  await entra.register(apps.login);

  installAdoErrorHandling(apps.services, 'services');
  registerControlRoutes(apps.services, {
    env,
    controlToken,
    faults,
    counters: handleCounters,
    resetCounters,
  });
  registerOrgRestRoutes(apps.services, env, 'services');
  registerGitRoutes(apps.services, env, 'services');

  installAdoErrorHandling(apps.vssps, 'vssps');
  registerVssps(apps.vssps, env);

  await apps.server.register(
    async (scope) => {
      installAdoErrorHandling(scope, 'server');
      registerOrgRestRoutes(scope, env, 'server');
      registerGitRoutes(scope, env, 'server');
    },
    { prefix: SERVER_VIRTUAL_DIR },
  );
  installAdoErrorHandling(apps.server, 'server');

  const order: ListenerName[] = ['login', 'services', 'vssps', 'server'];
  try {
    for (const [i, name] of order.entries()) {
      const port = opts.basePort ? opts.basePort + i : (saved?.ports[name] ?? 0);
      try {
        origins[name] = await listen(apps[name], port);
      } catch (e) {
        // Clients stored URLs with these ports (issuer URLs, organization URLs): moving silently would break them.
        if (saved && !opts.basePort && (e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
          throw new Error(
            `The emulator's ${name} port ${port} is in use. The emulator keeps the ports it had before (its saved state in ${dataDir} has URLs with them): free port ${port}, or choose other ports (keyway start --demo --emulator-port <first port>).`,
            { cause: e },
          );
        }
        throw e;
      }
      ports[name] = Number(new URL(origins[name]).port);
    }
    await writer?.save();
  } catch (e) {
    await Promise.allSettled(order.map((n) => apps[n].close()));
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    throw e;
  }

  let closed = false;
  const w = world;
  return {
    urls: { login: origins.login, services: origins.services, vssps: origins.vssps, server: urls.server, imds: origins.login },
    controlToken,
    entra,
    defaultTenant,
    world: w,
    faults: {
      add: (rule) => faults.add(rule),
      remove: (id) => faults.remove(id),
      clear: () => faults.clear(),
      list: () => faults.list(),
    },
    counters: handleCounters,
    resetCounters,
    throttle,
    persistence: {
      restored: saved !== undefined,
      ...(loaded.notice ? { notice: loaded.notice } : {}),
      extras,
      save: async () => {
        await writer?.save();
      },
    },
    orgUrl(org, form = 'dev') {
      const o = w.requireOrganization(org);
      return form === 'visualstudio' && o.kind === 'hosted' ? urls.visualStudioUrl(o) : urls.orgUrl(o);
    },
    gitUrl(org, project, repo) {
      const o = w.requireOrganization(org);
      return `${urls.orgUrl(o)}/${encodeURIComponent(project)}/_git/${encodeURIComponent(repo)}`;
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled(order.map((n) => apps[n].close()));
      try {
        await writer?.save();
      } finally {
        if (tempDir) rmSync(tempDir, { recursive: true, force: true });
      }
    },
  };
}
