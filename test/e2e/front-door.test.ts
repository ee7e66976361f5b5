import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Page } from 'playwright-core';
import { assertNoHorizontalScroll, e2eSkip, focused, gone, visible } from './support.ts';
import { startedE2E } from '../support/e2e-session.ts';
import type { DemoInfo } from './support.ts';

// The front door, against `keyway start --demo`: "Sign in with Microsoft" through the emulator's
// Entra page (the demo tenant is bound to the organization, so its user joins just in time), an
// operator creating organizations, invitations sent, refused to the wrong account and accepted by
// signing in or by creating the account, a member removed and an invitation revoked, the chooser of
// a person in two organizations, the Account page's sessions ("sign out everywhere") and password
// change, and the organization settings. Runs in order; each step builds on the last.

const strong = () => `front door ${randomBytes(6).toString('hex')} keyway`;
const PAT = { email: 'pat@example.test', name: 'Pat Newcomer', password: strong() };
const SECOND = 'Second Org';
const THIRD = 'Third Org';

async function heading(page: Page, name: string, level = 1) {
  return visible(page.getByRole('heading', { level, name, exact: true }));
}

const nav = (page: Page) => page.getByRole('navigation', { name: 'Main' });

async function signInWithPassword(page: Page, email: string, password: string) {
  await page.goto('/sign-in');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** On the emulator's Entra sign-in page: pick the demo user, give the password if asked, accept. */
async function signInAtEmulator(page: Page, demo: DemoInfo) {
  const user = page.locator(`[data-testid="user-${demo.entraUpn}"]`);
  await user.waitFor();
  await user.check();
  const password = page.locator('[data-testid="password"]');
  if ((await password.count()) > 0 && (await password.isVisible())) await password.fill(demo.entraPassword);
  await page.locator('[data-testid="accept"]').click();
}

/** The invitation link an admin creates on the Members page (shown once), then dismissed. */
async function invite(admin: Page, email: string, role: 'member' | 'admin' = 'member'): Promise<string> {
  await nav(admin).getByRole('link', { name: 'Members' }).click();
  await heading(admin, 'Members');
  const card = admin.getByRole('region', { name: 'Invite someone' });
  await card.getByLabel('Email').fill(email);
  await card.getByLabel('Role').selectOption(role);
  await card.getByRole('button', { name: 'Invite' }).click();
  const link = await (await visible(admin.getByRole('textbox', { name: 'Invitation link' }))).inputValue();
  assert.match(link, /\/invitations\/accept#token=kwi_/);
  await admin.getByRole('button', { name: 'Done, I have sent it' }).click();
  await gone(admin.getByRole('textbox', { name: 'Invitation link' }));
  return link;
}

async function switchOrganization(page: Page, name: string, role: 'admin' | 'member') {
  await page
    .getByRole('banner')
    .getByLabel('Organization')
    .selectOption({ label: `${name} (${role})` });
  await page.waitForURL(role === 'admin' ? /\/runners$/ : /\/open$/);
}

describe('web UI: the front door (demo mode)', { skip: e2eSkip() }, () => {
  let demo: DemoInfo;
  let admin: Page;
  let pat: Page;
  let secondInvitation = '';
  let thirdInvitation = '';

  const e2e = startedE2E({ demo: true }, async () => {
    demo = e2e.demo!;
    admin = (await e2e.newPage()).page;
    pat = (await e2e.newPage()).page;
  });

  it('signs in with Microsoft through the emulator: the demo Entra user joins as a member and lands on Open a repository', async () => {
    const { page, context } = await e2e.newPage();
    await page.goto('/sign-in');
    await heading(page, 'Sign in');
    const microsoft = await visible(page.getByRole('button', { name: 'Sign in with Microsoft' }));
    await e2e.screenshot(page, 'sign-in-sso');
    await e2e.checkA11y(page, 'sign-in with single sign-on');
    await microsoft.click();
    await page.waitForURL((url) => url.origin !== e2e.url);
    await e2e.screenshot(page, 'sign-in-sso-emulator');
    await signInAtEmulator(page, demo);
    await page.waitForURL(`${e2e.url}/open`);
    await heading(page, 'Open a repository');
    const banner = page.getByRole('banner');
    await visible(banner.getByText('Demo User'));
    await visible(banner.getByText('member', { exact: true }));

    // `next` travels through the provider as returnTo.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await heading(page, 'Sign in');
    await page.goto('/environments');
    await page.waitForURL(/\/sign-in\?next=%2Fenvironments$/);
    await page.getByRole('button', { name: 'Sign in with Microsoft' }).click();
    await signInAtEmulator(page, demo);
    await page.waitForURL(`${e2e.url}/environments`);
    await heading(page, 'Environments');

    // Just signed in with Microsoft: the account has no password, and may set one without a current one.
    await nav(page).getByRole('link', { name: 'Account' }).click();
    await heading(page, 'Account');
    const signIns = page.getByRole('region', { name: 'Linked sign-ins' });
    await visible(signIns.getByRole('cell', { name: 'Microsoft', exact: true }));
    await visible(signIns.getByRole('cell', { name: demo.tenantId }));
    const password = page.getByRole('region', { name: 'Set a password' });
    await visible(password.getByText('no current password is needed'));
    assert.equal(await password.getByLabel('Current password').count(), 0);
    await e2e.screenshot(page, 'account-sso-user');
    await e2e.checkA11y(page, 'account (single sign-on user)');
    await context.close();
  });

  it('sets a password right after signing in with Microsoft; having forgotten it, signs in again with Microsoft to set another', async () => {
    const { page, context } = await e2e.newPage();
    await page.goto('/sign-in');
    await page.getByRole('button', { name: 'Sign in with Microsoft' }).click();
    await signInAtEmulator(page, demo);
    await page.waitForURL(`${e2e.url}/open`);
    await nav(page).getByRole('link', { name: 'Account' }).click();
    const set = page.getByRole('region', { name: 'Set a password' });
    const first = strong();
    await set.getByLabel('New password', { exact: true }).fill(first);
    await set.getByLabel('Repeat the new password').fill(first);
    await set.getByRole('button', { name: 'Set password' }).click();
    await visible(page.getByText('Your password was set.', { exact: false }));

    // Later, signed in with that password: changing it asks for it, or for Microsoft again.
    await page.getByRole('banner').getByRole('button', { name: 'Sign out' }).click();
    await signInWithPassword(page, demo.entraUpn, first);
    await visible(page.getByRole('banner').getByText('Demo User'));
    await nav(page).getByRole('link', { name: 'Account' }).click();
    const change = page.getByRole('region', { name: 'Change your password' });
    await visible(change.getByLabel('Current password'));
    await change.getByRole('button', { name: 'Sign in again with Microsoft' }).click();
    await signInAtEmulator(page, demo);
    await page.waitForURL(`${e2e.url}/account`);
    await visible(page.getByText('You signed in again.', { exact: false }));
    assert.equal(await change.getByLabel('Current password').count(), 0, 'the fresh sign-in stands in for the forgotten password');
    const second = strong();
    await change.getByLabel('New password', { exact: true }).fill(second);
    await change.getByLabel('Repeat the new password').fill(second);
    await change.getByRole('button', { name: 'Change password' }).click();
    await visible(change.getByText('Your password was changed.', { exact: false }));
    await e2e.screenshot(page, 'account-reauthenticated');
    await e2e.checkA11y(page, 'account (signed in again with Microsoft)');
    await context.close();
  });

  it('an instance operator creates two organizations on the Instance page', async () => {
    await admin.goto(e2e.signInLink);
    await admin.waitForURL(`${e2e.url}/runners`);
    await nav(admin).getByRole('link', { name: 'Instance' }).click();
    await heading(admin, 'Instance');
    // The Entra user who joined just in time is an account of this instance.
    await visible(admin.getByRole('region', { name: 'Accounts' }).getByRole('cell', { name: demo.entraUpn }));
    for (const name of [SECOND, THIRD]) {
      await admin.getByLabel('Organization name').fill(name);
      await admin.getByRole('button', { name: 'Create organization' }).click();
      await visible(admin.getByText(`${name} was created, with you as its admin.`));
    }
    await visible(admin.getByRole('region', { name: 'Organizations' }).getByRole('cell', { name: THIRD, exact: true }));
    // The header's switcher knows them at once.
    const switcher = admin.getByRole('banner').getByLabel('Organization');
    await switcher.locator('option', { hasText: THIRD }).waitFor({ state: 'attached' });
    const options = await switcher.locator('option').allTextContents();
    assert.deepEqual(options.sort(), ['Default (admin)', `${SECOND} (admin)`, `${THIRD} (admin)`]);
    await e2e.screenshot(admin, 'instance');
    await e2e.checkA11y(admin, 'instance');
  });

  it('the admin invites someone; the link is shown once; they accept it by creating their account', async () => {
    await nav(admin).getByRole('link', { name: 'Members' }).click();
    await heading(admin, 'Members');
    const card = admin.getByRole('region', { name: 'Invite someone' });
    // Nothing entered: said next to the field.
    await card.getByRole('button', { name: 'Invite' }).click();
    await visible(card.getByText('Enter the email address of the person to invite.'));
    assert.equal(await card.getByLabel('Email').getAttribute('aria-invalid'), 'true');
    await card.getByLabel('Email').fill(PAT.email);
    await card.getByRole('button', { name: 'Invite' }).click();
    const link = await (await visible(admin.getByRole('textbox', { name: 'Invitation link' }))).inputValue();
    assert.match(link, new RegExp(`^${e2e.url}/invitations/accept#token=kwi_`));
    await visible(admin.getByRole('button', { name: 'Copy invitation link' }));
    assert.equal((await focused(admin)).tag, 'h2', 'focus moves to the new link');
    await e2e.screenshot(admin, 'invitation-created');
    await e2e.checkA11y(admin, 'invitation created');
    await admin.getByRole('button', { name: 'Done, I have sent it' }).click();
    await gone(admin.getByRole('textbox', { name: 'Invitation link' }));
    assert.ok(!(await admin.content()).includes(link.split('#token=')[1]!), 'the link is not shown again');
    const invitations = admin.getByRole('region', { name: 'Invitations' });
    await visible(invitations.getByRole('row', { name: new RegExp(PAT.email) }).getByText('Waiting'));

    // The invited person opens the link: the token leaves the address bar at once.
    await pat.goto(link);
    await heading(pat, 'Join Default');
    assert.equal(pat.url(), `${e2e.url}/invitations/accept`, 'no token in the address bar');
    await visible(pat.getByText(PAT.email).first());
    await e2e.screenshot(pat, 'invitation-signed-out');
    await e2e.checkA11y(pat, 'invitation (signed out)');
    const register = pat.getByRole('form', { name: 'Create your account' });
    await register.getByLabel('Your name').fill(PAT.name);
    await register.getByLabel('Choose a password').fill('password1234');
    await register.getByLabel('Repeat the password').fill('password1234');
    await register.getByRole('button', { name: 'Create account and join' }).click();
    await visible(register.getByText(/Password is too weak/));
    assert.equal(await register.getByLabel('Choose a password').getAttribute('aria-invalid'), 'true');
    await register.getByLabel('Choose a password').fill(PAT.password);
    await register.getByLabel('Repeat the password').fill(PAT.password);
    await register.getByRole('button', { name: 'Create account and join' }).click();
    await pat.waitForURL(`${e2e.url}/open`);
    await visible(pat.getByRole('banner').getByText(PAT.name));

    await admin.reload();
    await heading(admin, 'Members');
    await visible(invitations.getByRole('row', { name: new RegExp(PAT.email) }).getByText('Accepted'));
    const row = admin.getByRole('region', { name: 'Members', exact: true }).getByRole('row', { name: new RegExp(PAT.email) });
    await visible(row.getByRole('cell', { name: 'Invitation', exact: true }));
  });

  it('an invitation opened by the wrong account is refused; signing out and in as the invited person accepts it', async () => {
    await switchOrganization(admin, SECOND, 'admin');
    secondInvitation = await invite(admin, PAT.email);

    // The demo member opens Pat's link while signed in.
    const { page: other, context } = await e2e.newPage();
    await signInWithPassword(other, demo.memberEmail, demo.memberPassword);
    await other.waitForURL(`${e2e.url}/open`);
    await other.goto(secondInvitation);
    await heading(other, `Join ${SECOND}`);
    const refusal = await visible(
      other.getByText(`This invitation is for ${PAT.email}, but you are signed in as ${demo.memberEmail}.`, { exact: false }),
    );
    assert.ok(refusal);
    assert.equal(await other.getByRole('button', { name: /^Accept/ }).count(), 0, 'no way to accept it as someone else');
    await e2e.screenshot(other, 'invitation-wrong-account');
    await e2e.checkA11y(other, 'invitation (wrong account)');

    // Sign out on the page: the invitation stays, and Pat signs in right there.
    await other.getByRole('button', { name: 'Sign out' }).click();
    const signIn = await visible(other.getByRole('form', { name: 'Sign in with your Keyway account' }));
    assert.equal(await signIn.getByLabel('Email').inputValue(), PAT.email, 'the invited address is filled in');
    await signIn.getByLabel('Password').fill(PAT.password);
    await signIn.getByRole('button', { name: 'Sign in', exact: true }).click();
    const accept = await visible(other.getByRole('button', { name: `Accept and join ${SECOND}` }));
    await e2e.screenshot(other, 'invitation-accept');
    await e2e.checkA11y(other, 'invitation (accept)');
    await accept.click();
    await other.waitForURL(`${e2e.url}/open`);
    assert.equal(await other.getByRole('banner').getByLabel('Organization').locator('option:checked').textContent(), `${SECOND} (member)`);
    await other.getByRole('button', { name: 'Sign out' }).click();
    await heading(other, 'Sign in');
    await context.close();

    // The link works once.
    const { page: again, context: second } = await e2e.newPage();
    await again.goto(secondInvitation);
    await heading(again, 'This invitation cannot be used');
    await visible(again.getByText('This invitation was accepted already', { exact: false }));
    await second.close();
  });

  it('the admin revokes an invitation; its link stops working', async () => {
    const link = await invite(admin, 'nobody@example.test');
    const row = admin.getByRole('region', { name: 'Invitations' }).getByRole('row', { name: /nobody@example\.test/ });
    await row.getByRole('button', { name: 'Revoke the invitation for nobody@example.test' }).click();
    const dialog = await visible(admin.getByRole('dialog', { name: 'Revoke the invitation for nobody@example.test?' }));
    assert.equal((await focused(admin)).text, 'Cancel');
    await e2e.checkA11y(admin, 'revoke an invitation');
    await dialog.getByRole('button', { name: 'Revoke invitation' }).click();
    await gone(dialog);
    await visible(admin.getByText('The invitation for nobody@example.test was revoked; its link no longer works.'));
    await visible(row.getByText('Revoked'));
    assert.equal(await row.getByRole('button').count(), 0);
    const { page, context } = await e2e.newPage();
    await page.goto(link);
    await heading(page, 'This invitation cannot be used');
    await visible(page.getByText('This invitation is not valid', { exact: false }));
    await context.close();
  });

  it('the signed-in person accepts a third invitation on their own', async () => {
    await switchOrganization(admin, THIRD, 'admin');
    thirdInvitation = await invite(admin, PAT.email);
    await pat.goto(thirdInvitation);
    await heading(pat, `Join ${THIRD}`);
    await pat.getByRole('button', { name: `Accept and join ${THIRD}` }).click();
    await pat.waitForURL(`${e2e.url}/open`);
    await nav(pat).getByRole('link', { name: 'Account' }).click();
    const organizations = pat.getByRole('region', { name: 'Your organizations' });
    for (const name of ['Default', SECOND, THIRD]) await visible(organizations.getByRole('cell', { name, exact: true }));
    await visible(organizations.getByRole('row', { name: new RegExp(THIRD) }).getByText('Current'));
  });

  it('the admin removes a member after confirming; their session there ends, and the last admin stays', async () => {
    // The Members page is still open from the invitation: Pat joined since.
    await admin.reload();
    await heading(admin, 'Members');
    const members = admin.getByRole('region', { name: 'Members', exact: true });
    await visible(members.getByRole('cell', { name: PAT.email }));
    await members.getByRole('button', { name: `Remove ${PAT.name} from ${THIRD}` }).click();
    const dialog = await visible(admin.getByRole('dialog', { name: `Remove ${PAT.name} from ${THIRD}?` }));
    await visible(dialog.getByText(`Their sessions and API tokens in ${THIRD} end.`));
    assert.equal((await focused(admin)).text, 'Cancel', 'Cancel is focused first');
    await e2e.screenshot(admin, 'member-remove');
    await e2e.checkA11y(admin, 'remove a member');
    await dialog.getByRole('button', { name: 'Remove from organization' }).click();
    await gone(dialog);
    await visible(admin.getByText(`${PAT.name} was removed from ${THIRD}.`, { exact: false }));
    await gone(members.getByRole('cell', { name: PAT.email }));

    // Pat's session was in Third Org: it ended.
    await nav(pat).getByRole('link', { name: 'Projects' }).click();
    await heading(pat, 'Sign in');
    await visible(pat.getByText('Your session has ended. Sign in again.'));

    // The admin is Third Org's only admin: leaving is refused, with the server's reason.
    await nav(admin).getByRole('link', { name: 'Account' }).click();
    await admin
      .getByRole('region', { name: 'Your organizations' })
      .getByRole('button', { name: `Leave ${THIRD}` })
      .click();
    const leave = await visible(admin.getByRole('dialog', { name: `Leave ${THIRD}?` }));
    await leave.getByRole('button', { name: 'Leave organization' }).click();
    await visible(leave.getByRole('alert').getByText(`${THIRD} would have no admin left; make someone else an admin first`));
    await leave.getByRole('button', { name: 'Cancel' }).click();
    await gone(leave);
    await switchOrganization(admin, 'Default', 'admin');
  });

  it('a person in two organizations, with none remembered, chooses one after signing in', async () => {
    await signInWithPassword(pat, PAT.email, PAT.password);
    await heading(pat, 'Choose an organization');
    // Nothing of an organization is shown before the choice.
    assert.equal(await pat.getByRole('navigation', { name: 'Main' }).count(), 0);
    const choices = pat.getByRole('list', { name: 'Your organizations' });
    assert.equal(await choices.getByRole('button').count(), 2);
    await e2e.screenshot(pat, 'organization-chooser');
    await e2e.checkA11y(pat, 'organization chooser');
    await pat.setViewportSize({ width: 400, height: 860 });
    await assertNoHorizontalScroll(pat, 'organization chooser at 400 px');
    await pat.setViewportSize({ width: 1280, height: 900 });
    await choices.getByRole('button', { name: new RegExp(`^${SECOND}`) }).click();
    // Back to the page Pat was last on.
    await pat.waitForURL(`${e2e.url}/projects`);
    await heading(pat, 'Projects');
    const switcher = pat.getByRole('banner').getByLabel('Organization');
    assert.equal(await switcher.locator('option:checked').textContent(), `${SECOND} (member)`);
    // The header's switcher still moves between them.
    await switcher.selectOption({ label: 'Default (member)' });
    await pat.waitForURL(`${e2e.url}/open`);
    assert.equal(await switcher.locator('option:checked').textContent(), 'Default (member)');
  });

  it('lists sessions on the Account page, signs one out, then signs out everywhere', async () => {
    const { page: laptop, context } = await e2e.newPage();
    await signInWithPassword(laptop, PAT.email, PAT.password);
    await laptop.waitForURL(`${e2e.url}/open`);

    await nav(pat).getByRole('link', { name: 'Account' }).click();
    await heading(pat, 'Account');
    const sessions = pat.getByRole('region', { name: 'Where you are signed in' });
    const rows = sessions.locator('tbody tr');
    await visible(rows.nth(1));
    assert.equal(await rows.count(), 2);
    await visible(sessions.getByText('This browser'));
    await e2e.screenshot(pat, 'account-sessions');
    await e2e.checkA11y(pat, 'account sessions');

    // Sign out the other one: the laptop is signed out at its next request.
    await sessions.getByRole('button', { name: /^Sign out Chrome/ }).click();
    await visible(pat.getByText(/^Signed out Chrome/));
    await gone(rows.nth(1));
    await laptop.reload();
    await heading(laptop, 'Sign in');

    await signInWithPassword(laptop, PAT.email, PAT.password);
    await laptop.waitForURL(`${e2e.url}/open`);
    await pat.reload();
    await visible(rows.nth(1));
    await sessions.getByRole('button', { name: 'Sign out everywhere' }).click();
    const dialog = await visible(pat.getByRole('dialog', { name: 'Sign out everywhere?' }));
    await dialog.getByRole('button', { name: 'Sign out everywhere' }).click();
    await heading(pat, 'Sign in');
    await visible(pat.getByText('You signed out everywhere: 2 sessions ended, this one included.'));
    await laptop.reload();
    await heading(laptop, 'Sign in');
    await context.close();
  });

  it('changes the password with the current one; other sessions end', async () => {
    const { page: laptop, context } = await e2e.newPage();
    await signInWithPassword(laptop, PAT.email, PAT.password);
    await laptop.waitForURL(`${e2e.url}/open`);
    await signInWithPassword(pat, PAT.email, PAT.password);
    await visible(pat.getByRole('banner').getByText(PAT.name));
    await nav(pat).getByRole('link', { name: 'Account' }).click();
    const card = pat.getByRole('region', { name: 'Change your password' });
    const next = strong();
    await card.getByLabel('Current password').fill('not the password at all');
    await card.getByLabel('New password', { exact: true }).fill(next);
    await card.getByLabel('Repeat the new password').fill(next);
    await card.getByRole('button', { name: 'Change password' }).click();
    await visible(card.getByText('The current password is wrong.'));
    assert.equal(await card.getByLabel('Current password').getAttribute('aria-invalid'), 'true');
    assert.equal((await focused(pat)).tag, 'input', 'focus moves to the field at fault');
    await e2e.screenshot(pat, 'account-password-wrong');
    await e2e.checkA11y(pat, 'account password (wrong current)');

    await card.getByLabel('Current password').fill(PAT.password);
    await card.getByRole('button', { name: 'Change password' }).click();
    await visible(card.getByText('Your password was changed. 1 other session was signed out and 0 API tokens were revoked.'));
    PAT.password = next;
    await laptop.reload();
    await heading(laptop, 'Sign in');
    await signInWithPassword(laptop, PAT.email, PAT.password);
    await laptop.waitForURL(`${e2e.url}/open`);
    await context.close();
  });

  it('leaves an organization from the Account page after confirming', async () => {
    const organizations = pat.getByRole('region', { name: 'Your organizations' });
    await organizations.getByRole('button', { name: `Leave ${SECOND}` }).click();
    const dialog = await visible(pat.getByRole('dialog', { name: `Leave ${SECOND}?` }));
    await e2e.checkA11y(pat, 'leave an organization');
    await dialog.getByRole('button', { name: 'Leave organization' }).click();
    await gone(dialog);
    await visible(pat.getByText(`You left ${SECOND}.`, { exact: false }));
    await gone(organizations.getByRole('cell', { name: SECOND, exact: true }));
    assert.deepEqual(await pat.getByRole('banner').getByLabel('Organization').count(), 0, 'one organization left: no switcher');
  });

  it('organization settings: who creates projects, password sign-in refused without single sign-on, bindings and role mapping', async () => {
    await nav(admin).getByRole('link', { name: 'Organization settings' }).click();
    await heading(admin, 'Organization settings');
    // Demo mode binds its tenant to Default; the redirect URI to register is shown with a copy button.
    const sso = admin.getByRole('region', { name: 'Single sign-on' });
    await visible(sso.getByRole('cell', { name: demo.tenantId.toLowerCase() }));
    assert.equal(await sso.getByRole('textbox', { name: 'Redirect URI to register' }).inputValue(), `${e2e.url}/api/v1/auth/sso/callback`);
    await visible(sso.getByRole('button', { name: 'Copy redirect URI to register' }));

    // Members may create projects: the demo member sees the form.
    const projects = admin.getByRole('region', { name: 'Projects' });
    await projects.getByLabel('Every member').check();
    await projects.getByRole('button', { name: 'Save project setting' }).click();
    await visible(projects.getByText('Every member may create projects now.'));
    await nav(pat).getByRole('link', { name: 'Projects' }).click();
    await heading(pat, 'Projects');
    await visible(pat.getByRole('button', { name: 'Create project' }));

    // A binding that is not a tenant id is explained next to the field.
    const add = admin.getByRole('region', { name: 'Bind a tenant or domain' });
    await add.getByLabel('Directory (tenant) ID').fill('contoso');
    await add.getByRole('button', { name: 'Bind' }).click();
    await visible(add.getByText(/An Entra tenant is bound by its Directory \(tenant\) ID/));
    assert.equal(await add.getByLabel('Directory (tenant) ID').getAttribute('aria-invalid'), 'true');

    // Role mapping: app roles, one value a line.
    const roles = admin.getByRole('region', { name: 'Roles from single sign-on' });
    await roles.getByLabel('Claim').selectOption('roles');
    await roles.getByLabel('Admin values').fill('Keyway.Admin\n');
    await roles.getByRole('button', { name: 'Save role mapping' }).click();
    await visible(roles.getByText('The role mapping is saved', { exact: false }));
    await e2e.screenshot(admin, 'organization-settings');
    await e2e.checkA11y(admin, 'organization settings');

    // Second Org has no single sign-on: switching password sign-in off is refused, with the reason.
    await switchOrganization(admin, SECOND, 'admin');
    await nav(admin).getByRole('link', { name: 'Organization settings' }).click();
    const signIn = admin.getByRole('region', { name: 'Sign-in' });
    await signIn.getByLabel('Members may sign in with a password').uncheck();
    await signIn.getByRole('button', { name: 'Save sign-in setting' }).click();
    await visible(signIn.getByText('Single sign-on is not set up for this organization', { exact: false }));
    assert.equal(await signIn.getByLabel('Members may sign in with a password').getAttribute('aria-invalid'), 'true');
    await e2e.checkA11y(admin, 'organization settings (refused)');
    await admin.setViewportSize({ width: 400, height: 860 });
    await assertNoHorizontalScroll(admin, 'organization settings at 400 px');
    await e2e.screenshot(admin, 'narrow-organization-settings');
    await admin.setViewportSize({ width: 1280, height: 900 });
  });

  it('with two tenants bound, "Sign in with Microsoft" asks for the work email first', async () => {
    // An operator may bind any tenant (an admin proves theirs by signing in through it).
    const add = admin.getByRole('region', { name: 'Bind a tenant or domain' });
    const tenant = randomUUID();
    await add.getByLabel('Directory (tenant) ID').fill(tenant);
    await add.getByRole('button', { name: 'Bind' }).click();
    await visible(admin.getByText(`${tenant} is bound to this organization.`));
    const bindings = admin.getByRole('region', { name: 'Bound tenants and domains' });
    await visible(bindings.getByRole('cell', { name: tenant }));

    const { page, context } = await e2e.newPage();
    await page.goto('/sign-in');
    await page.getByRole('button', { name: 'Sign in with Microsoft' }).click();
    const step = await visible(page.getByRole('form', { name: 'Sign in with Microsoft' }));
    assert.equal(
      await page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.name),
      'email',
      'focus moves to the work email',
    );
    await step.getByLabel('Work email').fill('someone@nowhere.example');
    await step.getByRole('button', { name: 'Continue with Microsoft' }).click();
    await visible(step.getByText('No organization on this Keyway signs in with Microsoft for nowhere.example', { exact: false }));
    assert.equal(await step.getByLabel('Work email').getAttribute('aria-invalid'), 'true');
    await e2e.screenshot(page, 'sign-in-sso-email');
    await e2e.checkA11y(page, 'sign-in with single sign-on (work email)');
    await step.getByLabel('Work email').fill(demo.entraUpn);
    await step.getByRole('button', { name: 'Continue with Microsoft' }).click();
    await signInAtEmulator(page, demo);
    await page.waitForURL(`${e2e.url}/open`);
    await visible(page.getByRole('banner').getByText('Demo User'));
    await context.close();

    // Unbound again: one tenant, no email step.
    await bindings.getByRole('button', { name: `Remove the binding ${tenant}` }).click();
    await admin
      .getByRole('dialog', { name: `Remove the binding ${tenant}?` })
      .getByRole('button', { name: 'Remove binding' })
      .click();
    await visible(admin.getByText(`${tenant} is no longer bound to this organization.`));
    await gone(bindings.getByRole('cell', { name: tenant }));
  });

  it('kept invitation tokens and passwords out of every URL, and sent CSRF tokens with every write', async () => {
    const publicWrites = new Set([
      '/api/v1/auth/sign-in',
      '/api/v1/auth/link',
      '/api/v1/invitations/preview',
      '/api/v1/invitations/register',
      '/api/v1/auth/sso/entra/begin',
    ]);
    for (const request of e2e.requests) {
      const url = new URL(request.url);
      assert.ok(!/kwi_|kwl_/.test(url.pathname + url.search), `no token in a path or query: ${request.url}`);
      assert.ok(!request.url.includes(PAT.password), 'passwords stay out of URLs');
      if (request.method !== 'GET' && url.origin === e2e.url && url.pathname.startsWith('/api/') && !publicWrites.has(url.pathname)) {
        assert.ok(request.headers['x-csrf-token'], `${request.method} ${url.pathname} carries X-CSRF-Token`);
      }
    }
  });
});
