// startEmulator({ dataDir, persist: true }): a restart keeps the ports, the control token and the
// whole state, so what clients stored (URLs, PATs, refresh tokens, access tokens) keeps working.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serialize } from 'node:v8';
import { startEmulator, type EmulatorHandle } from './server.ts';
import { STATE_FILE } from './persistence.ts';
import { AZURE_DEVOPS_RESOURCE_ID } from './entra/index.ts';
import { parseForm } from './entra/testkit.ts';
import { basic, call, runGit } from './test-support.ts';

let root: string;

before(() => {
  root = mkdtempSync(join(tmpdir(), 'keyway-emulator-persist-'));
});

after(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

/** git with no user configuration; the PAT travels in the environment, never in argv. */
const git = (args: string[], cwd: string, secret: string) => runGit(args, { cwd, secret });

/** The authorization code flow as a browser and a confidential client would run it; returns the token response. */
async function codeFlow(
  emu: EmulatorHandle,
  app: { clientId: string; clientSecret: string; redirectUri: string },
  user: { upn: string; password: string },
): Promise<{ refresh_token: string; access_token: string }> {
  const tenant = emu.defaultTenant.id;
  const authorize = new URL(`${emu.urls.login}/${tenant}/oauth2/v2.0/authorize`);
  authorize.search = new URLSearchParams({
    client_id: app.clientId,
    redirect_uri: app.redirectUri,
    response_type: 'code',
    scope: `openid offline_access ${AZURE_DEVOPS_RESOURCE_ID}/vso.code`,
    state: 's1',
  }).toString();
  const page = await fetch(authorize, { redirect: 'manual' });
  const { action, fields } = parseForm(await page.text());
  const consent = await fetch(new URL(action, emu.urls.login), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...fields, action: 'accept', login: user.upn, passwd: user.password }).toString(),
  });
  const code = new URL(consent.headers.get('location') ?? '', emu.urls.login).searchParams.get('code');
  assert.ok(code, 'the sign-in page redirects with a code');
  return token(emu, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: app.redirectUri,
    client_id: app.clientId,
    client_secret: app.clientSecret,
  });
}

async function token(emu: EmulatorHandle, params: Record<string, string>): Promise<{ refresh_token: string; access_token: string }> {
  const res = await fetch(`${emu.urls.login}/${emu.defaultTenant.id}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
  const body = (await res.json()) as { refresh_token: string; access_token: string };
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}

describe('startEmulator with persist: a restart keeps everything clients hold', () => {
  test('same ports and control token; the organization, repository, pushed commit, PAT, variable group, app secret, refresh and access tokens still work', async () => {
    const dataDir = join(root, 'restart');
    const work = mkdtempSync(join(root, 'work-'));
    const first = await startEmulator({ dataDir, persist: true });
    const w = first.world;
    w.addOrganization('contoso');
    w.addProject('contoso', 'Web');
    const user = w.addUser({ upn: `alice@${first.defaultTenant.domain}`, password: 'pw' });
    w.addMember('contoso', user.id);
    await w.createRepository('contoso', 'Web', 'web-app', { commits: 2, createdBy: user.id });
    const { token: pat } = w.createPat(user.id, {
      scopes: ['vso.code_write', 'vso.project', 'vso.variablegroups_manage'],
      orgs: ['contoso'],
    });
    const redirectUri = 'http://localhost/cb';
    const { app, clientSecret } = first.entra.addApp(first.defaultTenant.id, { displayName: 'Keyway', redirectUris: [redirectUri] });
    // Changes made in process are saved by the caller; changes over HTTP save themselves.
    await first.persistence.save();

    const gitUrl = first.gitUrl('contoso', 'Web', 'web-app');
    const clone = join(work, 'clone');
    assert.equal((await git(['clone', '-q', gitUrl, clone], work, pat)).code, 0);
    writeFileSync(join(clone, 'persisted.txt'), 'kept\n');
    assert.equal((await git(['add', '.'], clone, pat)).code, 0);
    assert.equal((await git(['commit', '-q', '-m', 'persisted change'], clone, pat)).code, 0);
    const push = await git(['push', '-q', 'origin', 'HEAD:refs/heads/main'], clone, pat);
    assert.equal(push.code, 0, push.stderr);
    const pushed = (await git(['rev-parse', 'HEAD'], clone, pat)).stdout.trim();

    const created = await call(`${first.orgUrl('contoso')}/_apis/distributedtask/variablegroups?api-version=7.1`, {
      method: 'POST',
      auth: basic(pat),
      body: {
        name: 'release',
        type: 'Vsts',
        variables: { region: { value: 'westeurope' } },
        variableGroupProjectReferences: [{ name: 'release', projectReference: { name: 'Web' } }],
      },
    });
    assert.equal(created.status, 200, created.text);
    const tokens = await codeFlow(first, { clientId: app.clientId, clientSecret, redirectUri }, { upn: user.upn, password: 'pw' });
    const before = { urls: first.urls, controlToken: first.controlToken, tenant: first.defaultTenant.id };
    await first.close();

    const file = join(dataDir, STATE_FILE);
    assert.equal(statSync(file).mode & 0o777, 0o600, 'the state holds secrets: owner only');
    assert.deepEqual(
      readdirSync(dataDir).filter((f) => f.includes('.tmp')),
      [],
      'no temporary file left behind',
    );

    const second = await startEmulator({ dataDir, persist: true });
    try {
      assert.equal(second.persistence.restored, true);
      assert.equal(second.persistence.notice, undefined);
      assert.deepEqual(second.urls, before.urls, 'the same four ports');
      assert.equal(second.controlToken, before.controlToken);
      assert.equal(second.defaultTenant.id, before.tenant);
      assert.equal((await call(`${second.urls.services}/_emulator/info`, { auth: `Bearer ${before.controlToken}` })).status, 200);

      // The PAT on REST and git, and what it pushed.
      const commits = await call(`${second.orgUrl('contoso')}/Web/_apis/git/repositories/web-app/commits?api-version=7.1`, {
        auth: basic(pat),
      });
      assert.equal(commits.status, 200, commits.text);
      assert.equal(commits.json.value[0].commitId, pushed);
      const pushes = await call(`${second.orgUrl('contoso')}/Web/_apis/git/repositories/web-app/pushes?api-version=7.1`, {
        auth: basic(pat),
      });
      assert.equal(pushes.json.count, 2, 'the seed and the push, as recorded before the restart');
      const remote = await git(['ls-remote', gitUrl, 'refs/heads/main'], work, pat);
      assert.equal(remote.code, 0, remote.stderr);
      assert.ok(remote.stdout.startsWith(pushed));

      const groups = await call(`${second.orgUrl('contoso')}/Web/_apis/distributedtask/variablegroups?api-version=7.1`, {
        auth: basic(pat),
      });
      assert.deepEqual(
        groups.json.value.map((g: { name: string }) => g.name),
        ['release'],
      );

      // The access token issued before still verifies (same signing keys); the refresh token redeems.
      assert.equal(
        (await call(`${second.orgUrl('contoso')}/Web/_apis/git/repositories?api-version=7.1`, { auth: `Bearer ${tokens.access_token}` }))
          .status,
        200,
      );
      const refreshed = await token(second, {
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token,
        client_id: app.clientId,
        client_secret: clientSecret,
      });
      assert.equal(
        (await call(`${second.orgUrl('contoso')}/Web/_apis/git/repositories?api-version=7.1`, { auth: `Bearer ${refreshed.access_token}` }))
          .status,
        200,
      );
    } finally {
      await second.close();
    }
  });

  test('a stored port taken by another process: a clear error naming it, not a silent move', async () => {
    const dataDir = join(root, 'port-taken');
    const first = await startEmulator({ dataDir, persist: true });
    const port = Number(new URL(first.urls.vssps).port);
    await first.close();
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      await assert.rejects(startEmulator({ dataDir, persist: true }), (err: Error) => {
        assert.match(err.message, new RegExp(`vssps port ${port} is in use`));
        assert.match(err.message, /--emulator-port/);
        return true;
      });
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  test('an unreadable or incompatible state file is set aside and the emulator starts afresh, saying so', async () => {
    for (const [name, content] of [
      ['corrupt', Buffer.from('not a state file')],
      ['incompatible', serialize({ version: 999 })],
    ] as const) {
      const dataDir = join(root, name);
      const first = await startEmulator({ dataDir, persist: true });
      const tenant = first.defaultTenant.id;
      await first.close();
      writeFileSync(join(dataDir, STATE_FILE), content);
      const second = await startEmulator({ dataDir, persist: true });
      try {
        assert.equal(second.persistence.restored, false);
        assert.match(second.persistence.notice ?? '', /was not loaded/);
        assert.match(second.persistence.notice ?? '', name === 'corrupt' ? /cannot be read/ : /another version of the emulator/);
        assert.notEqual(second.defaultTenant.id, tenant, 'a fresh world');
        const aside = readdirSync(dataDir).find((f) => f.startsWith(`${STATE_FILE}.incompatible-`));
        assert.ok(aside, 'the old file is kept aside');
        assert.ok(second.persistence.notice?.includes(aside!));
        assert.ok(existsSync(join(dataDir, STATE_FILE)), 'the fresh state is saved');
      } finally {
        await second.close();
      }
    }
  });
});
