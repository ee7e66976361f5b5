import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeywayConfig } from '../config/config.ts';
import type { ManagementCore } from '../management/app.ts';
import { OAUTH_CALLBACK_PATH } from '../management/app-connections/service.ts';
import type { EmulatorCommandResult } from '../../emulator/cli.ts';

/**
 * `keyway start --demo`: the bundled emulator plays Entra ID and Azure DevOps, and Keyway is
 * pointed at it — the Microsoft endpoints overridden, an integration on the local runner, demo users
 * — so a newcomer can walk every journey without an Azure tenant.
 */
export async function startDemoEmulator(options: {
  port?: number;
  dataDir: string;
}): Promise<{ emulator: EmulatorCommandResult; overrides: Partial<KeywayConfig>; servicePrincipal: DemoServicePrincipal }> {
  const { runEmulatorCommand } = await import('../../emulator/cli.ts');
  // The emulator keeps its world in the data directory: a restart finds the same app registration,
  // users, tokens and ports, so the integration, users' authorizations and connections stored in
  // Keyway keep working.
  const emulator = await runEmulatorCommand({
    out: () => undefined,
    handleSignals: false,
    redirectUris: [],
    dataDir: demoEmulatorDir(options.dataDir),
    persist: true,
    ...(options.port !== undefined ? { port: options.port } : {}),
  });
  // A service principal in the demo organization, for client-secret app connections: created once,
  // as connections made with it keep its client id and secret.
  const { handle } = emulator;
  let servicePrincipal = handle.persistence.extras.get(SERVICE_PRINCIPAL_EXTRA) as DemoServicePrincipal | undefined;
  if (!servicePrincipal) {
    const registered = handle.entra.addApp(handle.defaultTenant.id, { displayName: 'Keyway demo service principal' });
    handle.world.addServicePrincipalToOrg(emulator.demo.organization, {
      clientId: registered.app.clientId,
      displayName: 'Keyway demo service principal',
    });
    servicePrincipal = { tenantId: handle.defaultTenant.id, clientId: registered.app.clientId, clientSecret: registered.clientSecret };
    handle.persistence.extras.set(SERVICE_PRINCIPAL_EXTRA, servicePrincipal);
    await handle.persistence.save();
  }
  return {
    emulator,
    servicePrincipal,
    overrides: {
      azureDevOpsServicesUrl: emulator.handle.urls.services,
      azureDevOpsVsspsUrl: emulator.handle.urls.vssps,
      entraAuthorityUrl: emulator.handle.urls.login,
      allowInsecureHosts: true,
      // The emulator's app registration is also the instance-wide app of `oauth` app connections.
      azureDevOpsClientId: emulator.demo.app.clientId,
      azureDevOpsClientSecret: emulator.demo.app.clientSecret,
      // And the instance's "Sign in with Microsoft" app, with the demo tenant bound to the organization.
      ssoEntraClientId: emulator.demo.app.clientId,
      ssoEntraClientSecret: emulator.demo.app.clientSecret,
    },
  };
}

const SERVICE_PRINCIPAL_EXTRA = 'keyway-demo-service-principal';

/** Where the demo's emulator keeps its state; deleting it starts the demo afresh. */
export function demoEmulatorDir(dataDir: string): string {
  return join(dataDir, 'emulator');
}

export interface DemoServicePrincipal {
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

/**
 * What a demo user needs beyond Keyway itself: the emulator's addresses and control token (fault
 * knobs, counters), the OAuth app and a service principal. Printed, and kept in {dataDir}/demo.txt
 * (mode 0600): the values are the local emulator's only.
 */
export async function writeDemoDetails(
  dataDir: string,
  emulator: EmulatorCommandResult,
  servicePrincipal: DemoServicePrincipal,
): Promise<{ lines: string[]; file: string }> {
  const { handle, demo } = emulator;
  const lines = [
    'Emulator (plays Entra ID and Azure DevOps; these values work against it only):',
    `  login (Entra ID)  ${handle.urls.login}`,
    `  services          ${handle.urls.services}   (stands in for https://dev.azure.com)`,
    `  vssps             ${handle.urls.vssps}`,
    `  server            ${handle.urls.server}   (Azure DevOps Server, collection ${demo.serverCollection})`,
    `  control API       ${handle.urls.services}/_emulator/info   Authorization: Bearer ${handle.controlToken}   (fault knobs, counters)`,
    `  OAuth app         tenant ${demo.app.tenantId}, client id ${demo.app.clientId}, client secret ${demo.app.clientSecret}`,
    `  service principal tenant ${servicePrincipal.tenantId}, client id ${servicePrincipal.clientId}, client secret ${servicePrincipal.clientSecret} (a member of ${demo.organization}: use it for a client-secret app connection)`,
  ];
  const file = join(dataDir, 'demo.txt');
  await writeFile(file, `${lines.join('\n')}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return { lines, file };
}

export async function configureDemo(
  core: ManagementCore,
  emulator: EmulatorCommandResult,
  admin: { userId: string; organizationId: string },
  dataDir?: string,
): Promise<string[]> {
  const runner = await core.runners.findLocal();
  if (!runner) throw new Error('the local runner is not registered');
  const demo = emulator.demo;
  // Registered before the integration's Save & Test, as an admin would in the Entra portal; a
  // restart (with another Keyway port, say) adds what is missing and never duplicates.
  const register = (uri: string): void => {
    if (!demo.app.redirectUris.includes(uri)) demo.app.redirectUris.push(uri);
  };
  const existing = await core.database.db
    .selectFrom('scm_integrations')
    .select(['id', 'oauth_client_id', 'oauth_issuer_url'])
    .where('runner_id', '=', runner.id)
    .where('host', '=', 'dev.azure.com')
    .executeTakeFirst();
  // Kept when it still names the emulator's app: users' authorizations hang on it. An integration
  // for another app (the emulator's state was deleted) is replaced.
  const keep = existing !== undefined && existing.oauth_client_id === demo.app.clientId && existing.oauth_issuer_url === demo.app.issuer;
  if (existing && !keep) await core.integrations.remove(admin.organizationId, runner.id, existing.id);
  const integrationId = keep ? existing.id : `int_demo${randomBytes(8).toString('hex')}`;
  register(`${core.publicUrl}/api/v1/oauth/callback/${integrationId}`);
  // And the callback of `oauth` app connections, so a project can connect one with the demo user.
  register(`${core.publicUrl}${OAUTH_CALLBACK_PATH}`);
  // Single sign-on: the callback registered, the demo tenant bound to the organization, so the
  // emulator's user signs in with "Sign in with Microsoft" and joins as a member just in time.
  register(core.sso.redirectUri());
  await emulator.handle.persistence.save();
  const tenantId = demo.app.tenantId.toLowerCase();
  const bound = await core.database.db
    .selectFrom('organization_sso_bindings')
    .select('organization_id')
    .where('kind', '=', 'entra-tenant')
    .where('value', '=', tenantId)
    .executeTakeFirst();
  if (!bound) {
    await core.database.db
      .insertInto('organization_sso_bindings')
      .values({
        id: `ssob_demo${randomBytes(6).toString('hex')}`,
        organization_id: admin.organizationId,
        kind: 'entra-tenant',
        value: tenantId,
        created_by: null,
        created_at: new Date().toISOString(),
      })
      .execute();
  }
  const test = keep
    ? await core.integrations.test(admin.organizationId, runner.id, integrationId)
    : (
        await core.integrations.create(admin.organizationId, runner.id, {
          id: integrationId,
          scmId: 'azure-devops',
          host: 'dev.azure.com',
          oauth: { clientId: demo.app.clientId, clientSecret: demo.app.clientSecret, issuerUrl: demo.app.issuer },
          pat: { enabled: true },
        })
      ).test;

  // The member keeps one password across restarts (kept beside demo.txt), so a restart breaks no sign-in.
  const passwordFile = dataDir ? join(dataDir, 'demo-member-password') : undefined;
  const kept = passwordFile ? (await readFile(passwordFile, 'utf8').catch(() => '')).trim() : '';
  const password = kept || `demo-${randomBytes(9).toString('base64url')}`;
  const email = 'dev@keyway.local';
  const members = await core.identity.members(admin.organizationId);
  if (!members.some((m) => m.email === email)) {
    await core.identity.createUser({
      email,
      displayName: 'Demo Developer',
      password,
      organizationId: admin.organizationId,
      role: 'member',
    });
  } else {
    const user = members.find((m) => m.email === email);
    if (user && !kept) await core.identity.setPassword(user.id, password);
  }
  if (passwordFile && !kept) await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  const repoUrl = `https://dev.azure.com/${demo.organization}/${demo.project}/_git/${demo.repository}`;
  return [
    '',
    ...(emulator.handle.persistence.notice ? [emulator.handle.persistence.notice] : []),
    'Demo mode: the bundled emulator plays Entra ID and Azure DevOps.',
    `  Its state (users, authorizations, app registrations, ports) is kept in ${dataDir ? demoEmulatorDir(dataDir) : 'the data directory'}${emulator.handle.persistence.restored ? ' and was restored' : ''}; delete that folder to start the demo afresh.`,
    `  Repository access on the local runner: dev.azure.com with OAuth and PATs (${keep ? 'kept; ' : ''}Save & Test: ${test.valid ? 'valid' : 'failed'})`,
    `  Keyway member: ${email} / ${password}`,
    `  Entra ID user (pick it on the emulator's sign-in page): ${demo.user.upn} / ${demo.user.password}`,
    `  Sign in with Microsoft: the demo tenant ${demo.app.tenantId} is bound to this organization; ${demo.user.upn} joins as a member`,
    `  A PAT for that user: ${demo.pat}`,
    `  Directory (tenant) ID for oauth app connections: ${demo.app.tenantId} (organization ${demo.organization})`,
    `  Try: open ${repoUrl} (or its pull request 1: ${repoUrl}/pullrequest/1) and press Connect.`,
    'Where to click first: open the sign-in link above, then Runners → local → Configure repository access.',
  ];
}
