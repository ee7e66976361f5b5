import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { assertNoHorizontalScroll, e2eSkip, focused, gone, startE2E, visible } from './support.ts';
import type { E2E, OpenPage } from './support.ts';

// The everyday journeys through the real UI against a real Keyway: sign-in link, members, sign-out,
// password sign-in, what a member sees, API tokens, the audit log. Runs in order; each step builds
// on the last. Every page is screenshotted and checked with axe-core.

const ADMIN_PASSWORD = `admin-${Math.random().toString(36).slice(2)}-long-enough`;
const MEMBER = { email: 'dana@example.test', name: 'Dana Member', password: `pw-${Math.random().toString(36).slice(2)}-long-enough` };

async function heading(page: Page, name: string) {
  return visible(page.getByRole('heading', { level: 1, name, exact: true }));
}

describe('web UI journeys', { skip: e2eSkip() }, () => {
  let e2e: E2E;
  let open: OpenPage;
  let page: Page;

  before(async () => {
    e2e = await startE2E();
    open = await e2e.newPage();
    page = open.page;
  });
  after(async () => e2e?.close());

  it('serves the app with a strict CSP and history routes', async () => {
    const response = await page.request.get(`${e2e.url}/members`);
    assert.equal(response.status(), 200);
    assert.match(response.headers()['content-type'] ?? '', /text\/html/);
    assert.equal(
      response.headers()['content-security-policy'],
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    const api = await page.request.get(`${e2e.url}/api/v1/no-such-route`);
    assert.equal(api.status(), 401, 'unknown API paths stay API errors, not the app');
    assert.match(api.headers()['content-type'] ?? '', /application\/json/);
    assert.equal((await page.request.get(`${e2e.url}/assets/missing.js`)).status(), 404);
  });

  it('shows the sign-in page to a signed-out visitor', async () => {
    await page.goto('/runners');
    await heading(page, 'Sign in');
    assert.match(page.url(), /\/sign-in\?next=%2Frunners$/);
    await e2e.screenshot(page, 'sign-in');
    await e2e.checkA11y(page, 'sign-in');
  });

  it('opens the one-time sign-in link and lands signed in', async () => {
    await page.goto(e2e.signInLink);
    await page.waitForURL(`${e2e.url}/runners`);
    await heading(page, 'Runners');
    await visible(page.getByRole('banner').getByText(e2e.adminEmail));
    const nav = page.getByRole('navigation', { name: 'Main' });
    for (const name of [
      'Open a repository',
      'Environments',
      'Authorizations',
      'Projects',
      'Runners',
      'Members',
      'API tokens',
      'Audit log',
      'Account',
    ])
      await visible(nav.getByRole('link', { name }));
    // The link's token must not linger in the address bar or history.
    assert.ok(!page.url().includes('token='));
    // Keyboard: the first Tab reaches the skip link, which moves focus to the content.
    await page.keyboard.press('Tab');
    assert.equal((await focused(page)).text, 'Skip to content');
    await page.keyboard.press('Enter');
    assert.equal((await focused(page)).tag, 'main');
    await e2e.screenshot(page, 'runners');
    await e2e.checkA11y(page, 'runners');
  });

  it('invites a member on the Members page, showing API errors next to their field; they join through the link', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Members' }).click();
    await heading(page, 'Members');
    assert.equal((await focused(page)).tag, 'h1', 'navigation moves focus to the new page heading');
    const invite = page.getByRole('region', { name: 'Invite someone' });
    await invite.getByLabel('Email').fill('dana');
    await invite.getByRole('button', { name: 'Invite' }).click();
    const email = invite.getByLabel('Email');
    await visible(invite.getByText('Email must look like name@example.com.'));
    assert.equal(await email.getAttribute('aria-invalid'), 'true');
    assert.equal((await focused(page)).tag, 'input', 'focus moves to the field at fault');
    await e2e.screenshot(page, 'members-error');

    await email.fill(MEMBER.email);
    await invite.getByLabel('Role').selectOption('member');
    await invite.getByRole('button', { name: 'Invite' }).click();
    const link = await (await visible(page.getByRole('textbox', { name: 'Invitation link' }))).inputValue();
    await page.getByRole('button', { name: 'Done, I have sent it' }).click();

    // Dana opens the link in a browser of their own and creates the account.
    const dana = await e2e.newPage();
    await dana.page.goto(link);
    await heading(dana.page, 'Join Default');
    const register = dana.page.getByRole('form', { name: 'Create your account' });
    await register.getByLabel('Your name').fill(MEMBER.name);
    await register.getByLabel('Choose a password').fill(MEMBER.password);
    await register.getByLabel('Repeat the password').fill(MEMBER.password);
    await register.getByRole('button', { name: 'Create account and join' }).click();
    await dana.page.waitForURL(`${e2e.url}/open`);
    await dana.page.getByRole('button', { name: 'Sign out' }).click();
    await heading(dana.page, 'Sign in');
    await dana.context.close();

    await page.reload();
    await heading(page, 'Members');
    await visible(page.getByRole('cell', { name: MEMBER.email }));
    await visible(page.getByRole('combobox', { name: `Role of ${MEMBER.email}` }));
    await e2e.screenshot(page, 'members');
    await e2e.checkA11y(page, 'members');
  });

  it('creates an API token, shows its value once, then revokes it', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API tokens' }).click();
    await heading(page, 'API tokens');
    await page.getByLabel('Name', { exact: true }).fill('ci-pipeline');
    await page.getByRole('button', { name: 'Create token' }).click();
    const value = await (await visible(page.getByRole('textbox', { name: 'Token value' }))).inputValue();
    assert.match(value, /^kw_/);
    await e2e.screenshot(page, 'api-token-created');
    await e2e.checkA11y(page, 'api-token-created');

    // The token works until it is revoked.
    const me = await fetch(`${e2e.url}/api/v1/me`, { headers: { authorization: `Bearer ${value}` } });
    assert.equal(me.status, 200);

    await page.getByRole('button', { name: 'I have stored it' }).click();
    await gone(page.getByRole('textbox', { name: 'Token value' }));
    assert.ok(!(await page.content()).includes(value), 'the value is gone once dismissed');
    await page.reload();
    await heading(page, 'API tokens');
    await visible(page.getByRole('cell', { name: 'ci-pipeline' }));
    assert.ok(!(await page.content()).includes(value), 'the value is never shown again');

    // The confirm dialog: focus moves in, Escape closes it and focus returns to the opener.
    const revoke = page.getByRole('button', { name: 'Revoke token ci-pipeline' });
    await revoke.click();
    const dialog = await visible(page.getByRole('dialog', { name: 'Revoke token ci-pipeline?' }));
    assert.deepEqual(await focused(page).then((f) => [f.inDialog, f.text]), [true, 'Cancel']);
    await e2e.checkA11y(page, 'api-token-revoke-dialog');
    await page.keyboard.press('Escape');
    await gone(dialog);
    assert.equal((await focused(page)).label, 'Revoke token ci-pipeline');

    await revoke.click();
    await dialog.getByRole('button', { name: 'Revoke token' }).click();
    await gone(dialog);
    await visible(page.getByText('Token ci-pipeline was revoked.'));
    await visible(page.getByRole('row', { name: /ci-pipeline/ }).getByText('Revoked'));
    const after = await fetch(`${e2e.url}/api/v1/me`, { headers: { authorization: `Bearer ${value}` } });
    assert.equal(after.status, 401);
    await e2e.screenshot(page, 'api-tokens');
    await e2e.checkA11y(page, 'api-tokens');
  });

  it('shows the admin the audit log, filtered and paged', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit log' }).click();
    await heading(page, 'Audit log');
    const table = page.getByRole('region', { name: 'Audit events' });
    for (const action of ['invitation.create', 'invitation.accept', 'api_token.create', 'api_token.revoke', 'session.sign_in_link'])
      await visible(table.getByRole('cell', { name: action, exact: true }));
    await e2e.screenshot(page, 'audit-log');
    await e2e.checkA11y(page, 'audit-log');

    await page.getByLabel('Exact action').fill('api_token.create');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await gone(table.getByRole('cell', { name: 'invitation.create', exact: true }));
    assert.equal(await table.getByRole('row').count(), 2, 'a header row and the one api_token.create event');

    // Paging: two events a page.
    await page.goto('/audit-log?limit=2');
    await heading(page, 'Audit log');
    await visible(table.getByRole('row').nth(2));
    const first = await table.getByRole('row').nth(1).textContent();
    const newer = page.getByRole('button', { name: 'Newer' });
    const older = page.getByRole('button', { name: 'Older' });
    assert.equal(await newer.isDisabled(), true);
    await older.click();
    await visible(page.getByText('Page 2'));
    await page.waitForFunction((text) => document.querySelector('table.audit tbody tr')?.textContent !== text, first);
    await newer.click();
    await visible(page.getByText('Page 1'));
    await page.waitForFunction((text) => document.querySelector('table.audit tbody tr')?.textContent === text, first);
  });

  it('sets a password on the Account page', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Account' }).click();
    await heading(page, 'Account');
    await visible(page.getByText(e2e.adminEmail).first());
    await page.getByLabel('New password', { exact: true }).fill(ADMIN_PASSWORD);
    await page.getByLabel('Repeat the new password').fill(`${ADMIN_PASSWORD}x`);
    await page.getByRole('button', { name: 'Set password' }).click();
    await visible(page.getByText('The two passwords differ.'));
    await page.getByLabel('Repeat the new password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Set password' }).click();
    await visible(page.getByText('Your password was set.'));
    await e2e.screenshot(page, 'account');
    await e2e.checkA11y(page, 'account');
  });

  it('switches between organizations', async () => {
    const me = (await (await page.request.get('/api/v1/me')).json()) as { csrfToken: string };
    const created = await page.request.post('/api/v1/organizations', {
      data: { name: 'Second Org' },
      headers: { 'x-csrf-token': me.csrfToken },
    });
    assert.equal(created.status(), 201);
    await page.goto('/members');
    const switcher = await visible(page.getByRole('banner').getByLabel('Organization'));
    await switcher.selectOption({ label: 'Second Org (admin)' });
    await page.waitForURL(`${e2e.url}/runners`);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Members' }).click();
    await visible(page.getByText('People in Second Org.'));
    assert.equal(await page.getByRole('cell', { name: MEMBER.email }).count(), 0, 'the other organization has its own members');
    await e2e.screenshot(page, 'organization-switched');
    await switcher.selectOption({ label: 'Default (admin)' });
    await page.waitForURL(`${e2e.url}/runners`);
    assert.equal(await switcher.inputValue(), (await switcher.locator('option', { hasText: 'Default' }).getAttribute('value')) ?? '');
  });

  it('is usable at 400 px and in dark mode', async () => {
    await page.setViewportSize({ width: 400, height: 860 });
    for (const [path, title] of [
      ['/runners', 'Runners'],
      ['/members', 'Members'],
      ['/api-tokens', 'API tokens'],
      ['/audit-log', 'Audit log'],
    ] as const) {
      await page.goto(path);
      await heading(page, title);
      await page.waitForLoadState('networkidle');
      await assertNoHorizontalScroll(page, `${path} at 400 px`);
      await e2e.screenshot(page, `narrow${path.replace(/\//g, '-')}`);
    }
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto('/members');
    await heading(page, 'Members');
    await visible(page.getByRole('cell', { name: MEMBER.email }));
    await e2e.screenshot(page, 'dark-members');
    await e2e.checkA11y(page, 'members (dark)');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('signs out', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await heading(page, 'Sign in');
    await visible(page.getByText('You have signed out.'));
    const me = await page.request.get(`${e2e.url}/api/v1/me`);
    assert.equal(me.status(), 401, 'the session is gone on the server too');
  });

  it('signs the member in with a password; a wrong one is reported', async () => {
    await page.getByLabel('Email').fill(MEMBER.email);
    await page.getByLabel('Password').fill(`${MEMBER.password}-wrong`);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await visible(page.getByRole('alert'));
    await e2e.screenshot(page, 'sign-in-error');
    await e2e.checkA11y(page, 'sign-in-error');

    await page.getByLabel('Password').fill(MEMBER.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    // Members land on Open a repository, admins on Runners.
    await page.waitForURL(`${e2e.url}/open`);
    await heading(page, 'Open a repository');
    await visible(page.getByRole('banner').getByText(MEMBER.name));
  });

  it('does not show a member the admin-only pages', async () => {
    const nav = page.getByRole('navigation', { name: 'Main' });
    await visible(nav.getByRole('link', { name: 'API tokens' }));
    const links = await nav.getByRole('link').allTextContents();
    assert.deepEqual(links, ['Open a repository', 'Environments', 'Authorizations', 'Projects', 'Runners', 'API tokens', 'Account']);
    await nav.getByRole('link', { name: 'Runners' }).click();
    await heading(page, 'Runners');
    assert.equal(await page.getByRole('button', { name: 'Register a runner' }).count(), 0);
    await e2e.screenshot(page, 'member-runners');

    await page.goto('/audit-log');
    await heading(page, 'Audit log');
    await visible(page.getByText('Only organization admins can see this page.'));
    await e2e.checkA11y(page, 'member audit-log');
    await page.goto('/members');
    await visible(page.getByText('Only organization admins can see this page.'));
  });

  it('sent CSRF tokens with every write and no secret in a URL, under the CSP', async () => {
    assert.deepEqual(open.problems, [], 'no CSP violations or page errors');
    const writes = e2e.requests.filter((r) => r.method !== 'GET' && r.method !== 'HEAD' && new URL(r.url).pathname.startsWith('/api/'));
    assert.ok(writes.length >= 5, `writes were captured (${writes.length})`);
    for (const write of writes) {
      const path = new URL(write.url).pathname;
      // Signing in, and accepting an invitation by creating the account, happen before there is a session.
      if (['/api/v1/auth/sign-in', '/api/v1/auth/link', '/api/v1/invitations/preview', '/api/v1/invitations/register'].includes(path))
        continue;
      assert.ok(write.headers['x-csrf-token'], `${write.method} ${path} carries X-CSRF-Token`);
    }
    for (const request of e2e.requests) {
      assert.ok(
        !request.url.includes(MEMBER.password) && !request.url.includes(ADMIN_PASSWORD),
        `passwords stay out of URLs: ${request.url}`,
      );
      assert.ok(!/token=/.test(new URL(request.url).search), `no token in a query string: ${request.url}`);
    }
  });
});
