// Authentication and authorization as the real service answers them: 203 sign-in page vs 401 with
// Suppress, challenge headers, PAT scopes/expiry/revocation, service principals, tenants, OAuth policy,
// api-version checks and the PAT lifecycle API's Entra-user-only rule.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { ZERO_GUID } from './ids.ts';
import { parseForm } from '../entra/testkit.ts';
import { basic, call, userToken, useSeeded } from '../test-support.ts';

let projects: string;
const SUPPRESS = { 'X-TFS-FedAuthRedirect': 'Suppress' };

const s = useSeeded(async () => {
  projects = `${s.orgUrl}/_apis/projects?api-version=7.1`;
});

describe('rejected credentials', () => {
  test('a wrong PAT gets the 203 HTML sign-in page without Suppress', async () => {
    const r = await call(projects, { auth: basic('not-a-real-token') });
    assert.equal(r.status, 203);
    assert.match(r.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(r.text, /Sign In/);
  });

  test('with X-TFS-FedAuthRedirect: Suppress it is a 401 with the challenge headers', async () => {
    const r = await call(projects, { auth: basic('not-a-real-token'), headers: SUPPRESS });
    assert.equal(r.status, 401);
    const challenge = r.headers.get('www-authenticate') ?? '';
    assert.ok(challenge.includes(`Bearer authorization_uri=${s.emu.urls.login}/${s.emu.defaultTenant.id}`), challenge);
    assert.ok(challenge.includes(`Basic realm="${s.emu.urls.services}/"`), challenge);
    assert.ok(challenge.includes('TFS-Federated'), challenge);
    assert.equal(r.headers.get('x-vss-resourcetenant'), s.emu.defaultTenant.id);
    assert.equal(r.json.typeKey, 'UnauthorizedRequestException');
    assert.match(r.json.message, /^TF400813/);
  });

  test('no credential is a 401; HEAD on the organization names the tenant (all zeros for an MSA org)', async () => {
    const anon = await call(projects);
    assert.equal(anon.status, 401);
    const head = await fetch(s.orgUrl, { method: 'HEAD' });
    assert.equal(head.status, 401);
    assert.equal(head.headers.get('x-vss-resourcetenant'), s.emu.defaultTenant.id);
    s.emu.world.addOrganization('personal-msa', { tenantId: null });
    const msa = await fetch(s.emu.orgUrl('personal-msa'), { method: 'HEAD' });
    assert.equal(msa.headers.get('x-vss-resourcetenant'), ZERO_GUID);
    const browser = await fetch(s.orgUrl, { redirect: 'manual' });
    assert.equal(browser.status, 302);
    assert.ok(browser.headers.get('x-tfs-fedauthredirect')?.includes('_signin'));
  });

  test('an expired and a revoked PAT are rejected like wrong ones', async () => {
    const w = s.emu.world;
    const a = w.createPat(s.user.id, { scopes: ['vso.project'], orgs: [s.org] });
    const b = w.createPat(s.user.id, { scopes: ['vso.project'], orgs: [s.org] });
    assert.equal((await call(projects, { auth: basic(a.token) })).status, 200);
    w.expirePat(a.authorizationId);
    w.revokePat(b.authorizationId);
    for (const token of [a.token, b.token]) {
      assert.equal((await call(projects, { auth: basic(token) })).status, 203);
      assert.equal((await call(projects, { auth: basic(token), headers: SUPPRESS })).status, 401);
    }
  });

  test('a PAT scoped to another organization does not open this one', async () => {
    s.emu.world.addOrganization('other-org');
    s.emu.world.addMember('other-org', s.user.id);
    const { token } = s.emu.world.createPat(s.user.id, { scopes: ['vso.project'], orgs: ['other-org'] });
    assert.equal((await call(projects, { auth: basic(token), headers: SUPPRESS })).status, 401);
    assert.equal((await call(`${s.emu.orgUrl('other-org')}/_apis/projects?api-version=7.1`, { auth: basic(token) })).status, 200);
  });

  test('an unknown organization answers 401 without naming a tenant', async () => {
    const r = await call(`${s.emu.urls.services}/no-such-org/_apis/projects?api-version=7.1`, { auth: basic(s.pat) });
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('x-vss-resourcetenant'), null);
  });
});

describe('PAT scopes', () => {
  test('a vso.code PAT reads git but not projects or variable groups (401 TF400813)', async () => {
    assert.equal((await call(`${s.orgUrl}/${s.project}/_apis/git/repositories?api-version=7.1`, { auth: basic(s.readPat) })).status, 200);
    const p = await call(projects, { auth: basic(s.readPat), headers: SUPPRESS });
    assert.equal(p.status, 401);
    assert.match(p.json.message, /^TF400813: The user '.+' is not authorized to access this resource\.$/);
    assert.equal(
      (await call(`${s.orgUrl}/${s.project}/_apis/distributedtask/variablegroups?api-version=7.1`, { auth: basic(s.readPat) })).status,
      401,
    );
  });

  test('vso.variablegroups_read lists but cannot create; _write creates but cannot delete; _manage deletes', async () => {
    const w = s.emu.world;
    const read = w.createPat(s.user.id, { scopes: ['vso.variablegroups_read'], orgs: [s.org] }).token;
    const write = w.createPat(s.user.id, { scopes: ['vso.variablegroups_write'], orgs: [s.org] }).token;
    const url = `${s.orgUrl}/_apis/distributedtask/variablegroups?api-version=7.1`;
    const body = {
      name: 'scoped',
      variables: { a: { value: '1' } },
      variableGroupProjectReferences: [{ name: 'scoped', projectReference: { name: s.project } }],
    };
    assert.equal(
      (await call(`${s.orgUrl}/${s.project}/_apis/distributedtask/variablegroups?api-version=7.1`, { auth: basic(read) })).status,
      200,
    );
    assert.equal((await call(url, { method: 'POST', auth: basic(read), body })).status, 401);
    const created = await call(url, { method: 'POST', auth: basic(write), body });
    assert.equal(created.status, 200, created.text);
    const projectId = created.json.variableGroupProjectReferences[0].projectReference.id;
    const del = `${s.orgUrl}/_apis/distributedtask/variablegroups/${created.json.id}?projectIds=${projectId}&api-version=7.1`;
    assert.equal((await call(del, { method: 'DELETE', auth: basic(write) })).status, 401);
    assert.equal((await call(del, { method: 'DELETE', auth: basic(s.pat) })).status, 204);
  });

  test('a full-access PAT (app_token) reaches everything', async () => {
    const { token } = s.emu.world.createPat(s.user.id, { scopes: ['app_token'], orgs: [s.org] });
    assert.equal((await call(projects, { auth: basic(token) })).status, 200);
    assert.equal(
      (await call(`${s.orgUrl}/${s.project}/_apis/distributedtask/variablegroups?api-version=7.1`, { auth: basic(token) })).status,
      200,
    );
  });

  test('profile and accounts on vssps take only all-organization PATs', async () => {
    const me = `${s.emu.urls.vssps}/_apis/profile/profiles/me?api-version=7.1`;
    assert.equal((await call(me, { auth: basic(s.pat), headers: SUPPRESS })).status, 401);
    const all = s.emu.world.createPat(s.user.id, { scopes: ['vso.profile'], orgs: 'all' }).token;
    const r = await call(me, { auth: basic(all) });
    assert.equal(r.status, 200);
    assert.equal(r.json.id, s.user.id);
  });
});

describe('Entra tokens', () => {
  test('a member user token works; a non-member, another tenant and an expired token do not', async () => {
    const token = await userToken(s);
    assert.equal((await call(projects, { auth: `Bearer ${token}` })).status, 200);
    const outsider = s.emu.world.addUser({ upn: `bob@${s.emu.defaultTenant.domain}` });
    const r = await call(projects, { auth: `Bearer ${await userToken(s, outsider)}`, headers: SUPPRESS });
    assert.equal(r.status, 401);
    assert.match(r.json.message, /TF400813/);
    const other = s.emu.entra.addTenant({ displayName: 'Other' });
    const foreign = s.emu.world.addUser({ upn: 'carol@other.example', tenantId: other.id });
    s.emu.world.addMember(s.org, foreign.id);
    const { app } = s.emu.entra.addApp(other.id, { displayName: 'x' });
    const foreignToken = await s.emu.entra.issueAccessTokenForTest({
      tenantId: other.id,
      userOid: foreign.oid,
      clientId: app.clientId,
      scopes: ['vso.project'],
    });
    assert.equal((await call(projects, { auth: `Bearer ${foreignToken}`, headers: SUPPRESS })).status, 401);
  });

  test('delegated scopes are enforced: a vso.code token cannot list projects', async () => {
    const token = await userToken(s, s.user, ['499b84ac-1321-427f-aa17-267ca6975798/vso.code']);
    assert.equal((await call(`${s.orgUrl}/${s.project}/_apis/git/repositories?api-version=7.1`, { auth: `Bearer ${token}` })).status, 200);
    assert.equal((await call(projects, { auth: `Bearer ${token}`, headers: SUPPRESS })).status, 401);
  });

  test('a service principal needs to be added to the organization', async () => {
    const w = s.emu.world;
    w.addOrganization('sp-org');
    w.addProject('sp-org', 'P');
    const { app } = s.emu.entra.addApp(s.emu.defaultTenant.id, { displayName: 'automation' });
    const token = await s.emu.entra.issueAccessTokenForTest({
      tenantId: s.emu.defaultTenant.id,
      clientId: app.clientId,
      scopes: ['499b84ac-1321-427f-aa17-267ca6975798/.default'],
    });
    const url = `${s.emu.orgUrl('sp-org')}/_apis/projects?api-version=7.1`;
    const denied = await call(url, { auth: `Bearer ${token}`, headers: SUPPRESS });
    assert.equal(denied.status, 401);
    assert.match(denied.json.message, /TF400813/);
    w.addServicePrincipalToOrg('sp-org', { clientId: app.clientId });
    const ok = await call(url, { auth: `Bearer ${token}` });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.value[0].name, 'P');
  });

  test('expireAccessTokensNow makes issued tokens fail', async () => {
    const token = await userToken(s);
    assert.equal((await call(projects, { auth: `Bearer ${token}` })).status, 200);
    s.emu.entra.faults.expireAccessTokensNow();
    assert.equal((await call(projects, { auth: `Bearer ${token}`, headers: SUPPRESS })).status, 401);
  });

  test('OAuth policy off: the org refuses bearer tokens (PATs still work) and Entra refuses the sign-in', async () => {
    const w = s.emu.world;
    w.addOrganization('locked');
    w.addProject('locked', 'P');
    const locked = w.addUser({ upn: `dave@${s.emu.defaultTenant.domain}` });
    w.addMember('locked', locked.id);
    const url = `${s.emu.orgUrl('locked')}/_apis/projects?api-version=7.1`;
    const token = await userToken(s, locked);
    assert.equal((await call(url, { auth: `Bearer ${token}` })).status, 200);
    w.setOAuthPolicy('locked', false);
    const refused = await call(url, { auth: `Bearer ${token}`, headers: SUPPRESS });
    assert.equal(refused.status, 401);
    assert.match(refused.json.message, /TF400813/);
    const pat = w.createPat(locked.id, { scopes: ['vso.project'], orgs: ['locked'] }).token;
    assert.equal((await call(url, { auth: basic(pat) })).status, 200);

    // The sign-in itself fails at Entra with an error on the redirect.
    const redirectUri = 'http://localhost/cb';
    const verifier = randomBytes(32).toString('base64url');
    const authorize = new URL(`${s.emu.urls.login}/${s.emu.defaultTenant.id}/oauth2/v2.0/authorize`);
    authorize.search = new URLSearchParams({
      client_id: s.clientId,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: 'openid 499b84ac-1321-427f-aa17-267ca6975798/vso.code',
      state: 'st',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    const page = await fetch(authorize, { redirect: 'manual' });
    assert.equal(page.status, 200);
    const { action, fields } = parseForm(await page.text());
    fields.action = 'accept';
    fields.login = locked.upn;
    const res = await fetch(new URL(action, s.emu.urls.login), {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
    assert.equal(res.status, 302);
    const location = new URL(res.headers.get('location')!);
    assert.equal(location.searchParams.get('code'), null);
    assert.ok(location.searchParams.get('error'), location.href);
  });
});

describe('api-version', () => {
  test('missing, out of range, preview without -preview, and the Accept header form', async () => {
    const bare = `${s.orgUrl}/_apis/projects`;
    const missing = await call(bare, { auth: basic(s.pat) });
    assert.equal(missing.status, 400);
    assert.equal(missing.json.typeKey, 'VssVersionNotSpecifiedException');
    const high = await call(`${bare}?api-version=9.0`, { auth: basic(s.pat) });
    assert.equal(high.status, 400);
    assert.equal(
      high.json.message,
      'The requested REST API version of 9.0 is out of range for this server. The latest REST API version this server supports is 7.2.',
    );
    const preview = await call(`${bare}?api-version=7.2`, { auth: basic(s.pat) });
    assert.equal(preview.status, 400);
    assert.equal(preview.json.typeKey, 'VssInvalidPreviewVersionException');
    assert.equal((await call(`${bare}?api-version=7.2-preview.4`, { auth: basic(s.pat) })).status, 200);
    assert.equal((await call(bare, { auth: basic(s.pat), headers: { accept: 'application/json;api-version=7.1' } })).status, 200);
  });

  test('the PAT lifecycle API is preview-only and takes Entra user tokens only', async () => {
    const url = `${s.emu.urls.vssps}/${s.org}/_apis/tokens/pats`;
    const token = await userToken(s);
    assert.equal((await call(`${url}?api-version=7.1`, { auth: `Bearer ${token}` })).status, 400);
    assert.equal((await call(`${url}?api-version=7.1-preview.1`, { auth: `Bearer ${token}` })).status, 200);
    assert.equal((await call(`${url}?api-version=7.1-preview.1`, { auth: basic(s.pat), headers: SUPPRESS })).status, 401);
    const { app } = s.emu.entra.addApp(s.emu.defaultTenant.id, { displayName: 'sp' });
    s.emu.world.addServicePrincipalToOrg(s.org, { clientId: app.clientId });
    const sp = await s.emu.entra.issueAccessTokenForTest({
      tenantId: s.emu.defaultTenant.id,
      clientId: app.clientId,
      scopes: ['499b84ac-1321-427f-aa17-267ca6975798/.default'],
    });
    assert.equal((await call(`${url}?api-version=7.1-preview.1`, { auth: `Bearer ${sp}` })).status, 403);
  });
});
