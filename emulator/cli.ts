// `keyway emulator [--port N]`: starts the emulator with a demo world and prints what a user needs
// to point Keyway (or git, curl, the SDKs) at it. The lead wires runEmulatorCommand into the CLI.
import { randomBytes } from 'node:crypto';
import { startEmulator, type EmulatorHandle } from './server.ts';
import type { EntraApp } from './entra/index.ts';
import type { User } from './ado/world.ts';

/** The demo's values shown once at creation (the PAT, the app secret), kept with the saved state. */
interface SavedDemo {
  userId: string;
  password: string;
  pat: string;
  clientId: string;
  clientSecret: string;
}
const DEMO_EXTRA = 'demo';

export interface EmulatorCommandOptions {
  /** Base port (login = N, services = N+1, vssps = N+2, server = N+3); default random. */
  port?: number;
  dataDir?: string;
  /**
   * Keep the emulator's state in dataDir (startEmulator's `persist`): the demo world is seeded on the
   * first start only; later starts find the same organization, user, PAT and app registration.
   */
  persist?: boolean;
  /** Redirect URIs registered on the demo app registration (Keyway's OAuth callback). */
  redirectUris?: string[];
  /** Where lines go; default stdout. */
  out?: (line: string) => void;
  /** Close on SIGINT/SIGTERM (default true; tests pass false). */
  handleSignals?: boolean;
  /**
   * Azure DevOps's consumption limit (docs/throttling.md). Default on with the documented costs, as
   * the real service meters every identity; KEYWAY_EMULATOR_THROTTLING=off switches it off.
   */
  throttling?: boolean;
}

export interface EmulatorCommandResult {
  handle: EmulatorHandle;
  demo: {
    organization: string;
    project: string;
    repository: string;
    cloneUrl: string;
    serverCollection: string;
    user: { id: string; upn: string; password: string };
    pat: string;
    app: { clientId: string; clientSecret: string; tenantId: string; issuer: string; redirectUris: string[] };
  };
  /** Resolves when the emulator has been closed (signal or close()). */
  closed: Promise<void>;
  close(): Promise<void>;
}

const DEMO_ORG = 'keyway-demo';
const DEMO_PROJECT = 'Demo';
const DEMO_REPO = 'demo-app';
const DEMO_COLLECTION = 'DefaultCollection';
const DEFAULT_REDIRECT = 'http://localhost:8080/auth/callback';

function demoPassword(): string {
  // Generated per run so no fixed credential ships in the source.
  return `Demo-${randomBytes(9).toString('base64url')}`;
}

/** The demo world: an organization and a Server collection with a project, repository and pull request, a user, a PAT, an app registration. */
async function seedDemo(
  handle: EmulatorHandle,
  redirectUris: string[],
): Promise<{ user: User; password: string; pat: string; app: EntraApp; clientSecret: string }> {
  const { world, entra, defaultTenant } = handle;
  world.addOrganization(DEMO_ORG);
  world.addProject(DEMO_ORG, DEMO_PROJECT, { description: 'Demo project of the Keyway emulator' });
  const password = demoPassword();
  const user = world.addUser({ upn: `demo@${defaultTenant.domain}`, displayName: 'Demo User', password });
  world.addMember(DEMO_ORG, user.id);
  await world.createRepository(DEMO_ORG, DEMO_PROJECT, DEMO_REPO, {
    commits: 5,
    branches: ['feature/demo'],
    tags: ['v1.0.0'],
    createdBy: user.id,
    files: { 'azure-pipelines.yml': 'trigger:\n  - main\npool:\n  vmImage: ubuntu-latest\nsteps:\n  - script: echo hello\n' },
  });
  await world.createPullRequest(DEMO_ORG, DEMO_PROJECT, DEMO_REPO, {
    sourceRefName: 'feature/demo',
    title: 'Demo change',
    createdBy: user.id,
  });
  world.addOrganization(DEMO_COLLECTION, { server: true });
  world.addProject(DEMO_COLLECTION, DEMO_PROJECT);
  world.addMember(DEMO_COLLECTION, user.id);
  await world.createRepository(DEMO_COLLECTION, DEMO_PROJECT, DEMO_REPO, { commits: 3, createdBy: user.id });
  const { token: pat } = world.createPat(user.id, {
    scopes: ['vso.code_write', 'vso.project', 'vso.variablegroups_manage', 'vso.profile'],
    orgs: [DEMO_ORG, DEMO_COLLECTION],
    displayName: 'keyway demo',
  });
  const { app, clientSecret } = entra.addApp(defaultTenant.id, { displayName: 'Keyway (emulator demo)', redirectUris });
  return { user, password, pat, app, clientSecret };
}

export async function runEmulatorCommand(opts: EmulatorCommandOptions = {}): Promise<EmulatorCommandResult> {
  const out = opts.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const handle = await startEmulator({
    ...(opts.port ? { basePort: opts.port } : {}),
    ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
    ...(opts.persist ? { persist: true } : {}),
    throttling: opts.throttling ?? true,
  });
  const { world, entra, defaultTenant } = handle;
  const redirectUris = opts.redirectUris ?? [DEFAULT_REDIRECT];
  const kept = handle.persistence.extras.get(DEMO_EXTRA) as SavedDemo | undefined;
  let seeded: { user: User; password: string; pat: string; app: EntraApp; clientSecret: string };
  try {
    if (kept) {
      const user = world.userById(kept.userId);
      const app = entra.findApp(defaultTenant.id, kept.clientId);
      if (!user || !app)
        throw new Error(
          `the emulator's saved state in ${opts.dataDir ?? 'its data directory'} lacks the demo's user or app registration; delete that directory to start afresh`,
        );
      seeded = { user, password: kept.password, pat: kept.pat, app, clientSecret: kept.clientSecret };
      for (const uri of redirectUris) if (!app.redirectUris.includes(uri)) app.redirectUris.push(uri);
    } else {
      seeded = await seedDemo(handle, redirectUris);
      handle.persistence.extras.set(DEMO_EXTRA, {
        userId: seeded.user.id,
        password: seeded.password,
        pat: seeded.pat,
        clientId: seeded.app.clientId,
        clientSecret: seeded.clientSecret,
      } satisfies SavedDemo);
    }
    await handle.persistence.save();
  } catch (e) {
    await handle.close();
    throw e;
  }
  const { user, password, pat, app, clientSecret } = seeded;
  const issuer = `${handle.urls.login}/${defaultTenant.id}/v2.0`;
  const cloneUrl = handle.gitUrl(DEMO_ORG, DEMO_PROJECT, DEMO_REPO);

  const lines = [
    ...(handle.persistence.notice ? [handle.persistence.notice, ''] : []),
    'Keyway Azure DevOps emulator is running.',
    '',
    'Hosts:',
    `  login (Entra ID)   ${handle.urls.login}`,
    `  services           ${handle.urls.services}      (dev.azure.com; {org}.localhost:${new URL(handle.urls.services).port} plays {org}.visualstudio.com)`,
    `  vssps              ${handle.urls.vssps}`,
    `  server             ${handle.urls.server}`,
    '',
    'Demo organization:',
    `  organization       ${handle.orgUrl(DEMO_ORG)}`,
    `  project            ${DEMO_PROJECT}`,
    `  repository         ${cloneUrl}`,
    `  server collection  ${handle.orgUrl(DEMO_COLLECTION)}  (same project and repository)`,
    '',
    'Demo user:',
    `  upn                ${user.upn}`,
    `  password           ${password}`,
    `  PAT                ${pat}`,
    `                     (scopes vso.code_write vso.project vso.variablegroups_manage vso.profile)`,
    '',
    'App registration (for Keyway sign-in):',
    `  tenant id          ${defaultTenant.id}`,
    `  client id          ${app.clientId}`,
    `  client secret      ${clientSecret}`,
    `  issuer             ${issuer}`,
    `  redirect URIs      ${redirectUris.join(', ')}`,
    `                     (register another with POST ${handle.urls.services}/_emulator/tenants/${defaultTenant.id}/apps)`,
    '',
    'Control API:',
    `  ${handle.urls.services}/_emulator/info   Authorization: Bearer ${handle.controlToken}`,
    '',
    'These values are for the local emulator only. Press Ctrl+C to stop.',
  ];
  for (const l of lines) out(l);

  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  const onSignal = (): void => {
    void close();
  };
  async function close(): Promise<void> {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await handle.close();
    resolveClosed();
  }
  if (opts.handleSignals !== false) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  return {
    handle,
    demo: {
      organization: DEMO_ORG,
      project: DEMO_PROJECT,
      repository: DEMO_REPO,
      cloneUrl,
      serverCollection: DEMO_COLLECTION,
      user: { id: user.id, upn: user.upn, password },
      pat,
      // The registration's own list: adding to it registers another redirect URI at once.
      app: { clientId: app.clientId, clientSecret, tenantId: defaultTenant.id, issuer, redirectUris: app.redirectUris },
    },
    closed,
    close,
  };
}
