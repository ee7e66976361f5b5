// Case 1 of issue 14: a token Azure DevOps refuses before its recorded expiry (revoked early, a
// Continuous Access Evaluation event, a password reset). The emulator revokes one user's access
// tokens while their refresh tokens stay good; Keyway must refresh once — across two runner
// replicas sharing one store — retry, and say in the authorization and the audit log what happened.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { devNull, tmpdir } from 'node:os';
import { join } from 'node:path';
import { databaseKinds } from '../../../test/support/databases.ts';
import { eventually, settledEnvironment } from '../../../test/support/plane.ts';
import type { TestRunner } from '../../../test/support/plane.ts';
import { seedWebRepository, startIntegrationBed } from '../../../test/support/integration-bed.ts';
import type { IntegrationBed } from '../../../test/support/integration-bed.ts';
import type { User } from '../../../emulator/index.ts';
import { createAzureDevOpsClient } from '../../azure-devops/client.ts';
import { resolveEndpoints } from '../../azure-devops/endpoints.ts';
import { answerRejection } from '../environments/credential-server.ts';
import { createLogger } from '../../logging/logger.ts';
import type { AccessToken } from './tokens.ts';

const ORG = 'contoso';
const HOME = mkdtempSync(join(tmpdir(), 'keyway-early-refresh-home-'));

/** git as a user runs it in the workspace (async: the emulator serves git from this process). */
function git(args: string[], cwd: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, {
      cwd,
      env: { ...process.env, HOME, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: devNull, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const err: Buffer[] = [];
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stderr: Buffer.concat(err).toString('utf8') }));
  });
}
const REPO_URL = `https://dev.azure.com/${ORG}/Web/_git/web`;

interface Authorization {
  id: string;
  integrationId: string;
  state: string;
  status: string;
  failingSince: string | null;
  failureReason: string | null;
  reauthorizationReason: string | null;
}

for (const { kind, skip } of await databaseKinds()) {
  describe(`a token refused before its recorded expiry is refreshed once and retried (${kind}, two runner replicas)`, { skip }, () => {
    let bed: IntegrationBed;
    let replica: TestRunner;
    let alice: User;

    before(async () => {
      bed = await startIntegrationBed(kind, async (emu) => {
        alice = await seedWebRepository(emu, ORG);
      });
      replica = await bed.startReplica();
      await bed.connectOAuth(bed.plane.memberBrowser, alice.upn);
    });
    after(async () => {
      await bed?.close();
    });

    async function authorization(): Promise<Authorization> {
      const res = await bed.plane.memberBrowser.request({ method: 'GET', url: '/api/v1/scm/authorizations' });
      assert.equal(res.statusCode, 200, res.body);
      const found = (res.json().authorizations as Authorization[]).find((a) => a.integrationId === bed.integrationId);
      assert.ok(found, res.body);
      return found;
    }

    const access = () => bed.plane.memberBrowser.request({ method: 'POST', url: '/api/v1/context/access', payload: { url: REPO_URL } });

    /** Each scenario starts past the previous one's early refresh (which blocks a second one for 30 s). */
    async function pastEarlyRefresh(): Promise<void> {
      await bed.runner.store.database.db
        .updateTable('credentials')
        .set({ forced_refresh_at: new Date(Date.now() - 3600_000).toISOString() })
        .execute();
    }

    it('REST: the access check heals with exactly one refresh; the authorization stays working; the audit log says so', async () => {
      assert.equal((await access()).json().hasAccess, true);
      assert.ok(bed.emu.entra.faults.expireUserAccessTokensNow(alice.oid) > 0);
      const before = bed.refreshRequests();
      const res = await access();
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().hasAccess, true, res.body);
      assert.equal(bed.refreshRequests() - before, 1);
      const auth = await authorization();
      assert.equal(auth.state, 'working');
      assert.equal(auth.status, 'active');
      const event = await bed.auditEventually('credential.refreshed_early', (e) => e.target?.id === bed.plane.member.id);
      assert.equal(event.actor.type, 'runner');
      assert.equal(event.actor.id, bed.runnerId);
      assert.equal(event.outcome, 'success');
      assert.equal(event.details.integrationId, bed.integrationId);
      assert.equal(event.details.via, 'rest');
    });

    it('two replicas, 40 requests each with the refused token: one refresh, every request retried with the same new token', async () => {
      await pastEarlyRefresh();
      const tokenOf = (r: TestRunner) => r.runtime.tokens.getAccessToken(bed.plane.member.id, bed.integrationId);
      const refused = await tokenOf(bed.runner);
      assert.equal((await tokenOf(replica)).token, refused.token, 'both replicas hand out the stored token');
      bed.emu.entra.faults.expireUserAccessTokensNow(alice.oid);
      const before = bed.refreshRequests();
      const used = new Set<string>();
      const call = async (r: TestRunner) => {
        let token: AccessToken = refused;
        const client = createAzureDevOpsClient({
          target: { kind: 'services', organization: ORG },
          endpoints: resolveEndpoints({ services: bed.emu.urls.services, vssps: bed.emu.urls.vssps }),
          credential: { kind: 'bearer', token: refused.token },
          maxRetries: 0,
          refreshCredential: async () => {
            const fresh = await r.runtime.tokens.rejected(token, 'rest');
            if (fresh) token = fresh;
            return fresh && { kind: fresh.kind, token: fresh.token };
          },
        });
        await client.connectionData();
        used.add(token.token);
      };
      await Promise.all(Array.from({ length: 80 }, (_, i) => call(i % 2 ? replica : bed.runner)));
      assert.equal(bed.refreshRequests() - before, 1);
      assert.equal(used.size, 1);
      assert.notEqual([...used][0], refused.token);
    });

    it("git: the credential helper's report of a refused token (erase) refreshes once; repeated or forged reports refresh nothing more", async () => {
      await pastEarlyRefresh();
      const current = await bed.runner.runtime.tokens.getAccessToken(bed.plane.member.id, bed.integrationId);
      bed.emu.entra.faults.expireUserAccessTokensNow(alice.oid);
      const grant = {
        environmentId: 'env_testtesttest',
        userId: bed.plane.member.id,
        integrationId: bed.integrationId,
        remoteUrl: `${bed.emu.urls.services}/${ORG}/Web/_git/web`,
      };
      const asked = (password: string) => ({
        protocol: 'http',
        host: new URL(bed.emu.urls.services).host,
        path: `${ORG}/Web/_git/web`,
        username: 'oauth2',
        password,
      });
      const logger = createLogger('silent');
      const deps = (r: TestRunner) => ({
        getAccessToken: (u: string, i: string) => r.runtime.tokens.getAccessToken(u, i),
        tokenRejected: (t: AccessToken) => r.runtime.tokens.rejected(t, 'git'),
      });
      const before = bed.refreshRequests();
      // A password that is not the current token, or another repository: nothing happens.
      await answerRejection(grant, asked('not-the-token'), { ...deps(bed.runner), logger });
      await answerRejection(grant, { ...asked(current.token), path: `${ORG}/Web/_git/other` }, { ...deps(bed.runner), logger });
      assert.equal(bed.refreshRequests() - before, 0);
      // git reports the refusal to both replicas' sockets at once: one refresh.
      await Promise.all([
        answerRejection(grant, asked(current.token), { ...deps(bed.runner), logger }),
        answerRejection(grant, asked(current.token), { ...deps(replica), logger }),
      ]);
      assert.equal(bed.refreshRequests() - before, 1);
      const fresh = await bed.runner.runtime.tokens.getAccessToken(bed.plane.member.id, bed.integrationId);
      assert.notEqual(fresh.token, current.token);
      await bed.emu.entra.verifyAccessToken(fresh.token);
      // A caller repeating the report with each new token cannot make the runner refresh in a loop.
      await answerRejection(grant, asked(fresh.token), { ...deps(replica), logger });
      await answerRejection(grant, asked(fresh.token), { ...deps(bed.runner), logger });
      assert.equal(bed.refreshRequests() - before, 1);
      const auth = await authorization();
      assert.equal(auth.state, 'failing', 'a fresh token refused again is recorded as failing, not as needing re-authorization');
      assert.equal(auth.status, 'active');
      assert.match(auth.failureReason ?? '', /refused a token refreshed moments ago/);
      await bed.auditEventually('credential.rejected', (e) => e.target?.id === bed.plane.member.id);
      // It works again as soon as Azure DevOps accepts the token.
      const res = await access();
      assert.equal(res.json().hasAccess, true, res.body);
      await eventually(async () => (await authorization()).state === 'working', 'state back to working');
    });

    it('git in a workspace: a fetch refused for an early-revoked token makes git report it; one refresh, and the next fetch works', async () => {
      await pastEarlyRefresh();
      const created = await bed.plane.memberBrowser.request({
        method: 'POST',
        url: '/api/v1/environments',
        payload: { contextUrl: `${bed.emu.urls.services}/${ORG}/Web/_git/web`, runnerId: bed.runnerId },
      });
      assert.equal(created.statusCode, 201, created.body);
      const env = await settledEnvironment(bed.plane.memberBrowser, created.json().id, 'the environment');
      assert.equal(env.status, 'ready', JSON.stringify(env.error));
      bed.emu.entra.faults.expireUserAccessTokensNow(alice.oid);
      const before = bed.refreshRequests();
      const refused = await git(['fetch', 'origin'], env.workspacePath);
      assert.notEqual(refused.code, 0, 'git was given the revoked token');
      assert.match(refused.stderr, /Authentication failed|401/);
      assert.equal(bed.refreshRequests() - before, 1, "git's erase reached the runner, which refreshed once");
      const again = await git(['fetch', 'origin'], env.workspacePath);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(bed.refreshRequests() - before, 1);
      await bed.auditEventually('credential.refreshed_early', (e) => e.details.via === 'git');
    });

    it('Entra down while refreshing: failing since, refresh_failed in the audit log; it heals when Entra is back', async () => {
      await pastEarlyRefresh();
      bed.emu.entra.faults.expireUserAccessTokensNow(alice.oid);
      const fault = bed.emu.faults.add({ listener: 'login', path: '/*/oauth2/v2.0/token', action: 'status', status: 503 });
      try {
        const res = await access();
        assert.equal(res.json().hasAccess, false, res.body);
        assert.equal(res.json().reason, 'unavailable');
        const auth = await authorization();
        assert.equal(auth.state, 'failing');
        assert.ok(auth.failingSince);
        assert.match(auth.failureReason ?? '', /Entra ID could not refresh the token/);
        await bed.auditEventually('credential.refresh_failed', (e) => e.target?.id === bed.plane.member.id && e.outcome === 'failure');
      } finally {
        bed.emu.faults.remove(fault);
      }
      const healed = await access();
      assert.equal(healed.json().hasAccess, true, healed.body);
      assert.equal((await authorization()).state, 'working');
    });

    it("only a refused refresh marks re-authorization, with Entra's reason, in the answer, the authorization and the audit log", async () => {
      await pastEarlyRefresh();
      bed.emu.entra.faults.revokeRefreshTokens({ userOid: alice.oid });
      bed.emu.entra.faults.expireUserAccessTokensNow(alice.oid);
      const res = await access();
      assert.equal(res.json().hasAccess, false, res.body);
      assert.equal(res.json().reason, 'reauthorization_required');
      assert.match(res.json().errorMessage, /AADSTS/);
      assert.ok(res.json().authentication?.supportsOauth2?.authUrl, 'the answer carries the authorization URL');
      const auth = await authorization();
      assert.equal(auth.state, 'needs-reauthorization');
      assert.ok(auth.reauthorizationReason);
      const event = await bed.auditEventually('credential.needs_reauthorization', (e) => e.target?.id === bed.plane.member.id);
      assert.equal(event.actor.type, 'runner');
      assert.equal(event.outcome, 'failure');
    });
  });
}
