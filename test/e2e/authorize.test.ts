import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { isSealed, open as unseal } from '../../src/crypto/sealing.ts';
import {
  assertNoHorizontalScroll,
  demoIntegration,
  e2eSkip,
  gone,
  inviteAndRegister,
  runnerPrivateKey,
  startE2E,
  visible,
} from './support.ts';
import type { DemoInfo, E2E, OpenPage } from './support.ts';

// The pages users came for, against `keyway start --demo` (the bundled emulator plays Entra ID and
// Azure DevOps): the admin's Save & Test of the demo integration, a member who connects with OAuth in
// a popup and clones the demo pull request, another member who provides a PAT (and a wrong one), the
// authorizations page, and what went over the wire: secrets only ever sealed.

const SECOND = { email: 'pat-user@example.test', name: 'Pat User', password: `pw-${randomBytes(9).toString('base64url')}-long-enough` };
// Not a real token's shape (see docs/conventions.md): generated, and wrong for the emulator.
const WRONG_PAT = `wrong${randomBytes(24).toString('hex')}`;

async function heading(page: Page, name: string, level = 1) {
  return visible(page.getByRole('heading', { level, name, exact: true }));
}

async function signIn(page: Page, e2e: E2E, email: string, password: string) {
  await page.goto('/sign-in');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  // Members land on Open a repository.
  await page.waitForURL(`${e2e.url}/open`);
}

async function openUrl(page: Page, url: string) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Open a repository' }).click();
  await heading(page, 'Open a repository');
  await page.getByLabel('Repository URL').fill(url);
  await page.getByRole('button', { name: 'Open', exact: true }).click();
}

/** YYYY-MM-DD, `days` from today (local calendar, as <input type=date> takes it). */
function dayFromNow(days: number): string {
  const d = new Date(Date.now() + days * 86_400_000);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 10);
}

describe('web UI: authorize, open a repository, environments (demo mode)', { skip: e2eSkip() }, () => {
  let e2e: E2E;
  let demo: DemoInfo;
  let integration: Awaited<ReturnType<typeof demoIntegration>>;
  const pages: OpenPage[] = [];
  let member: Page;
  let second: Page;
  let secondUserId = '';

  before(async () => {
    e2e = await startE2E({ demo: true });
    demo = e2e.demo!;
    integration = await demoIntegration(e2e.dataDir);
  });
  after(async () => e2e?.close());

  it('the admin sees the demo integration on the local runner and passes Save & Test, sealing the client secret in the browser', async () => {
    const admin = await e2e.newPage();
    pages.push(admin);
    const page = admin.page;
    await page.goto(e2e.signInLink);
    await page.waitForURL(`${e2e.url}/runners`);
    await page.getByRole('link', { name: 'local', exact: true }).click();
    await heading(page, 'Configure repository access', 2);
    const card = page.getByRole('listitem').filter({ hasText: 'Azure DevOps · dev.azure.com' });
    await visible(card.getByText('Passed'));
    await visible(card.getByText(`On — client ${integration.clientId}`));

    await page.getByRole('button', { name: 'Edit dev.azure.com' }).click();
    const dialog = await visible(page.getByRole('dialog', { name: 'Azure DevOps · dev.azure.com' }));
    assert.equal(await dialog.getByLabel('Enable Personal Access Token').isChecked(), true, 'demo mode enables PATs');
    await dialog.getByLabel('Client secret').fill(integration.clientSecret);
    const answer = page.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().includes('/scm-integrations/'));
    await dialog.getByRole('button', { name: 'Save & Test' }).click();
    const response = await answer;
    assert.equal(response.status(), 200, await response.text());
    assert.equal(((await response.json()) as { test: { valid: boolean } }).test.valid, true);
    await gone(dialog);
    await visible(page.getByText('dev.azure.com was saved and the test passed.'));
    await visible(card.getByText('Passed'));
    await e2e.screenshot(page, 'demo-runner-integration');

    // The admin adds the second member for the PAT journey.
    secondUserId = await inviteAndRegister(page, e2e.url, { email: SECOND.email, name: SECOND.name, password: SECOND.password });
  });

  it('the member opens the demo pull request, sees the Authorize panel, and a declined consent is reported', async () => {
    const open = await e2e.newPage();
    pages.push(open);
    member = open.page;
    await signIn(member, e2e, demo.memberEmail, demo.memberPassword);
    // Not an Azure DevOps URL: the parser's reason, next to the field.
    await openUrl(member, 'https://github.com/contoso/web');
    const field = member.getByLabel('Repository URL');
    await visible(member.locator('.field-error'));
    assert.equal(await field.getAttribute('aria-invalid'), 'true');
    await e2e.screenshot(member, 'open-not-azure-devops');
    await field.fill(demo.pullRequestUrl);
    await member.getByRole('button', { name: 'Open', exact: true }).click();
    assert.equal(
      new URL(member.url()).searchParams.get('url'),
      demo.pullRequestUrl,
      'the URL is in the address bar, so Connect can come back to it',
    );
    await heading(member, 'Demo/demo-app', 2);
    await visible(member.getByText('pull request 1', { exact: true }));
    await visible(member.getByText('keyway-demo', { exact: true }));
    const panel = await visible(member.getByRole('region', { name: 'Authorize dev.azure.com' }));
    await visible(panel.getByRole('heading', { name: 'Connect with Microsoft Entra ID' }));
    await visible(panel.getByRole('heading', { name: 'Provide a Personal Access Token' }));
    const fallback = panel.getByRole('link', { name: 'Connect in this window instead' });
    const href = new URL((await fallback.getAttribute('href'))!);
    assert.equal(href.pathname, `/api/v1/oauth/authorize/${integration.id}`);
    assert.equal(href.searchParams.get('display'), 'page');
    assert.equal(href.searchParams.get('returnTo'), `/open?url=${encodeURIComponent(demo.pullRequestUrl)}`);
    await e2e.screenshot(member, 'open-authorize');
    await e2e.checkA11y(member, 'open a repository: authorize');

    // Cancel on the emulator's consent page: the popup closes and the page says why nothing happened.
    const popupOpened = member.waitForEvent('popup');
    await panel.getByRole('button', { name: 'Connect', exact: true }).click();
    const popup = await popupOpened;
    await popup.locator('[data-testid="cancel"]').waitFor();
    assert.match(popup.url(), /^http:\/\/127\.0\.0\.1:\d+\//);
    assert.notEqual(new URL(popup.url()).origin, e2e.url, "the popup is at the emulator's sign-in page");
    const closed = popup.waitForEvent('close');
    await popup.locator('[data-testid="cancel"]').click();
    await closed;
    await visible(panel.getByRole('alert').getByText('You declined the consent prompt', { exact: false }));
    await visible(panel.getByRole('button', { name: 'Connect again' }));
  });

  it('the member connects with OAuth in a popup; the page updates to connected and resolves the pull request', async () => {
    const panel = member.getByRole('region', { name: 'Authorize dev.azure.com' });
    const popupOpened = member.waitForEvent('popup');
    await panel.getByRole('button', { name: 'Connect again' }).click();
    const popup = await popupOpened;
    const user = popup.locator(`[data-testid="user-${demo.entraUpn}"]`);
    await user.waitFor();
    await e2e.screenshot(popup, 'connect-popup-emulator');
    await user.check();
    const password = popup.locator('[data-testid="password"]');
    if ((await password.count()) > 0 && (await password.isVisible())) await password.fill(demo.entraPassword);
    const closed = popup.waitForEvent('close');
    await popup.locator('[data-testid="accept"]').click();
    await closed;

    await visible(member.getByText(`Connected as ${demo.entraUpn}.`));
    await gone(panel);
    await visible(member.getByText('Demo change', { exact: true }));
    await visible(member.getByText('Pull request 1:', { exact: false }));
    await e2e.screenshot(member, 'open-connected');
    await e2e.checkA11y(member, 'open a repository: connected');
  });

  it('creates an environment from the pull request and watches the clone reach ready', async () => {
    const section = member.getByRole('region', { name: 'Create an environment' });
    assert.equal(await section.getByRole('radio', { name: /Merge commit/ }).isChecked(), true);
    const created = member.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/api/v1/environments'));
    await section.getByRole('button', { name: 'Create environment' }).click();
    const response = await created;
    assert.equal(response.status(), 201, await response.text());
    const environment = (await response.json()) as { id: string };
    const progress = section.locator('.environment-progress');
    await visible(progress.locator('progress'));
    await section.locator('.environment-progress[data-status="ready"]').waitFor({ timeout: 30_000 });
    assert.equal(await progress.locator('progress').getAttribute('value'), '100');
    await visible(progress.getByText('pull request 1, merge commit', { exact: false }));
    const workspace = await section.getByRole('textbox', { name: 'Workspace on the runner' }).inputValue();
    assert.ok(workspace.includes(environment.id), `workspace ${workspace}`);
    const polls = e2e.requests.filter((r) => r.method === 'GET' && r.url.endsWith(`/api/v1/environments/${environment.id}`));
    assert.ok(polls.length >= 1, 'the page polled the environment');
    await e2e.screenshot(member, 'environment-ready');
    await e2e.checkA11y(member, 'environment ready');
  });

  it('lists the environment on the Environments page and deletes it after confirmation', async () => {
    await member.getByRole('link', { name: 'See all your environments' }).click();
    await heading(member, 'Environments');
    const row = member.getByRole('row', { name: /Demo\/demo-app/ });
    await visible(row.getByText('Ready'));
    await visible(row.getByText('pull request 1 (merge commit)'));
    await e2e.screenshot(member, 'environments');
    await e2e.checkA11y(member, 'environments');
    await row.getByRole('button', { name: /^Delete environment demo-app/ }).click();
    const dialog = await visible(member.getByRole('dialog', { name: 'Delete the environment of demo-app?' }));
    await dialog.getByRole('button', { name: 'Delete environment' }).click();
    await gone(dialog);
    await visible(member.getByText('The environment of demo-app was deleted.'));
    await visible(member.getByText('No environments yet.', { exact: false }));
  });

  it("shows the member's OAuth authorization with identity and scopes", async () => {
    await member.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Authorizations' }).click();
    await heading(member, 'My authorizations');
    const card = member.getByRole('listitem').filter({ hasText: 'Microsoft Entra ID (OAuth)' });
    await visible(card.getByRole('heading', { name: /dev\.azure\.com/ }));
    await visible(card.getByText('vso.code_write', { exact: false }));
    await visible(card.getByRole('button', { name: /^Reconnect dev\.azure\.com/ }));
    await e2e.screenshot(member, 'authorizations-oauth');
    await e2e.checkA11y(member, 'authorizations');
  });

  it('another member provides a PAT instead: sealed in the browser, checked by the runner, with an expiry warning', async () => {
    const open = await e2e.newPage();
    pages.push(open);
    second = open.page;
    await signIn(second, e2e, SECOND.email, SECOND.password);
    await openUrl(second, demo.repositoryUrl);
    const panel = await visible(second.getByRole('region', { name: 'Authorize dev.azure.com' }));
    const pat = panel.getByRole('region', { name: 'Provide a Personal Access Token' });
    const create = pat.getByRole('link', { name: 'Create a token in Azure DevOps' });
    assert.match((await create.getAttribute('href')) ?? '', /\/keyway-demo\/_usersSettings\/tokens$/);
    assert.equal(await create.getAttribute('target'), '_blank');
    await visible(pat.getByText('Code (Read & write)'));
    await visible(pat.getByText('Keyway (keyway-demo)'));
    await visible(pat.getByText('30 days'));
    const token = pat.getByLabel('Personal Access Token', { exact: true });
    assert.equal(await token.getAttribute('type'), 'password');
    assert.equal(await pat.getByLabel('Expires on').inputValue(), dayFromNow(30), 'the suggested 30-day expiry is prefilled');

    await token.fill(demo.pat);
    await pat.getByLabel('Expires on').fill(dayFromNow(3));
    await pat.getByRole('button', { name: 'Check and save token' }).click();
    await visible(second.getByText('Your token works', { exact: false }));
    await gone(panel);
    await heading(second, 'Demo/demo-app', 2);
    await visible(second.getByText('default branch (main)'));
    await e2e.screenshot(second, 'open-pat-stored');
    assert.ok(!(await second.content()).includes(demo.pat), 'the token is not left in the page');

    await second.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Authorizations' }).click();
    await heading(second, 'My authorizations');
    const card = second.getByRole('listitem').filter({ hasText: 'Personal Access Token' });
    await visible(card.getByText('Expires soon'));
    await visible(card.getByText('This token expires on', { exact: false }));
    await visible(card.getByText('keyway-demo', { exact: true }));
    await e2e.screenshot(second, 'authorizations-expires-soon');
    await e2e.checkA11y(second, 'authorizations with warning');
  });

  it("a wrong PAT (through Reconnect) shows the runner's reason next to the field", async () => {
    await second.getByRole('button', { name: /^Reconnect dev\.azure\.com \(Personal Access Token/ }).click();
    const dialog = await visible(second.getByRole('dialog', { name: 'Reconnect dev.azure.com' }));
    const token = dialog.getByLabel('Personal Access Token', { exact: true });
    await token.fill(WRONG_PAT);
    await dialog.getByRole('button', { name: 'Check and save token' }).click();
    await visible(dialog.locator('.field-error').getByText('Azure DevOps did not accept the token', { exact: false }));
    assert.equal(await token.getAttribute('aria-invalid'), 'true');
    await e2e.screenshot(second, 'authorize-pat-rejected');
    await e2e.checkA11y(second, 'reconnect dialog with a rejected PAT');
    await second.keyboard.press('Escape');
    await gone(dialog);
  });

  it('removes the PAT authorization after confirmation', async () => {
    await second.getByRole('button', { name: /^Remove dev\.azure\.com \(Personal Access Token/ }).click();
    const dialog = await visible(second.getByRole('dialog', { name: 'Remove your authorization for dev.azure.com?' }));
    await dialog.getByRole('button', { name: 'Remove authorization' }).click();
    await gone(dialog);
    await visible(second.getByText('Your Personal Access Token authorization for dev.azure.com was removed', { exact: false }));
    await visible(second.getByText('You have not authorized any host yet.', { exact: false }));
  });

  it('works at 400 px and in dark mode', async () => {
    await second.setViewportSize({ width: 400, height: 860 });
    await openUrl(second, demo.pullRequestUrl);
    await visible(second.getByRole('region', { name: 'Authorize dev.azure.com' }));
    await assertNoHorizontalScroll(second, 'open a repository at 400 px');
    await e2e.screenshot(second, 'narrow-open-authorize');
    await member.setViewportSize({ width: 400, height: 860 });
    for (const [path, title] of [
      ['/authorizations', 'My authorizations'],
      ['/environments', 'Environments'],
    ] as const) {
      await member.goto(path);
      await heading(member, title);
      await member.waitForLoadState('networkidle');
      await assertNoHorizontalScroll(member, `${path} at 400 px`);
      await e2e.screenshot(member, `narrow${path.replace(/\//g, '-')}`);
    }
    await member.setViewportSize({ width: 1280, height: 900 });
    await second.setViewportSize({ width: 1280, height: 900 });
    await second.emulateMedia({ colorScheme: 'dark' });
    await e2e.screenshot(second, 'dark-open-authorize');
    await e2e.checkA11y(second, 'open a repository (dark)');
    await second.emulateMedia({ colorScheme: 'light' });
  });

  it('offers a full-page Connect when the popup is blocked, and says how it went on return', async () => {
    const panel = second.getByRole('region', { name: 'Authorize dev.azure.com' });
    // What a popup blocker does: window.open answers null.
    await second.evaluate(() => {
      window.open = () => null;
    });
    await panel.getByRole('button', { name: 'Connect', exact: true }).click();
    await visible(panel.getByText('Your browser blocked the sign-in window.', { exact: false }));
    await e2e.screenshot(second, 'connect-popup-blocked');
    await panel.getByRole('link', { name: 'connect in this window', exact: true }).click();
    const user = second.locator(`[data-testid="user-${demo.entraUpn}"]`);
    await user.check();
    const password = second.locator('[data-testid="password"]');
    if ((await password.count()) > 0 && (await password.isVisible())) await password.fill(demo.entraPassword);
    await second.locator('[data-testid="accept"]').click();
    await visible(second.getByText('Connected.', { exact: true }));
    await visible(second.getByText('Demo change', { exact: true }));
    const back = new URL(second.url());
    assert.equal(back.pathname, '/open');
    assert.equal(back.searchParams.get('url'), demo.pullRequestUrl);
    assert.equal(back.searchParams.get('keyway_authorization'), null, 'the outcome parameters are dropped from the address bar');
  });

  it('never sent the client secret or a PAT in clear to the management plane: only hpke1. sealed values', async () => {
    for (const p of pages) assert.deepEqual(p.problems, [], 'no CSP violations or page errors');
    const plane = e2e.requests.filter((r) => new URL(r.url).origin === e2e.url);
    assert.ok(plane.length > 30, `requests were captured (${plane.length})`);
    for (const r of plane) {
      const text = `${r.url}\n${r.body ?? ''}`;
      for (const [what, secret] of [
        ['the client secret', integration.clientSecret],
        ['the demo PAT', demo.pat],
        ['the wrong PAT', WRONG_PAT],
        ["the Entra user's password", demo.entraPassword],
      ] as const) {
        assert.ok(!text.includes(secret), `${what} went out in clear in ${r.method} ${r.url}`);
      }
    }
    const key = runnerPrivateKey(e2e.dataDir);

    const patch = plane.find((r) => r.method === 'PATCH' && r.url.includes('/scm-integrations/'));
    const body = JSON.parse(patch?.body ?? '{}') as { oauth?: { sealedClientSecret?: string; clientSecret?: string } };
    const sealedSecret = body.oauth?.sealedClientSecret ?? '';
    assert.ok(sealedSecret.startsWith('hpke1.') && isSealed(sealedSecret), 'the client secret went sealed');
    assert.equal(body.oauth?.clientSecret, undefined);
    assert.equal(await unseal(key, sealedSecret, `scm-integration:${integration.id}:oauth-client-secret`), integration.clientSecret);

    const pats = plane
      .filter((r) => r.method === 'POST' && new URL(r.url).pathname === '/api/v1/scm/pat')
      .map((r) => JSON.parse(r.body ?? '{}') as Record<string, string>);
    assert.equal(pats.length, 2, 'the good PAT and the wrong one');
    const opened: string[] = [];
    for (const sent of pats) {
      assert.deepEqual(Object.keys(sent).sort(), ['expiresAt', 'integrationId', 'organization', 'sealedToken']);
      assert.ok(sent.sealedToken!.startsWith('hpke1.'));
      // Bound to the integration and the user: the runner opens it with exactly this associated data.
      opened.push(await unseal(key, sent.sealedToken!, `scm-integration:${integration.id}:user:${secondUserId}:pat`));
    }
    assert.deepEqual(opened, [demo.pat, WRONG_PAT]);
    assert.equal(pats[0]!.expiresAt, dayFromNow(3));
  });
});
