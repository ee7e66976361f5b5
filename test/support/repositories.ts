import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import type { DatabaseKind } from '../../src/db/database.ts';
import { startEmulator } from '../../emulator/index.ts';
import type { EmulatorHandle } from '../../emulator/index.ts';
import { Browser } from './management.ts';
import { startPlaneWithRunner } from './plane.ts';
import type { TestPlane, TestRunner } from './plane.ts';
import { consentAtEntra, deliverCallback, saveOAuthIntegration, startConnect } from './oauth.ts';

/**
 * Keyway (management plane with the emulator as its Services endpoint, one runner) in front of the
 * emulator, with a Services integration (OAuth and PATs) and, optionally, a Server integration.
 */
export interface RepositoryBed {
  plane: TestPlane;
  emu: EmulatorHandle;
  runner: TestRunner;
  runnerId: string;
  servicesIntegrationId: string;
  serverIntegrationId: string | undefined;
  /** Signs in a further Keyway member of the plane's organization. */
  newMember(name: string): Promise<{ id: string; browser: Browser }>;
  /** Stores a PAT for the browser's user (a new authorization each time: its caches start cold). */
  providePat(browser: Browser, token: string, organization: string, integrationId?: string): Promise<void>;
  /** Connects the browser's user through the emulator's Entra ID as `upn`. */
  connectOAuth(browser: Browser, upn: string): Promise<void>;
  /** Azure DevOps REST requests the emulator saw since the last reset. */
  restCalls(): { total: number; byPath: Record<string, number> };
  resolve(browser: Browser, url: string, extra?: Record<string, string>): Promise<LightMyRequestResponse>;
  access(browser: Browser, url: string): Promise<LightMyRequestResponse>;
  list(browser: Browser, kind: string, query: Record<string, string | number | undefined>): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export async function startRepositoryBed(
  kind: DatabaseKind,
  seed: (emu: EmulatorHandle) => Promise<void>,
  options: { server?: boolean } = {},
): Promise<RepositoryBed> {
  const emu = await startEmulator({ accessTokenLifetimeSeconds: 3600 });
  await seed(emu);
  const registered = emu.entra.addApp(emu.defaultTenant.id, { displayName: 'Keyway', redirectUris: [], requirePkce: true });
  const { plane, runner, runnerId } = await startPlaneWithRunner(kind, emu, {
    name: 'repositories',
    plane: { azureDevOpsServicesUrl: emu.urls.services },
  });
  const { saved } = await saveOAuthIntegration(plane, emu, runnerId, { app: registered, pat: true });
  let serverIntegrationId: string | undefined;
  if (options.server) {
    const server = await plane.adminBrowser.request({
      method: 'POST',
      url: `/api/v1/runners/${runnerId}/scm-integrations`,
      payload: { scmId: 'azure-devops', host: emu.urls.server, pat: { enabled: true } },
    });
    assert.equal(server.statusCode, 201, server.body);
    serverIntegrationId = server.json().integration.id;
  }
  let members = 0;

  return {
    plane,
    emu,
    runner,
    runnerId,
    servicesIntegrationId: saved.json().integration.id,
    serverIntegrationId,
    async newMember(name) {
      const email = `${name}-${++members}@acme.test`;
      const password = 'another-member-password';
      const user = await plane.core.identity.createUser({ email, password, organizationId: plane.organizationId, role: 'member' });
      const browser = new Browser(plane.app);
      await browser.signIn(email, password);
      return { id: user.id, browser };
    },
    async providePat(browser, token, organization, integrationId) {
      const res = await browser.request({
        method: 'POST',
        url: '/api/v1/scm/pat',
        payload: { integrationId: integrationId ?? saved.json().integration.id, organization, token },
      });
      assert.equal(res.statusCode, 201, res.body);
    },
    async connectOAuth(browser, upn) {
      const authorizeUrl = await startConnect(browser, saved.json().integration.id);
      const { callback } = await consentAtEntra(emu, authorizeUrl, upn);
      const result = await deliverCallback(browser, callback);
      assert.equal(result.ok, true, result.message);
    },
    restCalls() {
      const byPath = emu.counters().restCalls;
      return { total: Object.values(byPath).reduce((a, b) => a + b, 0), byPath };
    },
    resolve: (browser, url, extra = {}) => browser.request({ method: 'POST', url: '/api/v1/context/parse', payload: { url, ...extra } }),
    access: (browser, url) => browser.request({ method: 'POST', url: '/api/v1/context/access', payload: { url } }),
    list(browser, kind, query) {
      const qs = Object.entries(query)
        .filter((e): e is [string, string | number] => e[1] !== undefined)
        .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
        .join('&');
      return browser.request({ method: 'GET', url: `/api/v1/scm/${kind}?${qs}` });
    },
    async close() {
      await runner?.stop();
      await plane?.close();
      await emu?.close();
    },
  };
}
