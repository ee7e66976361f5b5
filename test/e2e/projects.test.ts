import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Locator, Page } from 'playwright-core';
import { open as unseal } from '../../src/crypto/sealing.ts';
import { assertNoHorizontalScroll, demoIntegration, e2eSkip, gone, runnerPrivateKey, visible } from './support.ts';
import { adminOnRunners, startedE2E } from '../support/e2e-session.ts';
import type { DemoInfo, OpenPage } from './support.ts';

// Projects, app connections and variable group syncs through the UI, against `keyway start --demo`:
// an access-token connection with the emulator's PAT (a wrong one first), a client-secret connection
// the emulator refuses (its service principal is not in the organization), syncs with plain and
// secret variables, runs, run history and a failing run, and an oauth connection (demo mode sets up
// the emulator's app) consented to on the emulator's sign-in page, its organization picked after,
// with a sync through it. Credentials and variable values must only ever leave the browser sealed;
// the oauth app's client secret never reaches the browser at all.

const SECRET_VALUE = `canary-${randomBytes(12).toString('hex')}`;
const CHANGED_SECRET = `canary-${randomBytes(12).toString('hex')}`;
const WRONG_PAT = `wrong${randomBytes(24).toString('hex')}`;
const OAUTH_SECRET_VALUE = `canary-${randomBytes(12).toString('hex')}`;

async function heading(page: Page, name: string, level = 1) {
  return visible(page.getByRole('heading', { level, name, exact: true }));
}

describe('web UI: projects, app connections and variable group syncs (demo mode)', { skip: e2eSkip() }, () => {
  let demo: DemoInfo;
  let integration: Awaited<ReturnType<typeof demoIntegration>>;
  let open: OpenPage;
  let page: Page;

  /** Opens "Add a sync" and fills in the sync's name, connection (when there is a choice), project and group. */
  async function openSyncDialog(sync: { name: string; connection?: string; project: string; group: string }): Promise<Locator> {
    await page.getByRole('button', { name: 'Add a sync' }).click();
    const dialog = await visible(page.getByRole('dialog', { name: 'Add a variable group sync' }));
    await dialog.getByLabel('Sync name').fill(sync.name);
    if (sync.connection) await dialog.getByLabel('App connection').selectOption({ label: sync.connection });
    await dialog.getByLabel('Azure DevOps project').fill(sync.project);
    await dialog.getByLabel('Variable group').fill(sync.group);
    return dialog;
  }

  /** Fills in the sync dialog's variable `n` (from 1), marking it secret first when it is one. */
  async function fillVariable(dialog: Locator, n: number, variable: { name: string; value: string; secret?: boolean }): Promise<void> {
    const row = dialog.getByRole('group', { name: `Variable ${n}` });
    await row.getByLabel('Name').fill(variable.name);
    if (variable.secret) await row.getByLabel('Secret').check();
    await row.getByLabel('Value').fill(variable.value);
  }

  const e2e = startedE2E({ demo: true }, async () => {
    demo = e2e.demo!;
    integration = await demoIntegration(e2e.dataDir);
    open = await adminOnRunners(e2e);
    page = open.page;
  });

  it('creates a project', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Projects' }).click();
    await heading(page, 'Projects');
    await visible(page.getByText('No projects yet.', { exact: false }));
    await page.getByLabel('Project name').fill('Platform');
    await page.getByRole('button', { name: 'Create project' }).click();
    await heading(page, 'Platform');
    await visible(page.getByText('No app connections yet.', { exact: false }));
    assert.equal(await page.getByRole('button', { name: 'Add a sync' }).isDisabled(), true, 'a sync needs a connection first');
    await e2e.screenshot(page, 'project-empty');
    await e2e.checkA11y(page, 'project (empty)');
  });

  it('adds an access-token connection: a wrong PAT is refused with the reason, the demo PAT works', async () => {
    await page.getByRole('button', { name: 'Add an app connection' }).click();
    const dialog = await visible(page.getByRole('dialog', { name: 'Add an app connection' }));
    assert.equal(await dialog.getByRole('radio', { name: /Personal Access Token/ }).isChecked(), true);
    await dialog.getByLabel('Name').fill('demo-pat');
    await dialog.getByLabel('Organization (optional)').fill('keyway-demo');
    const token = dialog.getByLabel('Personal Access Token', { exact: true });
    assert.equal(await token.getAttribute('type'), 'password');
    await token.fill(WRONG_PAT);
    await dialog.getByRole('button', { name: 'Create and test' }).click();
    await visible(dialog.locator('.field-error, .alert-error').first());
    const refusal = (await dialog.locator('.field-error, .alert-error').first().textContent()) ?? '';
    assert.match(refusal, /token|Azure DevOps/i, `the runner's reason is shown: ${refusal}`);
    await e2e.screenshot(page, 'app-connection-refused');
    await e2e.checkA11y(page, 'app connection dialog with an error');

    await token.fill(demo.pat);
    await dialog.getByRole('button', { name: 'Create and test' }).click();
    await gone(dialog);
    await visible(page.getByText('App connection demo-pat was created. It works (as Demo User).', { exact: false }));
    const row = page.getByRole('row', { name: /demo-pat/ });
    await visible(row.getByText('Works'));
    await visible(row.getByText('Demo User'));
  });

  it('adds a client-secret connection the emulator refuses, saying why', async () => {
    await page.getByRole('button', { name: 'Add an app connection' }).click();
    const dialog = await visible(page.getByRole('dialog', { name: 'Add an app connection' }));
    await dialog.getByRole('radio', { name: /Service principal/ }).check();
    await dialog.getByLabel('Name').fill('demo-sp');
    await dialog.getByLabel('Organization', { exact: true }).fill('keyway-demo');
    const tenant = new URL(integration.issuerUrl).pathname.split('/')[1]!;
    await dialog.getByLabel('Directory (tenant) ID').fill(tenant);
    await dialog.getByLabel('Application (client) ID').fill(integration.clientId);
    await dialog.getByLabel('Client secret', { exact: true }).fill(integration.clientSecret);
    await dialog.getByRole('button', { name: 'Create and test' }).click();
    const organization = dialog.getByLabel('Organization', { exact: true });
    await visible(dialog.locator('.field-error').getByText('the service principal is not a member of the organization', { exact: false }));
    assert.equal(await organization.getAttribute('aria-invalid'), 'true', 'the error sits next to the field it names');
    await e2e.screenshot(page, 'app-connection-client-secret-refused');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await gone(dialog);
    assert.equal(await page.getByRole('row', { name: /demo-sp/ }).count(), 0, 'nothing was kept');
  });

  it('tests a connection', async () => {
    await page.getByRole('button', { name: 'Test app connection demo-pat' }).click();
    await visible(page.getByText('demo-pat: It works (as Demo User).', { exact: false }));
    await e2e.screenshot(page, 'project-connections');
    await e2e.checkA11y(page, 'project with a connection');
  });

  it('creates a sync with a plain and a secret variable; the first run succeeds and shows in the history', async () => {
    const dialog = await openSyncDialog({ name: 'app settings', project: 'Demo', group: 'app-settings' });
    await fillVariable(dialog, 1, { name: 'API_URL', value: 'https://api.example.test' });
    await dialog.getByRole('button', { name: 'Add variable' }).click();
    const second = dialog.getByRole('group', { name: 'Variable 2' });
    await second.getByLabel('Name').fill('API_KEY');
    await second.getByLabel('Secret').check();
    assert.equal(await second.getByLabel('Value').getAttribute('type'), 'password');
    await second.getByLabel('Value').fill(SECRET_VALUE);
    await e2e.screenshot(page, 'sync-dialog');
    await e2e.checkA11y(page, 'sync dialog');
    await dialog.getByRole('button', { name: 'Create sync' }).click();
    await gone(dialog);
    await visible(page.getByText('Sync app settings was created; a run started.'));
    const card = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: 'app settings' }) });
    await visible(card.getByText('API_KEY (secret)'));
    await visible(card.getByText('Succeeded'), 15_000);
    await card.getByRole('button', { name: 'Run history of app settings' }).click();
    const history = await visible(card.getByRole('region', { name: 'Run history of app settings' }));
    await visible(history.getByText('2 created, 0 updated, 0 deleted, 0 unchanged'));
    await visible(history.getByRole('cell', { name: 'change', exact: true }));
  });

  it('runs a sync now, then changes a secret value and removes a variable', async () => {
    const card = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: 'app settings' }) });
    await card.getByRole('button', { name: 'Run now (app settings)' }).click();
    await visible(page.getByText('app settings: the run succeeded (0 created, 0 updated, 0 deleted, 2 unchanged).'));
    await visible(card.getByRole('region', { name: 'Run history of app settings' }).getByRole('cell', { name: 'manual', exact: true }));

    await card.getByRole('button', { name: 'Change variables of app settings' }).click();
    const dialog = await visible(page.getByRole('dialog', { name: 'Variables of app settings' }));
    const key = dialog.getByRole('group', { name: 'API_KEY' });
    await key.getByLabel('Value').fill(CHANGED_SECRET);
    await dialog.getByRole('button', { name: /^Remove variable \d \(API_URL\)$/ }).click();
    await dialog.getByRole('button', { name: 'Save variables' }).click();
    await gone(dialog);
    await visible(page.getByText('The variables of app settings were changed; a run started.'));
    await visible(card.getByText('Variables (1)'));
    await visible(
      card.getByRole('region', { name: 'Run history of app settings' }).getByText('0 created, 1 updated, 1 deleted, 0 unchanged'),
      15_000,
    );
    await e2e.screenshot(page, 'project-syncs');
    await e2e.checkA11y(page, 'project with syncs');
  });

  it('shows why a run failed, and deletes the sync after confirmation', async () => {
    const dialog = await openSyncDialog({ name: 'broken', project: 'NoSuchProject', group: 'g' });
    await fillVariable(dialog, 1, { name: 'X', value: '1' });
    await dialog.getByRole('button', { name: 'Create sync' }).click();
    await gone(dialog);
    const card = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: 'broken' }) });
    await visible(card.getByText("Last run failed: Azure DevOps project 'NoSuchProject' was not found", { exact: false }), 15_000);
    await card.getByRole('button', { name: 'Run history of broken' }).click();
    await visible(card.getByRole('region', { name: 'Run history of broken' }).getByText('Failed'));
    await e2e.screenshot(page, 'sync-failed');

    await card.getByRole('button', { name: 'Delete sync broken' }).click();
    const confirm = await visible(page.getByRole('dialog', { name: 'Delete sync broken?' }));
    await confirm.getByRole('button', { name: 'Delete sync' }).click();
    await gone(confirm);
    await visible(page.getByText('Sync broken was deleted.', { exact: false }));
  });

  it('creates an oauth connection without an organization: consent on the sign-in page, back to the project, pick the organization, test it, reconnect', async () => {
    const projectUrl = page.url();
    assert.match(new URL(projectUrl).pathname, /^\/projects\/[^/]+$/);
    await page.getByRole('button', { name: 'Add an app connection' }).click();
    const dialog = await visible(page.getByRole('dialog', { name: 'Add an app connection' }));
    await dialog.getByRole('radio', { name: /Microsoft Entra ID OAuth/ }).check();
    await visible(dialog.getByText("This Keyway's Entra app, with your consent.", { exact: true }));
    assert.equal(await dialog.getByText('not available here', { exact: false }).count(), 0, 'demo mode sets up the oauth app');
    assert.equal(await dialog.locator('input[type="password"]').count(), 0, 'no secret to enter for oauth');
    const submit = dialog.getByRole('button', { name: 'Create and connect' });
    assert.equal(await submit.isDisabled(), false);
    await dialog.getByLabel('Name').fill('demo-oauth');
    assert.equal(await dialog.getByLabel('Organization (optional)').inputValue(), '');
    // Checked in the browser before anything is sent.
    const tenant = dialog.getByLabel('Directory (tenant) ID');
    const before = e2e.requests.length;
    await submit.click();
    await visible(dialog.locator('.field-error').getByText('Enter the Directory (tenant) ID', { exact: false }));
    await tenant.fill('contoso.onmicrosoft.com');
    await submit.click();
    await visible(dialog.locator('.field-error').getByText('is a GUID', { exact: false }));
    assert.equal(await tenant.getAttribute('aria-invalid'), 'true', 'the error sits next to the tenant field');
    assert.equal(e2e.requests.slice(before).filter((r) => r.method === 'POST').length, 0, 'nothing was sent');
    await e2e.screenshot(page, 'app-connection-oauth');
    await e2e.checkA11y(page, 'app connection dialog (oauth)');

    // Create and connect: the whole page goes to the emulator's sign-in page.
    await tenant.fill(demo.tenantId);
    // The page leaves right after the answer: keep its body through a route (a response's body is gone after navigation).
    let createdAnswer: { status: number; body: string } | undefined;
    const createPattern = /\/api\/v1\/projects\/[^/]+\/app-connections$/;
    await page.route(createPattern, async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      const fetched = await route.fetch();
      createdAnswer = { status: fetched.status(), body: await fetched.text() };
      return route.fulfill({ response: fetched });
    });
    const user = page.locator(`[data-testid="user-${demo.entraUpn}"]`);
    await submit.click();
    // Either the emulator's sign-in page, or the dialog says why not.
    const refused = page.locator('dialog .field-error, dialog .alert-error');
    await user.or(refused).first().waitFor({ timeout: 20_000 });
    await page.unroute(createPattern);
    if (!(await user.isVisible())) assert.fail(`creating the oauth connection failed: ${(await refused.allTextContents()).join(' / ')}`);
    assert.ok(createdAnswer, 'the create request was answered');
    assert.equal(createdAnswer.status, 201, createdAnswer.body);
    const answer = JSON.parse(createdAnswer.body) as {
      connection: { id: string; status: string; credentialSet: boolean; organization: string | null };
      authorizeUrl: string;
    };
    assert.equal(answer.connection.status, 'pending');
    assert.equal(answer.connection.credentialSet, false);
    assert.equal(answer.connection.organization, null);
    assert.match(
      answer.authorizeUrl ?? '',
      /^\/api\/v1\/projects\/[^/]+\/app-connections\/[^/]+\/oauth\/authorize$/,
      'a same-origin path to start the consent',
    );
    assert.notEqual(new URL(page.url()).origin, e2e.url, "at the emulator's sign-in page");
    const authorize = e2e.requests.find((r) => r.method === 'GET' && new URL(r.url).pathname === answer.authorizeUrl.split('?')[0]);
    assert.ok(authorize, `the browser went to ${answer.authorizeUrl}`);
    assert.equal(new URL(authorize.url).searchParams.get('returnTo'), new URL(projectUrl).pathname, 'and comes back to the project page');
    await e2e.screenshot(page, 'app-connection-oauth-sign-in');
    await user.check();
    const password = page.locator('[data-testid="password"]');
    if ((await password.count()) > 0 && (await password.isVisible())) await password.fill(demo.entraPassword);
    await page.locator('[data-testid="accept"]').click();

    // Back on the project page: how it went, and the parameters dropped from the address bar.
    await visible(page.getByRole('status').getByText('App connection demo-oauth is connected', { exact: false }), 15_000);
    assert.equal(page.url(), projectUrl, 'the outcome parameters are dropped from the address bar');
    const row = page.getByRole('row', { name: /demo-oauth/ });
    await visible(row.getByText('Not picked yet'));
    await visible(row.getByText('Demo User'));
    await visible(row.getByRole('button', { name: 'Reconnect app connection demo-oauth' }));
    assert.ok(!(await page.content()).includes(integration.clientSecret), "the oauth app's client secret is not on the page");

    // Pick the organization among those the account reaches.
    const picker = await visible(page.getByRole('form', { name: 'Pick the organization of demo-oauth' }));
    const organization = picker.getByLabel('Azure DevOps organization');
    await organization.locator('option', { hasText: demo.organization }).waitFor({ state: 'attached' });
    const offered = await organization.locator('option').allTextContents();
    assert.ok(offered.includes(demo.organization), `the demo organization is offered: ${offered.join(', ')}`);
    await e2e.screenshot(page, 'app-connection-oauth-pick-organization');
    await e2e.checkA11y(page, 'project: pick the organization of an oauth connection');
    await organization.selectOption(demo.organization);
    await picker.getByRole('button', { name: 'Use organization' }).click();
    await gone(picker);
    await visible(page.getByText(`App connection demo-oauth now writes to organization ${demo.organization}.`, { exact: false }));
    await visible(row.getByRole('cell', { name: demo.organization, exact: true }));
    await visible(row.getByText('Works'));

    await page.getByRole('button', { name: 'Test app connection demo-oauth' }).click();
    await visible(page.getByText('demo-oauth: It works (as Demo User).', { exact: false }));
    await e2e.screenshot(page, 'project-oauth-connection');
    await e2e.checkA11y(page, 'project with an oauth connection');

    // Reconnect goes through consent again and keeps the organization.
    await row.getByRole('button', { name: 'Reconnect app connection demo-oauth' }).click();
    await user.waitFor({ timeout: 20_000 });
    await user.check();
    if ((await password.count()) > 0 && (await password.isVisible())) await password.fill(demo.entraPassword);
    await page.locator('[data-testid="accept"]').click();
    const again = await visible(
      page.getByRole('status').getByText('App connection demo-oauth is connected as Demo User.', { exact: false }),
      15_000,
    );
    assert.doesNotMatch((await again.textContent()) ?? '', /Pick/, 'the organization is kept');
    assert.equal(page.url(), projectUrl);
    await visible(row.getByRole('cell', { name: demo.organization, exact: true }));
    await visible(row.getByText('Works'));
  });

  it('creates a sync through the oauth connection; its first run succeeds', async () => {
    const dialog = await openSyncDialog({
      name: 'oauth settings',
      connection: `demo-oauth (${demo.organization})`,
      project: 'Demo',
      group: 'oauth-settings',
    });
    await fillVariable(dialog, 1, { name: 'OAUTH_KEY', value: OAUTH_SECRET_VALUE, secret: true });
    await dialog.getByRole('button', { name: 'Create sync' }).click();
    await gone(dialog);
    await visible(page.getByText('Sync oauth settings was created; a run started.'));
    const card = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: 'oauth settings' }) });
    await visible(card.getByText('demo-oauth', { exact: true }));
    await visible(card.getByText('Succeeded'), 15_000);
  });

  it('a declined consent says so; the connection stays not connected and offers Connect', async () => {
    const projectUrl = page.url();
    await page.getByRole('button', { name: 'Add an app connection' }).click();
    const dialog = await visible(page.getByRole('dialog', { name: 'Add an app connection' }));
    await dialog.getByRole('radio', { name: /Microsoft Entra ID OAuth/ }).check();
    await dialog.getByLabel('Name').fill('declined');
    await dialog.getByLabel('Directory (tenant) ID').fill(demo.tenantId);
    await dialog.getByLabel('Organization (optional)').fill(demo.organization);
    await dialog.getByRole('button', { name: 'Create and connect' }).click();
    const cancel = page.locator('[data-testid="cancel"]');
    await cancel.waitFor({ timeout: 20_000 });
    await cancel.click();

    const alert = await visible(page.getByRole('alert').filter({ hasText: 'App connection declined was not connected.' }), 15_000);
    assert.match((await alert.textContent()) ?? '', /declined|denied|consent/i, 'says why');
    assert.equal(page.url(), projectUrl, 'the outcome parameters are dropped from the address bar');
    const row = page.getByRole('row', { name: /declined/ });
    await visible(row.getByText('Not connected'));
    await visible(row.getByRole('button', { name: 'Connect app connection declined' }));
    assert.equal(
      await page.getByRole('form', { name: 'Pick the organization of declined' }).count(),
      0,
      'nothing to pick without a consent',
    );
    await e2e.screenshot(page, 'app-connection-oauth-declined');
    await e2e.checkA11y(page, 'project: a declined oauth consent');

    await page.getByRole('button', { name: 'Delete app connection declined' }).click();
    const confirm = await visible(page.getByRole('dialog', { name: 'Delete app connection declined?' }));
    await confirm.getByRole('button', { name: 'Delete connection' }).click();
    await gone(confirm);
    await visible(page.getByText('App connection declined was deleted.'));
  });

  it('works at 400 px and in dark mode', async () => {
    await page.setViewportSize({ width: 400, height: 860 });
    await page.reload();
    await heading(page, 'Platform');
    await visible(page.getByRole('heading', { name: 'app settings' }));
    await assertNoHorizontalScroll(page, 'project at 400 px');
    await e2e.screenshot(page, 'narrow-project');
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.emulateMedia({ colorScheme: 'dark' });
    await e2e.screenshot(page, 'dark-project');
    await e2e.checkA11y(page, 'project (dark)');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('sent credentials and variable values only sealed (hpke1.), never in clear', async () => {
    assert.deepEqual(open.problems, [], 'no CSP violations or page errors');
    const plane = e2e.requests.filter((r) => new URL(r.url).origin === e2e.url);
    for (const r of plane) {
      const text = `${r.url}\n${r.body ?? ''}`;
      for (const secret of [demo.pat, WRONG_PAT, integration.clientSecret, SECRET_VALUE, CHANGED_SECRET, OAUTH_SECRET_VALUE])
        assert.ok(!text.includes(secret), `a secret went out in clear in ${r.method} ${r.url}`);
    }
    // The oauth consent went through the emulator too: the app's client secret never passed the browser.
    for (const r of e2e.requests) {
      const text = `${r.url}\n${JSON.stringify(r.headers)}\n${r.body ?? ''}`;
      assert.ok(!text.includes(integration.clientSecret), `the oauth app's client secret went through the browser in ${r.method} ${r.url}`);
    }
    assert.ok(!(await page.content()).includes(integration.clientSecret), "the oauth app's client secret is not on the page");
    const key = runnerPrivateKey(e2e.dataDir);
    const allCreates = plane
      .filter((r) => r.method === 'POST' && /\/app-connections$/.test(new URL(r.url).pathname))
      .map((r) => JSON.parse(r.body ?? '{}') as Record<string, string>);
    const oauthCreates = allCreates.filter((c) => c.method === 'oauth');
    assert.equal(oauthCreates.length, 2, 'demo-oauth, declined');
    assert.deepEqual(
      Object.keys(oauthCreates[0]!).sort(),
      ['id', 'method', 'name', 'runnerId', 'tenantId'],
      'no credential and no organization for oauth',
    );
    assert.deepEqual(
      Object.keys(oauthCreates[1]!).sort(),
      ['id', 'method', 'name', 'organization', 'runnerId', 'tenantId'],
      'no credential for oauth',
    );
    for (const c of oauthCreates) assert.equal(c.tenantId, demo.tenantId);
    const creates = allCreates.filter((c) => c.method !== 'oauth');
    assert.equal(creates.length, 3, 'wrong PAT, demo PAT, client secret');
    const opened = await Promise.all(
      creates.map((c) => {
        const sealed = c.sealedAccessToken ?? c.sealedClientSecret ?? '';
        assert.ok(sealed.startsWith('hpke1.'), 'sealed in the browser');
        assert.equal(c.accessToken ?? c.clientSecret, undefined);
        return unseal(key, sealed, `app-connection:${c.id}:secret`);
      }),
    );
    assert.deepEqual(opened, [WRONG_PAT, demo.pat, integration.clientSecret]);

    const writes = plane.filter(
      (r) => (r.method === 'PUT' || r.method === 'PATCH') && /\/syncs\/[^/]+\/variables$/.test(new URL(r.url).pathname),
    );
    assert.equal(writes.length, 4, 'app settings (twice), broken, oauth settings');
    const values = await Promise.all(
      writes.map((w) => {
        const syncId = new URL(w.url).pathname.split('/').at(-2)!;
        const body = JSON.parse(w.body ?? '{}') as { sealedValues: string; variables?: { value?: string }[]; set?: { value?: string }[] };
        assert.ok(body.sealedValues.startsWith('hpke1.'));
        for (const v of body.variables ?? body.set ?? []) assert.equal(v.value, undefined, 'no value outside the sealed object');
        return unseal(key, body.sealedValues, `sync:${syncId}:variables`).then((json) => JSON.parse(json) as Record<string, string>);
      }),
    );
    assert.deepEqual(values[0], { API_URL: 'https://api.example.test', API_KEY: SECRET_VALUE });
    assert.deepEqual(values[1], { API_KEY: CHANGED_SECRET }, 'only the changed value is sent');
    assert.deepEqual(values[3], { OAUTH_KEY: OAUTH_SECRET_VALUE });
  });

  it("an existing group: a sync's run refuses it until an owner adopts it, and a variable another sync wrote until the owner lets it take it over", async () => {
    // The group "app settings" created.
    const dialog = await openSyncDialog({
      name: 'adopter',
      connection: `demo-pat (${demo.organization})`,
      project: 'Demo',
      group: 'app-settings',
    });
    await visible(dialog.getByRole('group', { name: 'If the group already exists' }));
    await fillVariable(dialog, 1, { name: 'EXTRA', value: '1' });
    await dialog.getByRole('button', { name: 'Create sync' }).click();
    await gone(dialog);
    const card = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: 'adopter' }) });
    await visible(card.getByText("Last run failed: A variable group named 'app-settings' already exists", { exact: false }), 15_000);
    await visible(card.getByText('ask an owner of the Keyway project to adopt', { exact: false }));
    await e2e.screenshot(page, 'sync-existing-group-refused');

    await card.getByRole('button', { name: 'Existing group of adopter' }).click();
    const adopt = await visible(page.getByRole('dialog', { name: 'Existing group of adopter' }));
    await adopt.getByLabel('Adopt app-settings').check();
    await e2e.checkA11y(page, 'sync adoption dialog');
    await adopt.getByRole('button', { name: 'Save' }).click();
    await gone(adopt);
    await visible(page.getByText('adopter may now write into the existing group app-settings. Run it to sync.'));
    await visible(card.getByText('Adopted', { exact: true }));
    await card.getByRole('button', { name: 'Run now (adopter)' }).click();
    await visible(page.getByText('adopter: the run succeeded (1 created, 0 updated, 0 deleted, 0 unchanged).'));

    // API_KEY is in the group, written by the other sync: not this one's to change until taken over.
    await card.getByRole('button', { name: 'Change variables of adopter' }).click();
    const vars = await visible(page.getByRole('dialog', { name: 'Variables of adopter' }));
    await vars.getByRole('button', { name: 'Add variable' }).click();
    const added = vars.getByRole('group', { name: 'Variable 2' });
    await added.getByLabel('Name').fill('API_KEY');
    await added.getByLabel('Value').fill('rotated-by-adopter');
    await vars.getByRole('button', { name: 'Save variables' }).click();
    await gone(vars);
    await visible(card.getByText("already holds 'API_KEY', which Keyway did not write", { exact: false }), 15_000);
    await card.getByRole('button', { name: 'Existing group of adopter' }).click();
    const takeOver = await visible(page.getByRole('dialog', { name: 'Existing group of adopter' }));
    await takeOver.getByLabel('Variables it may take over (optional)').fill('API_KEY');
    await takeOver.getByRole('button', { name: 'Save' }).click();
    await gone(takeOver);
    await visible(card.getByText('Adopted; takes over API_KEY'));
    await card.getByRole('button', { name: 'Run now (adopter)' }).click();
    await visible(page.getByText('adopter: the run succeeded (0 created, 1 updated, 0 deleted, 1 unchanged).'));
    await e2e.screenshot(page, 'sync-adopted');
  });

  it('an owner pins the targets project members may use on a connection', async () => {
    const row = page.getByRole('row', { name: /demo-pat/ });
    await visible(row.getByText('Only owners add syncs through it'));
    await row.getByRole('button', { name: 'Member targets of demo-pat' }).click();
    const dialog = await visible(page.getByRole('dialog', { name: 'Member targets of demo-pat' }));
    await dialog.getByLabel('Targets members may use').fill('Demo/team-*');
    await e2e.checkA11y(page, 'member targets dialog');
    await dialog.getByRole('button', { name: 'Save targets' }).click();
    await gone(dialog);
    await visible(page.getByText('Project members may now add syncs through demo-pat to the groups listed.'));
    await visible(row.getByText(`Members may target ${demo.organization}/Demo/team-*`));
  });

  it("the Environments page shows each workspace's disk use and last use", async () => {
    const { csrfToken } = (await (await page.request.get('/api/v1/me')).json()) as { csrfToken: string };
    const headers = { 'x-csrf-token': csrfToken };
    const pat = await page.request.post('/api/v1/scm/pat', {
      headers,
      data: { integrationId: integration.id, organization: demo.organization, token: demo.pat },
    });
    assert.equal(pat.status(), 201, await pat.text());
    const runners = (await (await page.request.get('/api/v1/runners')).json()) as { runners: { id: string }[] };
    const created = await page.request.post('/api/v1/environments', {
      headers,
      data: { contextUrl: demo.repositoryUrl, runnerId: runners.runners[0]!.id },
    });
    assert.equal(created.status(), 201, await created.text());
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Environments' }).click();
    const row = page.getByRole('row', { name: /Ready/ });
    await visible(row, 20_000);
    await visible(row.getByText(/^\d+(\.\d)? (KB|MB)$/));
    await visible(row.getByText('not used yet'));
    await e2e.screenshot(page, 'environments-disk-use');
    await e2e.checkA11y(page, 'environments with disk use');

    // The environment came from the runner's repository cache, which its page shows (totals only).
    await page.goto(`/runners/${encodeURIComponent(runners.runners[0]!.id)}`);
    const cache = page.locator('.details > div', { has: page.getByText('Repository cache', { exact: true }) });
    await visible(cache.getByText(/^\d+(\.\d)? (KB|MB) of 10 GB, 1 repository$/), 20_000);
    await e2e.checkA11y(page, 'runner page with its repository cache');
  });
});
