// Single sign-on against the emulator's Entra ID: who gets in, through what, with which role, and
// the attacks that must fail (forged or replayed callbacks, another browser, unbound tenants,
// account matching by email). SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { databaseKinds } from '../../../test/support/databases.ts';
import { Browser, startTestManagement } from '../../../test/support/management.ts';
import type { TestManagement } from '../../../test/support/management.ts';
import { consentAtEntra } from '../../../test/support/oauth.ts';
import { startEmulator } from '../../../emulator/server.ts';
import type { EmulatorHandle } from '../../../emulator/server.ts';
import type { EntraTenant, EntraUser } from '../../../emulator/entra/index.ts';
import { startTestOidcProvider } from '../../../test/support/oidc-provider.ts';
import type { OidcPerson, TestOidcProvider } from '../../../test/support/oidc-provider.ts';

const PUBLIC_URL = 'http://keyway.test';
const CALLBACK = `${PUBLIC_URL}/api/v1/auth/sso/callback`;
const STRONG = () => `pw-${Math.random().toString(36).slice(2)}-long-enough`;

interface Started {
  redirectUrl: string;
  ssoCookie: string;
}

for (const { kind, skip } of await databaseKinds()) {
  describe(`single sign-on with Entra ID (${kind})`, { skip }, () => {
    let emu: EmulatorHandle;
    let t: TestManagement;
    let admin: Browser;
    let bound: EntraTenant;
    let unbound: EntraTenant;
    let clientId: string;
    let clientSecret: string;
    /** Codes and states that passed through callbacks: they must not be kept anywhere. */
    const seen: string[] = [];

    async function begin(body: Record<string, unknown>, browser?: Browser): Promise<Started> {
      const headers: Record<string, string> = {};
      if (browser) {
        headers.cookie = browser.cookie;
        headers['x-csrf-token'] = browser.csrfToken;
      }
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/sso/entra/begin', payload: body, headers });
      assert.equal(res.statusCode, 200, res.body);
      const cookie = res.cookies.find((c) => c.name === 'keyway_sso');
      assert.ok(cookie?.httpOnly, 'the browser binding cookie is HttpOnly');
      return { redirectUrl: res.json().redirectUrl, ssoCookie: cookie.value };
    }

    async function deliver(callback: string, ssoCookie: string | undefined, browser?: Browser): Promise<LightMyRequestResponse> {
      const url = new URL(callback);
      for (const name of ['code', 'state']) {
        const value = url.searchParams.get(name);
        if (value && value.length > 20) seen.push(value);
      }
      const cookies: string[] = [];
      if (ssoCookie) cookies.push(`keyway_sso=${ssoCookie}`);
      if (browser?.cookie) cookies.push(browser.cookie);
      return t.app.inject({
        method: 'GET',
        url: `${url.pathname}${url.search}`,
        headers: cookies.length ? { cookie: cookies.join('; ') } : {},
      });
    }

    /** The whole round trip as a browser: begin, Entra's page, back to Keyway. */
    async function signIn(user: EntraUser, body: Record<string, unknown> = {}, browser = new Browser(t.app)) {
      const started = await begin({ email: user.upn, ...body }, body.intent ? browser : undefined);
      const { callback } = await consentAtEntra(emu, started.redirectUrl, user.upn);
      const res = await deliver(callback, started.ssoCookie, body.intent ? browser : undefined);
      const session = res.cookies.find((c) => c.name === 'keyway_session');
      if (session) browser.cookie = `keyway_session=${session.value}`;
      const me = session ? await browser.request({ method: 'GET', url: '/api/v1/me' }) : undefined;
      if (me?.statusCode === 200) browser.csrfToken = me.json().csrfToken;
      return { res, browser, me: me?.statusCode === 200 ? me.json() : undefined };
    }

    before(async () => {
      emu = await startEmulator();
      bound = emu.entra.addTenant({ displayName: 'Contoso', domain: `contoso-${kind}.onmicrosoft.com` });
      unbound = emu.entra.addTenant({ displayName: 'Fabrikam', domain: `fabrikam-${kind}.onmicrosoft.com` });
      const app = emu.entra.addApp(emu.defaultTenant.id, { displayName: 'Keyway sign-in', redirectUris: [CALLBACK], multiTenant: true });
      clientId = app.app.clientId;
      clientSecret = app.clientSecret;
      t = await startTestManagement(kind, {
        publicUrl: PUBLIC_URL,
        allowInsecureHosts: true,
        sso: { entra: { clientId, clientSecret: app.clientSecret, authorityOrigin: emu.urls.login } },
      });
      admin = new Browser(t.app);
      await admin.signIn(t.admin.email, t.admin.password);
      // The bootstrap admin is an instance operator: it may bind a tenant without proof.
      const binding = await admin.request({
        method: 'POST',
        url: '/api/v1/organization/sso/bindings',
        payload: { kind: 'entra-tenant', value: bound.id },
      });
      assert.equal(binding.statusCode, 201, binding.body);
    });
    after(async () => {
      await t?.close();
      await emu?.close();
    });

    it('signs in with authorization code + PKCE (S256) and a nonce, and joins a person of a bound tenant just in time', async () => {
      const user = emu.entra.addUser(bound.id, { upn: `ada@${bound.domain}`, displayName: 'Ada Lovelace' });
      const started = await begin({ email: user.upn });
      const authorize = new URL(started.redirectUrl);
      assert.equal(authorize.origin, emu.urls.login);
      assert.ok(authorize.pathname.startsWith(`/${bound.id}/`), 'the sign-in goes through the bound tenant');
      assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
      assert.ok(authorize.searchParams.get('code_challenge'));
      assert.ok(authorize.searchParams.get('nonce'));
      assert.equal(authorize.searchParams.get('redirect_uri'), CALLBACK);
      assert.equal(authorize.searchParams.get('login_hint'), user.upn);

      const { callback } = await consentAtEntra(emu, started.redirectUrl, user.upn);
      const res = await deliver(callback, started.ssoCookie);
      assert.equal(res.statusCode, 303, res.body);
      assert.equal(res.headers.location, '/');
      const browser = new Browser(t.app);
      browser.absorb(res);
      const me = (await browser.request({ method: 'GET', url: '/api/v1/me' })).json();
      assert.equal(me.user.email, user.upn);
      assert.equal(me.organization.id, t.organizationId);
      assert.equal(me.role, 'member');
      assert.equal(me.authMethod, 'sso');
      const joined = await t.core.audit.list(t.organizationId, { limit: 10, action: 'member.join' });
      assert.ok(joined.events.some((e) => (e.details as { via?: string }).via === 'entra'));
    });

    it("bounds an SSO session by the provider's authentication time plus the session lifetime", async () => {
      const user = emu.entra.addUser(bound.id, { upn: `bounded@${bound.domain}` });
      const { res } = await signIn(user);
      assert.equal(res.statusCode, 303);
      const u = await t.core.identity.findUserByEmail(user.upn);
      const session = await t.database.db.selectFrom('sessions').selectAll().where('user_id', '=', u!.id).executeTakeFirstOrThrow();
      // auth_time is in whole seconds: a session timed by its own clock would (almost always) carry milliseconds.
      assert.equal(Date.parse(session.authenticated_at) % 1000, 0, "the provider's auth_time, not the moment of sign-in");
      assert.equal(
        Date.parse(session.expires_at) - Date.parse(session.authenticated_at),
        3600_000,
        'the auth time plus one hour (the test TTL)',
      );
      assert.equal(session.auth_method, 'sso');
    });

    it('maps groups to roles at every sign-in, and removes a person whose groups no longer admit them', async () => {
      const admins = 'a0000000-0000-4000-8000-00000000000a';
      const developers = 'd0000000-0000-4000-8000-00000000000d';
      const settings = await admin.request({
        method: 'PUT',
        url: '/api/v1/organization/settings',
        payload: { ssoRoleClaim: 'groups', ssoAdminValues: [admins], ssoMemberValues: [developers] },
      });
      assert.equal(settings.statusCode, 200, settings.body);
      try {
        const user = emu.entra.addUser(bound.id, { upn: `grace@${bound.domain}`, groups: [admins] });
        const first = await signIn(user);
        assert.equal(first.me?.role, 'admin');
        emu.entra.updateUser(user.oid, { groups: [developers] });
        const second = await signIn(user);
        assert.equal(second.me?.role, 'member', 'the role follows the groups at the next sign-in');
        emu.entra.updateUser(user.oid, { groups: [] });
        const third = await signIn(user);
        assert.equal(third.res.statusCode, 400);
        assert.match(third.res.body, /data-code="not_admitted"/);
        assert.equal(
          (await t.core.identity.memberships((await t.core.identity.findUserByEmail(user.upn))!.id)).length,
          0,
          'removed from the organization',
        );
        assert.equal((await second.browser.request({ method: 'GET', url: '/api/v1/me' })).statusCode, 401, 'and signed out');
        // Someone outside the groups never gets an account at all.
        const outsider = emu.entra.addUser(bound.id, { upn: `outsider@${bound.domain}`, groups: ['e0000000-0000-4000-8000-00000000000e'] });
        const refused = await signIn(outsider);
        assert.equal(refused.res.statusCode, 400);
        assert.equal(await t.core.identity.findUserByEmail(outsider.upn), undefined);
      } finally {
        await admin.request({
          method: 'PUT',
          url: '/api/v1/organization/settings',
          payload: { ssoRoleClaim: null, ssoAdminValues: [], ssoMemberValues: [] },
        });
      }
    });

    it('refuses a tenant nobody bound, at the start and at the callback (binding removed mid-flight), creating nothing', async () => {
      const stranger = emu.entra.addUser(unbound.id, { upn: `eve@${unbound.domain}` });
      const start = await t.app.inject({ method: 'POST', url: '/api/v1/auth/sso/entra/begin', payload: { email: stranger.upn } });
      assert.equal(start.statusCode, 400);
      assert.equal(start.json().error.code, 'tenant_not_bound');

      // Bind, start, unbind before the callback: the ID token now comes from an unbound tenant.
      const bind = await admin.request({
        method: 'POST',
        url: '/api/v1/organization/sso/bindings',
        payload: { kind: 'entra-tenant', value: unbound.id },
      });
      assert.equal(bind.statusCode, 201);
      const started = await begin({ email: stranger.upn });
      assert.equal((await admin.request({ method: 'DELETE', url: `/api/v1/organization/sso/bindings/${bind.json().id}` })).statusCode, 204);
      const { callback } = await consentAtEntra(emu, started.redirectUrl, stranger.upn);
      const res = await deliver(callback, started.ssoCookie);
      assert.equal(res.statusCode, 400);
      assert.match(res.body, /data-code="tenant_not_bound"/);
      assert.equal(
        res.cookies.find((c) => c.name === 'keyway_session'),
        undefined,
      );
      assert.equal(await t.core.identity.findUserByEmail(stranger.upn), undefined);
    });

    it('refuses a callback in another browser, a replayed callback, and a code swapped between two sign-ins', async () => {
      const user = emu.entra.addUser(bound.id, { upn: `victim@${bound.domain}` });
      const started = await begin({ email: user.upn });
      const { callback } = await consentAtEntra(emu, started.redirectUrl, user.upn);
      const otherBrowser = await deliver(callback, undefined);
      assert.equal(otherBrowser.statusCode, 400);
      assert.match(otherBrowser.body, /data-code="browser_mismatch"/);
      const replay = await deliver(callback, started.ssoCookie);
      assert.match(replay.body, /data-code="unknown_state"/, 'the state was spent by the first delivery');

      const one = await begin({ email: user.upn });
      const two = await begin({ email: user.upn });
      const codeOfTwo = new URL((await consentAtEntra(emu, two.redirectUrl, user.upn)).callback).searchParams.get('code')!;
      const stateOfOne = new URL(one.redirectUrl).searchParams.get('state')!;
      const swapped = await deliver(
        `${CALLBACK}?code=${encodeURIComponent(codeOfTwo)}&state=${encodeURIComponent(stateOfOne)}`,
        one.ssoCookie,
      );
      assert.equal(swapped.statusCode, 400, 'the PKCE verifier of sign-in one does not redeem the code of sign-in two');
      assert.equal(
        swapped.cookies.find((c) => c.name === 'keyway_session'),
        undefined,
      );
      const forged = await deliver(`${CALLBACK}?code=forged&state=forged`, one.ssoCookie);
      assert.match(forged.body, /data-code="unknown_state"/);
    });

    it("never links an existing account by email (a tenant admin could set anyone's email)", async () => {
      const email = `ceo@${bound.domain}`;
      const password = STRONG();
      const existing = await t.core.identity.createUser({ email, password, organizationId: t.organizationId, role: 'admin' });
      const impostor = emu.entra.addUser(bound.id, { upn: email });
      const res = await signIn(impostor);
      assert.equal(res.res.statusCode, 400);
      assert.match(res.res.body, /data-code="account_exists"/);
      assert.equal((await t.core.sso.identities(existing.id)).length, 0, 'nothing was linked');
    });

    it('lets a password account link Microsoft, re-authenticate, and then set a password without the old one', async () => {
      const email = `linker-${kind}@acme.test`;
      const password = STRONG();
      await t.core.identity.createUser({ email, password, organizationId: t.organizationId, role: 'member' });
      const browser = new Browser(t.app);
      await browser.signIn(email, password);
      const entraUser = emu.entra.addUser(unbound.id, { upn: `linker@${unbound.domain}` });
      const linked = await signIn(entraUser, { intent: 'link', tenant: unbound.id, returnTo: '/account' }, browser);
      assert.equal(linked.res.statusCode, 303, linked.res.body);
      assert.equal(linked.res.headers.location, '/account');
      const identities = (await browser.request({ method: 'GET', url: '/api/v1/me/identities' })).json().identities;
      assert.equal(identities.length, 1);
      assert.equal(identities[0].tenantId, unbound.id);
      // Linking was a fresh sign-in: the password can change without the current one now.
      const changed = await browser.request({ method: 'PUT', url: '/api/v1/me/password', payload: { password: STRONG() } });
      assert.equal(changed.statusCode, 200, changed.body);
      // The same Microsoft account cannot be linked to a second Keyway account.
      const other = new Browser(t.app);
      await other.signIn(t.member.email, t.member.password);
      const stolen = await signIn(entraUser, { intent: 'link', tenant: unbound.id }, other);
      assert.match(stolen.res.body, /data-code="identity_in_use"/);
      // Re-authentication must be the linked account.
      const reauth = await signIn(entraUser, { intent: 'reauthenticate' }, browser);
      assert.equal(reauth.res.statusCode, 303, reauth.res.body);
      // A linked account of an unbound tenant signs in (its memberships came otherwise) but joins nothing.
      const again = await signIn(entraUser);
      assert.equal(again.res.statusCode, 303, again.res.body);
      assert.equal(again.me?.organization.id, t.organizationId);
    });

    it('accepts an invitation through Microsoft sign-in, creating the invited account', async () => {
      const person = emu.entra.addUser(unbound.id, { upn: `invited@${unbound.domain}` });
      const invitation = await admin.request({
        method: 'POST',
        url: '/api/v1/invitations',
        payload: { email: person.upn, role: 'member' },
      });
      const token = new URL(invitation.json().url).hash.replace('#token=', '');
      const { res, me } = await signIn(person, { invitationToken: token });
      assert.equal(res.statusCode, 303, res.body);
      assert.equal(me?.user.email, person.upn);
      assert.equal(me?.organization.id, t.organizationId);
      const again = await t.app.inject({ method: 'POST', url: '/api/v1/invitations/preview', payload: { token } });
      assert.equal(again.statusCode, 410);
    });

    it('requires single sign-on once password sign-in is off, and lets operators back in with a link', async () => {
      const email = `pw-user-${kind}@acme.test`;
      const password = STRONG();
      await t.core.identity.createUser({ email, password, organizationId: t.organizationId, role: 'member' });
      const pwSession = new Browser(t.app);
      await pwSession.signIn(email, password);
      // The (operator) admin may switch it off; a plain admin would first have to prove SSO works.
      const off = await admin.request({ method: 'PUT', url: '/api/v1/organization/settings', payload: { passwordSignIn: false } });
      assert.equal(off.statusCode, 200, off.body);
      assert.ok(off.json().endedSessions >= 1);
      try {
        assert.equal((await pwSession.request({ method: 'GET', url: '/api/v1/runners' })).statusCode, 401, 'password sessions ended');
        const refused = await t.app.inject({ method: 'POST', url: '/api/v1/auth/sign-in', payload: { email, password } });
        assert.equal(refused.statusCode, 403);
        assert.equal(refused.json().error.code, 'sso_required');
        const link = await t.core.identity.createSignInLink(t.admin.id, t.organizationId, 'operator');
        const viaLink = await t.app.inject({ method: 'POST', url: '/api/v1/auth/link', payload: { token: link.token } });
        assert.equal(viaLink.statusCode, 200);
        assert.equal(viaLink.json().organizationChoiceRequired, false);
        const sso = await signIn(emu.entra.addUser(bound.id, { upn: `still-in@${bound.domain}` }));
        assert.equal(sso.me?.organization.id, t.organizationId);
      } finally {
        await t.database.db.updateTable('organizations').set({ password_sign_in: 1 }).where('id', '=', t.organizationId).execute();
      }
    });

    it('asks a plain admin for proof before binding a tenant: their own sign-in through it', async () => {
      const org = await t.core.identity.createOrganization(`Proof ${kind}`, t.admin.id);
      const email = `plain-admin-${kind}@acme.test`;
      const password = STRONG();
      await t.core.identity.createUser({ email, password, organizationId: org.id, role: 'admin' });
      const plain = new Browser(t.app);
      await plain.signIn(email, password);
      const tenant = emu.entra.addTenant({ displayName: 'Northwind', domain: `northwind-${kind}.onmicrosoft.com` });
      const unproven = await plain.request({
        method: 'POST',
        url: '/api/v1/organization/sso/bindings',
        payload: { kind: 'entra-tenant', value: tenant.id },
      });
      assert.equal(unproven.statusCode, 403);
      const entraUser = emu.entra.addUser(tenant.id, { upn: `boss@${tenant.domain}` });
      const linked = await signIn(entraUser, { intent: 'link', tenant: tenant.id }, plain);
      assert.equal(linked.res.statusCode, 303, linked.res.body);
      const proven = await plain.request({
        method: 'POST',
        url: '/api/v1/organization/sso/bindings',
        payload: { kind: 'entra-tenant', value: tenant.id },
      });
      assert.equal(proven.statusCode, 201, proven.body);
      const taken = await plain.request({
        method: 'POST',
        url: '/api/v1/organization/sso/bindings',
        payload: { kind: 'entra-tenant', value: bound.id },
      });
      assert.equal(taken.statusCode, 403, "no proof for somebody else's tenant");
    });

    it('keeps the client secret, codes, states and session tokens out of logs and the database', async () => {
      assert.ok(seen.length > 10, 'callbacks were observed');
      const dump: string[] = [];
      for (const table of [
        'sessions',
        'sso_states',
        'sso_identities',
        'audit_events',
        'users',
        'invitations',
        'organization_sso_bindings',
      ] as const) {
        dump.push(JSON.stringify(await t.database.db.selectFrom(table).selectAll().execute()));
      }
      const haystacks = { logs: t.logs.text, database: dump.join('\n') };
      for (const [where, text] of Object.entries(haystacks)) {
        assert.ok(!text.includes(clientSecret), `the SSO client secret is not in the ${where}`);
        for (const value of seen) assert.ok(!text.includes(value), `a code or state is not in the ${where}`);
      }
    });

    it('keeps a disabled Entra user out: Entra refuses the sign-in and no callback comes', async () => {
      const user = emu.entra.addUser(bound.id, { upn: `gone@${bound.domain}` });
      assert.equal((await signIn(user)).res.statusCode, 303);
      emu.entra.updateUser(user.oid, { disabled: true });
      const started = await begin({ email: user.upn });
      await assert.rejects(consentAtEntra(emu, started.redirectUrl, user.upn), /without a redirect/);
    });
  });
}

for (const { kind, skip } of await databaseKinds()) {
  describe(`single sign-on with another OpenID Connect provider (${kind})`, { skip }, () => {
    let idp: TestOidcProvider;
    let t: TestManagement;

    async function signInWith(person: OidcPerson) {
      idp.signInAs(person);
      const begin = await t.app.inject({ method: 'POST', url: '/api/v1/auth/sso/oidc/begin', payload: {} });
      assert.equal(begin.statusCode, 200, begin.body);
      const ssoCookie = begin.cookies.find((c) => c.name === 'keyway_sso')!.value;
      const authorize = await fetch(begin.json().redirectUrl, { redirect: 'manual' });
      const callback = new URL(authorize.headers.get('location')!);
      return t.app.inject({ method: 'GET', url: `${callback.pathname}${callback.search}`, headers: { cookie: `keyway_sso=${ssoCookie}` } });
    }

    before(async () => {
      idp = await startTestOidcProvider(CALLBACK);
      t = await startTestManagement(kind, {
        publicUrl: PUBLIC_URL,
        allowInsecureHosts: true,
        sso: { oidc: { issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret, name: 'Corp SSO' } },
      });
      const admin = new Browser(t.app);
      await admin.signIn(t.admin.email, t.admin.password);
      const bound = await admin.request({
        method: 'POST',
        url: '/api/v1/organization/sso/bindings',
        payload: { kind: 'email-domain', value: 'corp.example' },
      });
      assert.equal(bound.statusCode, 201, bound.body);
    });
    after(async () => {
      await t?.close();
      await idp?.close();
    });

    it('offers the provider by its name', async () => {
      const providers = (await t.app.inject({ method: 'GET', url: '/api/v1/auth/sso/providers' })).json().providers;
      assert.deepEqual(providers, [{ id: 'oidc', name: 'Corp SSO', needsEmail: false }]);
    });

    it('admits a verified address of a bound domain just in time, keyed on the subject', async () => {
      const res = await signInWith({ sub: 'corp-1', email: 'dana@corp.example', email_verified: true, name: 'Dana' });
      assert.equal(res.statusCode, 303, res.body);
      const browser = new Browser(t.app);
      browser.absorb(res);
      const me = (await browser.request({ method: 'GET', url: '/api/v1/me' })).json();
      assert.equal(me.user.email, 'dana@corp.example');
      assert.equal(me.organization.id, t.organizationId);
      // The same subject with a changed address is still the same account.
      const again = await signInWith({ sub: 'corp-1', email: 'dana.renamed@corp.example', email_verified: true });
      assert.equal(again.statusCode, 303);
      assert.equal(await t.core.identity.findUserByEmail('dana.renamed@corp.example'), undefined, 'no second account');
    });

    it('refuses an unverified address and an address of an unbound domain, creating nothing', async () => {
      const unverified = await signInWith({ sub: 'corp-2', email: 'mallory@corp.example', email_verified: false });
      assert.equal(unverified.statusCode, 400);
      assert.match(unverified.body, /data-code="domain_not_bound"/);
      const elsewhere = await signInWith({ sub: 'corp-3', email: 'erin@other.example', email_verified: true });
      assert.equal(elsewhere.statusCode, 400);
      assert.equal(await t.core.identity.findUserByEmail('mallory@corp.example'), undefined);
      assert.equal(await t.core.identity.findUserByEmail('erin@other.example'), undefined);
    });
  });
}
