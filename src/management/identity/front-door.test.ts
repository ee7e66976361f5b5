// The front door under attack: organizations, invitations, sessions in the organization the person
// chose, offboarding, password changes, token lineage and sign-in limits. Each test names the attack
// it refuses; all run on SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../../../test/support/databases.ts';
import { Browser, startTestManagement } from '../../../test/support/management.ts';
import type { TestManagement } from '../../../test/support/management.ts';

const STRONG = () => `pw-${Math.random().toString(36).slice(2)}-long-enough`;

/** One POST to the sign-in route from `remoteAddress`. */
function signInAttempt(t: TestManagement, email: string, password: string, remoteAddress = '127.0.0.1') {
  return t.app.inject({ method: 'POST', url: '/api/v1/auth/sign-in', payload: { email, password }, remoteAddress });
}

async function signedIn(t: TestManagement, email: string, password: string, remoteAddress = '127.0.0.1') {
  const browser = new Browser(t.app);
  const res = await signInAttempt(t, email, password, remoteAddress);
  browser.absorb(res);
  return { browser, res };
}

/** A new person of the organization with `role`, signed in from `remoteAddress`. */
async function signedInNewcomer(t: TestManagement, email: string, role: 'admin' | 'member', remoteAddress?: string) {
  const password = STRONG();
  const user = await t.core.identity.createUser({ email, password, organizationId: t.organizationId, role });
  const { browser } = await signedIn(t, email, password, remoteAddress);
  return { email, password, user, browser };
}

/** A new API token of the person signed in to `browser`. */
async function apiToken(browser: Browser, name: string): Promise<string> {
  return (await browser.request({ method: 'POST', url: '/api/v1/api-tokens', payload: { name } })).json().token as string;
}

/** Creates an account through an invitation's link, as the person who got it would. */
function registerThroughInvitation(t: TestManagement, token: string, displayName: string, password: string) {
  return t.app.inject({ method: 'POST', url: '/api/v1/invitations/register', payload: { token, displayName, password } });
}

async function invite(t: TestManagement, admin: Browser, email: string, role: 'admin' | 'member' = 'member') {
  const res = await admin.request({ method: 'POST', url: '/api/v1/invitations', payload: { email, role } });
  assert.equal(res.statusCode, 201, res.body);
  const body = res.json() as { id: string; url: string };
  return { id: body.id, token: new URL(body.url).hash.replace(/^#token=/, ''), body };
}

for (const { kind, skip } of await databaseKinds()) {
  describe(`the front door (${kind})`, { skip }, () => {
    let t: TestManagement;
    let admin: Browser;
    before(async () => {
      t = await startTestManagement(kind);
      admin = (await signedIn(t, t.admin.email, t.admin.password)).browser;
    });
    after(async () => t?.close());

    it('refuses organization creation by a member (only instance operators create organizations)', async () => {
      const member = (await signedIn(t, t.member.email, t.member.password)).browser;
      const res = await member.request({ method: 'POST', url: '/api/v1/organizations', payload: { name: ' 0 Default' } });
      assert.equal(res.statusCode, 403);
      const denied = await t.core.audit.list(t.organizationId, { limit: 20, action: 'authorization.denied' });
      assert.ok(denied.events.some((e) => e.actor.id === t.member.id && e.target?.id === 'POST /api/v1/organizations'));
      // The bootstrap admin is an instance operator.
      const created = await admin.request({ method: 'POST', url: '/api/v1/organizations', payload: { name: `Operator Org ${kind}` } });
      assert.equal(created.statusCode, 201, created.body);
    });

    it('has no way to put an existing account into an organization: adding members is gone, an invitation must be accepted by its owner', async () => {
      const gone = await admin.request({ method: 'POST', url: '/api/v1/members', payload: { email: t.member.email, role: 'admin' } });
      assert.equal(gone.statusCode, 404);
      // An attacker who is an admin elsewhere invites the victim; nothing happens until the victim accepts.
      const evilOrg = await t.core.identity.createOrganization(`Attacker ${kind}`, t.admin.id);
      const attackerEmail = `attacker-${kind}@evil.test`;
      const attackerPassword = STRONG();
      await t.core.identity.createUser({ email: attackerEmail, password: attackerPassword, organizationId: evilOrg.id, role: 'admin' });
      const attacker = (await signedIn(t, attackerEmail, attackerPassword)).browser;
      await invite(t, attacker, t.member.email, 'member');
      const memberships = await t.core.identity.memberships(t.member.id);
      assert.deepEqual(
        memberships.map((m) => m.organizationId),
        [t.organizationId],
        'the victim is in no organization they did not join',
      );
      // The victim's next sign-in lands in their own organization, whatever the attacker's is called.
      const { res } = await signedIn(t, t.member.email, t.member.password);
      assert.equal(res.json().organizationChoiceRequired, false);
      const me = await new Browser(t.app).request({ method: 'GET', url: '/api/v1/me' });
      assert.equal(me.statusCode, 401);
    });

    it('answers an invitation the same way whether the address has an account anywhere or not', async () => {
      const existing = await admin.request({
        method: 'POST',
        url: '/api/v1/invitations',
        payload: { email: `attacker-${kind}@evil.test`, role: 'member' },
      });
      const unknown = await admin.request({
        method: 'POST',
        url: '/api/v1/invitations',
        payload: { email: `nobody-${kind}@nowhere.test`, role: 'member' },
      });
      assert.equal(existing.statusCode, 201);
      assert.equal(unknown.statusCode, 201);
      const shape = (b: Record<string, unknown>) => Object.keys(b).sort();
      assert.deepEqual(shape(existing.json()), shape(unknown.json()));
      assert.ok(!('created' in existing.json()));
    });

    it('accepts an invitation only signed in as the invited address, once, before it expires, unless revoked', async () => {
      const email = `invitee-${kind}@acme.test`;
      const password = STRONG();
      const otherOrg = await t.core.identity.createOrganization(`Invitee Home ${kind}`, t.admin.id);
      await t.core.identity.createUser({ email, password, organizationId: otherOrg.id, role: 'member' });
      const invitation = await invite(t, admin, email, 'member');

      const preview = await t.app.inject({ method: 'POST', url: '/api/v1/invitations/preview', payload: { token: invitation.token } });
      assert.equal(preview.statusCode, 200);
      assert.equal(preview.json().organization.name, 'Acme');
      assert.equal(preview.json().email, email);

      // The wrong account (the member) is refused, and stays out.
      const wrong = (await signedIn(t, t.member.email, t.member.password)).browser;
      const refused = await wrong.request({ method: 'POST', url: '/api/v1/invitations/accept', payload: { token: invitation.token } });
      assert.equal(refused.statusCode, 403);
      assert.equal(refused.json().error.code, 'wrong_account');
      // An anonymous caller cannot accept.
      assert.equal(
        (await t.app.inject({ method: 'POST', url: '/api/v1/invitations/accept', payload: { token: invitation.token } })).statusCode,
        401,
      );
      // An API token cannot accept either.
      const token = await apiToken(wrong, 'x');
      const byToken = await t.app.inject({
        method: 'POST',
        url: '/api/v1/invitations/accept',
        headers: { authorization: `Bearer ${token}` },
        payload: { token: invitation.token },
      });
      assert.equal(byToken.statusCode, 403);

      const invitee = (await signedIn(t, email, password)).browser;
      const accepted = await invitee.request({ method: 'POST', url: '/api/v1/invitations/accept', payload: { token: invitation.token } });
      assert.equal(accepted.statusCode, 200, accepted.body);
      assert.equal(accepted.json().organizationId, t.organizationId);
      assert.equal(accepted.json().switched, true);
      const me = await invitee.request({ method: 'GET', url: '/api/v1/me' });
      assert.equal(me.json().organization.id, t.organizationId, 'accepting moves the session into the organization');

      const again = await invitee.request({ method: 'POST', url: '/api/v1/invitations/accept', payload: { token: invitation.token } });
      assert.equal(again.statusCode, 410);
      assert.equal(again.json().error.code, 'invitation_used');

      // Expired and revoked invitations are refused.
      const expiring = await invite(t, admin, `late-${kind}@acme.test`);
      await t.database.db
        .updateTable('invitations')
        .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
        .where('id', '=', expiring.id)
        .execute();
      const expired = await t.app.inject({ method: 'POST', url: '/api/v1/invitations/preview', payload: { token: expiring.token } });
      assert.equal(expired.statusCode, 410);
      assert.equal(expired.json().error.code, 'invitation_expired');
      const revoking = await invite(t, admin, `revoked-${kind}@acme.test`);
      assert.equal((await admin.request({ method: 'DELETE', url: `/api/v1/invitations/${revoking.id}` })).statusCode, 204);
      const revoked = await registerThroughInvitation(t, revoking.token, 'R', STRONG());
      assert.equal(revoked.statusCode, 404);
      assert.equal(revoked.json().error.code, 'invalid_invitation');
      const forged = await t.app.inject({
        method: 'POST',
        url: '/api/v1/invitations/preview',
        payload: { token: `kwi_${'A'.repeat(43)}` },
      });
      assert.equal(forged.statusCode, 404);

      const listed = (await admin.request({ method: 'GET', url: '/api/v1/invitations' })).json().invitations as {
        id: string;
        status: string;
      }[];
      assert.equal(listed.find((i) => i.id === invitation.id)?.status, 'accepted');
      assert.equal(listed.find((i) => i.id === expiring.id)?.status, 'expired');
      assert.equal(listed.find((i) => i.id === revoking.id)?.status, 'revoked');
      assert.ok(!JSON.stringify(listed).includes(invitation.token), 'listings never show the link');
    });

    it('lets an invited person without an account create it through the link, and never over an existing account', async () => {
      const email = `newcomer-${kind}@acme.test`;
      const invitation = await invite(t, admin, email, 'member');
      const weak = await registerThroughInvitation(t, invitation.token, 'New', '            ');
      assert.equal(weak.statusCode, 400);
      assert.equal(weak.json().error.field, 'password');
      const password = STRONG();
      const registered = await registerThroughInvitation(t, invitation.token, 'Newcomer', password);
      assert.equal(registered.statusCode, 200, registered.body);
      const browser = new Browser(t.app);
      browser.absorb(registered);
      const me = (await browser.request({ method: 'GET', url: '/api/v1/me' })).json();
      assert.equal(me.user.email, email);
      assert.equal(me.organization.id, t.organizationId);
      assert.equal(me.role, 'member');

      const existing = await invite(t, admin, `attacker-${kind}@evil.test`);
      const takeover = await registerThroughInvitation(t, existing.token, 'Mallory', STRONG());
      assert.equal(takeover.statusCode, 409);
      assert.equal(takeover.json().error.code, 'account_exists');
    });

    it('starts a session in no organization when the person has several and chose none, and lets them choose (audited)', async () => {
      const email = `two-orgs-${kind}@acme.test`;
      const password = STRONG();
      const orgB = await t.core.identity.createOrganization(`Zeta ${kind}`, t.admin.id);
      const orgA = await t.core.identity.createOrganization(`  0 Default ${kind}`.trim(), t.admin.id);
      await t.core.identity.createUser({ email, password, organizationId: orgB.id, role: 'member' });
      await t.database.db
        .insertInto('memberships')
        .values({
          organization_id: orgA.id,
          user_id: (await t.core.identity.findUserByEmail(email))!.id,
          role: 'member',
          created_at: new Date().toISOString(),
          source: 'invitation',
        })
        .execute();

      const { browser, res } = await signedIn(t, email, password);
      assert.equal(res.json().organizationChoiceRequired, true);
      const me = (await browser.request({ method: 'GET', url: '/api/v1/me' })).json();
      assert.equal(me.organization, null);
      assert.equal(me.organizations.length, 2);
      const scoped = await browser.request({ method: 'GET', url: '/api/v1/runners' });
      assert.equal(scoped.statusCode, 409);
      assert.equal(scoped.json().error.code, 'organization_required');
      const token = await browser.request({ method: 'POST', url: '/api/v1/api-tokens', payload: { name: 'x' } });
      assert.equal(token.statusCode, 409);

      const choose = await browser.request({ method: 'PUT', url: '/api/v1/me/organization', payload: { organizationId: orgB.id } });
      assert.equal(choose.statusCode, 204);
      assert.equal((await browser.request({ method: 'GET', url: '/api/v1/runners' })).statusCode, 200);
      const events = await t.core.audit.list(orgB.id, { limit: 5, action: 'session.organization_switch' });
      assert.equal(events.events[0]?.actor.label, email);
      // Next time, the choice is remembered.
      const again = await signedIn(t, email, password);
      assert.equal(again.res.json().organizationChoiceRequired, false);
      assert.equal((await again.browser.request({ method: 'GET', url: '/api/v1/me' })).json().organization.id, orgB.id);
      // Another person's organization cannot be chosen.
      const foreign = await browser.request({
        method: 'PUT',
        url: '/api/v1/me/organization',
        payload: { organizationId: t.organizationId },
      });
      assert.equal(foreign.statusCode, 404);
    });

    it('removes a member: sessions and API tokens of the organization end at once; the last admin can be neither removed nor demoted', async () => {
      const { user: created, browser: leaver } = await signedInNewcomer(t, `leaver-${kind}@acme.test`, 'member');
      const token = await apiToken(leaver, 'automation');
      assert.equal(
        (await t.app.inject({ method: 'GET', url: '/api/v1/runners', headers: { authorization: `Bearer ${token}` } })).statusCode,
        200,
      );

      const memberAttempt = await leaver.request({ method: 'DELETE', url: `/api/v1/members/${t.admin.id}` });
      assert.equal(memberAttempt.statusCode, 403);
      const removed = await admin.request({ method: 'DELETE', url: `/api/v1/members/${created.id}` });
      assert.equal(removed.statusCode, 200, removed.body);
      assert.equal((await leaver.request({ method: 'GET', url: '/api/v1/me' })).statusCode, 401, 'the session ended');
      assert.equal(
        (await t.app.inject({ method: 'GET', url: '/api/v1/runners', headers: { authorization: `Bearer ${token}` } })).statusCode,
        401,
        'the token ended',
      );
      assert.equal((await t.core.identity.memberships(created.id)).length, 0);

      // The last admin: not removable, not demotable, cannot leave.
      const admins = (await t.core.identity.members(t.organizationId)).filter((m) => m.role === 'admin');
      assert.equal(admins.length, 1);
      const removeLast = await admin.request({ method: 'DELETE', url: `/api/v1/members/${t.admin.id}` });
      assert.equal(removeLast.statusCode, 409);
      assert.equal(removeLast.json().error.code, 'last_admin');
      const demoteLast = await admin.request({ method: 'PUT', url: `/api/v1/members/${t.admin.id}/role`, payload: { role: 'member' } });
      assert.equal(demoteLast.statusCode, 409);
      const leaveLast = await admin.request({ method: 'DELETE', url: `/api/v1/me/organizations/${t.organizationId}` });
      assert.equal(leaveLast.statusCode, 409);
    });

    it('keeps an admin when two admins demote each other at the same moment', async () => {
      const org = await t.core.identity.createOrganization(`Race ${kind}`, t.admin.id);
      const a = await t.core.identity.createUser({
        email: `race-a-${kind}@acme.test`,
        password: STRONG(),
        organizationId: org.id,
        role: 'admin',
      });
      const b = await t.core.identity.createUser({
        email: `race-b-${kind}@acme.test`,
        password: STRONG(),
        organizationId: org.id,
        role: 'admin',
      });
      await t.database.db.deleteFrom('memberships').where('organization_id', '=', org.id).where('user_id', '=', t.admin.id).execute();
      const actor = (userId: string) => ({
        kind: 'user' as const,
        userId,
        email: 'x',
        operator: false,
        organizationId: org.id,
        role: 'admin' as const,
        via: 'session' as const,
      });
      const results = await Promise.allSettled([
        t.core.organizations.setRole(actor(a.id), b.id, 'member'),
        t.core.organizations.setRole(actor(b.id), a.id, 'member'),
      ]);
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'exactly one demotion wins');
      const admins = (await t.core.identity.members(org.id)).filter((m) => m.role === 'admin');
      assert.equal(admins.length, 1);
    });

    it('lets a member leave; their sessions there end', async () => {
      const { email, password, browser: quitter } = await signedInNewcomer(t, `quitter-${kind}@acme.test`, 'member');
      const left = await quitter.request({ method: 'DELETE', url: `/api/v1/me/organizations/${t.organizationId}` });
      assert.equal(left.statusCode, 200, left.body);
      assert.equal((await quitter.request({ method: 'GET', url: '/api/v1/me' })).statusCode, 401);
      // Signed in into no organization (so that a new invitation can be accepted): nothing of the one it left is reachable.
      const again = await signedIn(t, email, password);
      assert.equal(again.res.statusCode, 200, again.res.body);
      assert.equal(again.res.json().organizationChoiceRequired, true, 'an account in no organization signs in into none');
      assert.equal((await again.browser.request({ method: 'GET', url: '/api/v1/runners' })).statusCode, 409);
    });

    it('disables an account (operators only): sessions and tokens end and it cannot sign in again', async () => {
      const { email, password, user: created, browser: victim } = await signedInNewcomer(t, `disabled-${kind}@acme.test`, 'member');
      const token = await apiToken(victim, 'x');
      const member = (await signedIn(t, t.member.email, t.member.password)).browser;
      assert.equal(
        (await member.request({ method: 'PUT', url: `/api/v1/users/${created.id}/disabled`, payload: { disabled: true } })).statusCode,
        403,
      );
      const disabled = await admin.request({ method: 'PUT', url: `/api/v1/users/${created.id}/disabled`, payload: { disabled: true } });
      assert.equal(disabled.statusCode, 200, disabled.body);
      assert.equal((await victim.request({ method: 'GET', url: '/api/v1/me' })).statusCode, 401);
      assert.equal(
        (await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: `Bearer ${token}` } })).statusCode,
        401,
      );
      const signIn = await signedIn(t, email, password);
      assert.equal(signIn.res.statusCode, 401);
      assert.equal(signIn.res.json().error.message, 'email or password is wrong');
    });

    it('changes a password only from a browser session with the current password, refusing weak ones, and ends every other session and token', async () => {
      const { email, password, browser: first } = await signedInNewcomer(t, `changer-${kind}@acme.test`, 'member');
      const second = (await signedIn(t, email, password)).browser;
      const token = await apiToken(first, 'x');

      const byToken = await t.app.inject({
        method: 'PUT',
        url: '/api/v1/me/password',
        headers: { authorization: `Bearer ${token}` },
        payload: { password: STRONG() },
      });
      assert.equal(byToken.statusCode, 403);
      const noCurrent = await first.request({ method: 'PUT', url: '/api/v1/me/password', payload: { password: STRONG() } });
      assert.equal(noCurrent.statusCode, 403);
      assert.equal(noCurrent.json().error.code, 'reauthentication_required');
      const wrongCurrent = await first.request({
        method: 'PUT',
        url: '/api/v1/me/password',
        payload: { currentPassword: 'not-my-password-at-all', password: STRONG() },
      });
      assert.equal(wrongCurrent.statusCode, 403);
      assert.equal(wrongCurrent.json().error.code, 'current_password_wrong');
      for (const weak of ['            ', 'password1234', 'qwertyuiop12']) {
        const res = await first.request({
          method: 'PUT',
          url: '/api/v1/me/password',
          payload: { currentPassword: password, password: weak },
        });
        assert.equal(res.statusCode, 400, weak);
        assert.equal(res.json().error.code, 'weak_password');
      }
      const next = STRONG();
      const changed = await first.request({
        method: 'PUT',
        url: '/api/v1/me/password',
        payload: { currentPassword: password, password: next },
      });
      assert.equal(changed.statusCode, 200, changed.body);
      assert.ok(changed.json().endedSessions >= 1);
      assert.ok(changed.json().revokedTokens >= 1);
      assert.equal((await first.request({ method: 'GET', url: '/api/v1/me' })).statusCode, 200, 'the session that changed it stays');
      assert.equal((await second.request({ method: 'GET', url: '/api/v1/me' })).statusCode, 401, 'other sessions end');
      assert.equal(
        (await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: `Bearer ${token}` } })).statusCode,
        401,
        'tokens end',
      );
      assert.equal((await signedIn(t, email, password)).res.statusCode, 401);
      assert.equal((await signedIn(t, email, next)).res.statusCode, 200);
    });

    it('throttles guesses at the current password like sign-ins', async () => {
      const { browser: thief } = await signedInNewcomer(t, `guessed-${kind}@acme.test`, 'member', '10.77.0.1');
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          thief.request({
            method: 'PUT',
            url: '/api/v1/me/password',
            payload: { currentPassword: `guess-number-${i}-wrong`, password: STRONG() },
          }),
        ),
      );
      const checked = results.filter((r) => r.statusCode === 403).length;
      assert.ok(checked <= 5, `${checked} guesses were checked`);
      assert.ok(results.some((r) => r.statusCode === 429));
    });

    it('never lets an API token mint a token, and never issues one that does not expire', async () => {
      const member = (await signedIn(t, t.member.email, t.member.password)).browser;
      const created = await member.request({ method: 'POST', url: '/api/v1/api-tokens', payload: { name: 'one day', expiresInDays: 1 } });
      assert.equal(created.statusCode, 201);
      const token = created.json().token as string;
      const child = await t.app.inject({
        method: 'POST',
        url: '/api/v1/api-tokens',
        headers: { authorization: `Bearer ${token}` },
        payload: { name: 'forever' },
      });
      assert.equal(child.statusCode, 403);
      const noExpiry = await member.request({ method: 'POST', url: '/api/v1/api-tokens', payload: { name: 'default' } });
      assert.ok(noExpiry.json().expiresAt, 'a token without expiresInDays still expires');
      const tooLong = await member.request({ method: 'POST', url: '/api/v1/api-tokens', payload: { name: 'long', expiresInDays: 5000 } });
      assert.equal(tooLong.statusCode, 400);
    });

    it("lets a token act with its person's current role only", async () => {
      const { user: created, browser: person } = await signedInNewcomer(t, `demoted-${kind}@acme.test`, 'admin');
      const token = await apiToken(person, 'admin automation');
      const asAdmin = await t.app.inject({
        method: 'GET',
        url: '/api/v1/audit-events?limit=1',
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(asAdmin.statusCode, 200);
      assert.equal(
        (await admin.request({ method: 'PUT', url: `/api/v1/members/${created.id}/role`, payload: { role: 'member' } })).statusCode,
        204,
      );
      const afterDemotion = await t.app.inject({
        method: 'GET',
        url: '/api/v1/audit-events?limit=1',
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(afterDemotion.statusCode, 403);
    });

    it('admits at most 5 password checks out of 50 parallel guesses, and the right password after them is refused too', async () => {
      const email = `target-${kind}@acme.test`;
      const password = STRONG();
      await t.core.identity.createUser({ email, password, organizationId: t.organizationId, role: 'member' });
      const guesses = Array.from({ length: 50 }, (_, i) => (i === 27 ? password : `wrong-guess-${i}-long`));
      const results = await Promise.all(
        guesses.map((g) =>
          t.app.inject({ method: 'POST', url: '/api/v1/auth/sign-in', payload: { email, password: g }, remoteAddress: '10.66.0.1' }),
        ),
      );
      const checked = results.filter((r) => r.statusCode !== 429).length;
      assert.ok(checked <= 5, `${checked} of 50 parallel attempts were checked`);
      assert.ok(results.filter((r) => r.statusCode === 429).length >= 45);
      const limited = results.find((r) => r.statusCode === 429)!;
      assert.ok(Number(limited.headers['retry-after']) > 0);
    });

    it('slows the attacking address and account pair without locking the owner out of their own address', async () => {
      const email = `owner-${kind}@acme.test`;
      const password = STRONG();
      await t.core.identity.createUser({ email, password, organizationId: t.organizationId, role: 'member' });
      assert.equal((await signedIn(t, email, password, '10.55.0.1')).res.statusCode, 200, 'the owner signs in from home once');
      // An attacker guesses from 10 other addresses until each is refused.
      for (let a = 0; a < 10; a++) {
        for (let i = 0; i < 6; i++) await signInAttempt(t, email, `nope-${a}-${i}-long`, `10.44.${a}.1`);
      }
      const attacker = await signInAttempt(t, email, password, '10.44.0.1');
      assert.equal(attacker.statusCode, 429, 'the attacking address is throttled even with the right password');
      const fresh = await signInAttempt(t, email, password, '10.33.0.9');
      assert.equal(fresh.statusCode, 429, 'a distributed guess throttles the account for addresses it never used');
      const owner = await signedIn(t, email, password, '10.55.0.1');
      assert.equal(owner.res.statusCode, 200, 'the owner still signs in from the address they used before');
    });

    it('lets an account removed from its last organization sign in into none, and accept a new invitation there', async () => {
      const email = `returning-${kind}@acme.test`;
      const password = STRONG();
      const created = await t.core.identity.createUser({ email, password, organizationId: t.organizationId, role: 'member' });
      assert.equal((await admin.request({ method: 'DELETE', url: `/api/v1/members/${created.id}` })).statusCode, 200);
      // Before the fix this answered 403 "accept an invitation first", which needs exactly this sign-in.
      const { browser, res } = await signedIn(t, email, password);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().organizationChoiceRequired, true);
      const me = (await browser.request({ method: 'GET', url: '/api/v1/me' })).json();
      assert.equal(me.organization, null);
      assert.deepEqual(me.organizations, []);
      const scoped = await browser.request({ method: 'GET', url: '/api/v1/members' });
      assert.equal(scoped.statusCode, 409, 'nothing of the old organization is reachable');
      assert.equal(scoped.json().error.code, 'organization_required');
      // A wrong password is refused as before.
      const wrong = await t.app.inject({ method: 'POST', url: '/api/v1/auth/sign-in', payload: { email, password: `${password}-wrong` } });
      assert.equal(wrong.statusCode, 401);

      const invitation = await invite(t, admin, email);
      const accepted = await browser.request({ method: 'POST', url: '/api/v1/invitations/accept', payload: { token: invitation.token } });
      assert.equal(accepted.statusCode, 200, accepted.body);
      assert.equal(accepted.json().switched, true);
      assert.equal((await browser.request({ method: 'GET', url: '/api/v1/members' })).statusCode, 200);
    });

    it('lets an admin decide who creates projects', async () => {
      const member = (await signedIn(t, t.member.email, t.member.password)).browser;
      const mayCreate = async (who: Browser) => (await who.request({ method: 'GET', url: '/api/v1/projects' })).json().mayCreate as boolean;
      assert.equal(await mayCreate(member), false, 'the list tells a member they may not create projects');
      assert.equal(await mayCreate(admin), true);
      const refused = await member.request({ method: 'POST', url: '/api/v1/projects', payload: { name: `By member ${kind}` } });
      assert.equal(refused.statusCode, 403);
      const byMember = await member.request({
        method: 'PUT',
        url: '/api/v1/organization/settings',
        payload: { projectCreation: 'members' },
      });
      assert.equal(byMember.statusCode, 403, 'members cannot change the policy');
      const open = await admin.request({ method: 'PUT', url: '/api/v1/organization/settings', payload: { projectCreation: 'members' } });
      assert.equal(open.statusCode, 200, open.body);
      try {
        assert.equal(await mayCreate(member), true, 'and that they may once the policy allows it');
        const created = await member.request({ method: 'POST', url: '/api/v1/projects', payload: { name: `By member ${kind}` } });
        assert.equal(created.statusCode, 201, created.body);
        assert.equal(created.json().role, 'owner');
      } finally {
        await admin.request({ method: 'PUT', url: '/api/v1/organization/settings', payload: { projectCreation: 'admins' } });
      }
      const events = await t.core.audit.list(t.organizationId, { limit: 5, action: 'organization.settings_change' });
      assert.ok(events.events.length >= 2);
    });

    it('limits runner exchanges per address and keeps their audit bounded', async () => {
      const before = await t.database.db
        .selectFrom('audit_events')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('action', '=', 'runner.register')
        .executeTakeFirstOrThrow();
      const results = [];
      for (let i = 0; i < 60; i++) {
        results.push(
          await t.app.inject({
            method: 'POST',
            url: '/api/v1/runner/exchange',
            payload: { exchangeToken: `kwx_${'x'.repeat(43)}`, publicKey: 'AAAA', version: 'x' },
            remoteAddress: '10.22.0.1',
          }),
        );
      }
      assert.ok(results.slice(0, 20).every((r) => r.statusCode !== 429));
      assert.ok(
        results.slice(21).every((r) => r.statusCode === 429),
        'past 20 a minute the address is refused',
      );
      const after = await t.database.db
        .selectFrom('audit_events')
        .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.sum<number>('occurrences').as('total')])
        .where('action', '=', 'runner.register')
        .executeTakeFirstOrThrow();
      assert.ok(Number(after.n) - Number(before.n) <= 2, `${Number(after.n) - Number(before.n)} audit rows for 60 attempts`);
      assert.ok(Number(after.total) >= 20, 'the attempts are counted');
    });

    it('counts requests that authentication refuses against the address', async () => {
      let last = 0;
      for (let i = 0; i < 605 && last !== 429; i++) {
        last = (
          await t.app.inject({
            method: 'GET',
            url: '/api/v1/me',
            headers: { authorization: `Bearer kw_${'Z'.repeat(43)}` },
            remoteAddress: '10.11.0.1',
          })
        ).statusCode;
      }
      assert.equal(last, 429);
      const rows = await t.database.db
        .selectFrom('audit_events')
        .selectAll()
        .where('action', '=', 'authentication.token_refused')
        .where('ip', '=', '10.11.0.1')
        .execute();
      assert.ok(rows.length >= 1 && rows.length <= 2, 'refused tokens are audited, one row per minute');
    });
  });
}

for (const { kind, skip } of await databaseKinds()) {
  describe(`front door over https and behind proxies (${kind})`, { skip }, () => {
    it('sends HSTS and a __Host- session cookie when the public URL is https', async () => {
      const t = await startTestManagement(kind, { publicUrl: 'https://keyway.example.test' });
      try {
        const res = await t.app.inject({
          method: 'POST',
          url: '/api/v1/auth/sign-in',
          payload: { email: t.member.email, password: t.member.password },
        });
        assert.equal(res.statusCode, 200);
        assert.match(String(res.headers['strict-transport-security']), /max-age=\d{7,}/);
        const cookie = res.cookies.find((c) => c.name === '__Host-keyway_session');
        assert.ok(cookie, 'the session cookie has the __Host- prefix');
        assert.equal(cookie.secure, true);
        assert.equal(cookie.path, '/');
        assert.equal(cookie.domain, undefined);
        const me = await t.app.inject({ method: 'GET', url: '/api/v1/me', cookies: { '__Host-keyway_session': cookie.value } });
        assert.equal(me.statusCode, 200);
        const plain = await t.app.inject({ method: 'GET', url: '/api/v1/me', cookies: { keyway_session: cookie.value } });
        assert.equal(plain.statusCode, 401, 'the unprefixed name is not read over https');
      } finally {
        await t.close();
      }
    });

    it('believes X-Forwarded-For only from the configured proxy', async () => {
      const t = await startTestManagement(kind, { trustProxy: ['10.0.0.5'] });
      try {
        const failedSignIn = (remoteAddress: string, forwardedFor: string) =>
          t.app.inject({
            method: 'POST',
            url: '/api/v1/auth/sign-in',
            payload: { email: 'x@acme.test', password: 'wrong-password-long' },
            remoteAddress,
            headers: { 'x-forwarded-for': forwardedFor },
          });
        const forged = await failedSignIn('10.9.9.9', '1.2.3.4');
        assert.equal(forged.statusCode, 401);
        const viaProxy = await failedSignIn('10.0.0.5', '5.6.7.8');
        assert.equal(viaProxy.statusCode, 401);
        const ips = (await t.database.db.selectFrom('audit_events').select('ip').where('action', '=', 'session.sign_in').execute()).map(
          (r) => r.ip,
        );
        assert.ok(ips.includes('10.9.9.9'), 'a client not behind the proxy is recorded as itself');
        assert.ok(!ips.includes('1.2.3.4'), 'its forged header is ignored');
        assert.ok(ips.includes('5.6.7.8'), "the proxy's forwarded address is believed");
      } finally {
        await t.close();
      }
    });
  });
}
