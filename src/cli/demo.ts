import { randomBytes } from 'node:crypto';
import type { KeywayConfig } from '../config/config.ts';
import type { ManagementCore } from '../management/app.ts';
import { OAUTH_CALLBACK_PATH } from '../management/app-connections/service.ts';
import type { EmulatorCommandResult } from '../../emulator/cli.ts';

/**
 * `keyway start --demo`: the bundled emulator plays Entra ID and Azure DevOps, and Keyway is
 * pointed at it — the Microsoft endpoints overridden, an integration on the local runner, demo users
 * — so a newcomer can walk every journey without an Azure tenant.
 */
export async function startDemoEmulator(): Promise<{ emulator: EmulatorCommandResult; overrides: Partial<KeywayConfig> }> {
  const { runEmulatorCommand } = await import('../../emulator/cli.ts');
  // The emulator's world lives in memory and a temporary directory: each demo starts afresh.
  const emulator = await runEmulatorCommand({ out: () => undefined, handleSignals: false, redirectUris: [] });
  return {
    emulator,
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

export async function configureDemo(core: ManagementCore, emulator: EmulatorCommandResult, admin: { userId: string; organizationId: string }): Promise<string[]> {
  const runner = await core.runners.findLocal();
  if (!runner) throw new Error('the local runner is not registered');
  const existing = await core.database.db.selectFrom('scm_integrations').select('id').where('runner_id', '=', runner.id).where('host', '=', 'dev.azure.com').executeTakeFirst();
  if (existing) await core.integrations.remove(admin.organizationId, runner.id, existing.id);
  const integrationId = `int_demo${randomBytes(8).toString('hex')}`;
  // Registered before the integration's Save & Test, as an admin would in the Entra portal.
  emulator.demo.app.redirectUris.push(`${core.publicUrl}/api/v1/oauth/callback/${integrationId}`);
  // And the callback of `oauth` app connections, so a project can connect one with the demo user.
  const appConnectionCallback = `${core.publicUrl}${OAUTH_CALLBACK_PATH}`;
  if (!emulator.demo.app.redirectUris.includes(appConnectionCallback)) emulator.demo.app.redirectUris.push(appConnectionCallback);
  // Single sign-on: the callback registered, the demo tenant bound to the organization, so the
  // emulator's user signs in with "Sign in with Microsoft" and joins as a member just in time.
  const ssoCallback = core.sso.redirectUri();
  if (!emulator.demo.app.redirectUris.includes(ssoCallback)) emulator.demo.app.redirectUris.push(ssoCallback);
  const tenantId = emulator.demo.app.tenantId.toLowerCase();
  const bound = await core.database.db.selectFrom('organization_sso_bindings').select('organization_id').where('kind', '=', 'entra-tenant').where('value', '=', tenantId).executeTakeFirst();
  if (!bound) {
    await core.database.db
      .insertInto('organization_sso_bindings')
      .values({ id: `ssob_demo${randomBytes(6).toString('hex')}`, organization_id: admin.organizationId, kind: 'entra-tenant', value: tenantId, created_by: null, created_at: new Date().toISOString() })
      .execute();
  }
  const saved = await core.integrations.create(admin.organizationId, runner.id, {
    id: integrationId,
    scmId: 'azure-devops',
    host: 'dev.azure.com',
    oauth: { clientId: emulator.demo.app.clientId, clientSecret: emulator.demo.app.clientSecret, issuerUrl: emulator.demo.app.issuer },
    pat: { enabled: true },
  });

  const password = `demo-${randomBytes(9).toString('base64url')}`;
  const email = 'dev@keyway.local';
  const members = await core.identity.members(admin.organizationId);
  if (!members.some((m) => m.email === email)) {
    await core.identity.createUser({ email, displayName: 'Demo Developer', password, organizationId: admin.organizationId, role: 'member' });
  } else {
    const user = members.find((m) => m.email === email);
    if (user) await core.identity.setPassword(user.id, password);
  }
  const demo = emulator.demo;
  const repoUrl = `https://dev.azure.com/${demo.organization}/${demo.project}/_git/${demo.repository}`;
  return [
    '',
    'Demo mode: the bundled emulator plays Entra ID and Azure DevOps.',
    `  Repository access on the local runner: dev.azure.com with OAuth and PATs (Save & Test: ${saved.test.valid ? 'valid' : 'failed'})`,
    `  Keyway member: ${email} / ${password}`,
    `  Entra ID user (pick it on the emulator's sign-in page): ${demo.user.upn} / ${demo.user.password}`,
    `  Sign in with Microsoft: the demo tenant ${demo.app.tenantId} is bound to this organization; ${demo.user.upn} joins as a member`,
    `  A PAT for that user: ${demo.pat}`,
    `  Directory (tenant) ID for oauth app connections: ${demo.app.tenantId} (organization ${demo.organization})`,
    `  Try: open ${repoUrl} (or its pull request 1: ${repoUrl}/pullrequest/1) and press Connect.`,
    'Where to click first: open the sign-in link above, then Runners → local → Configure repository access.',
  ];
}
