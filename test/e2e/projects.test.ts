import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { open as unseal } from '../../src/crypto/sealing.ts';
import { assertNoHorizontalScroll, demoIntegration, e2eSkip, gone, runnerPrivateKey, startE2E, visible } from './support.ts';
import type { DemoInfo, E2E, OpenPage } from './support.ts';

// Projects, app connections and variable group syncs through the UI, against `keyway start --demo`:
// an access-token connection with the emulator's PAT (a wrong one first), a client-secret connection
// the emulator refuses (its service principal is not in the organization), oauth not set up, syncs
// with plain and secret variables, runs, run history and a failing run. Credentials and variable
// values must only ever leave the browser sealed.

const SECRET_VALUE = `canary-${randomBytes(12).toString('hex')}`;
const CHANGED_SECRET = `canary-${randomBytes(12).toString('hex')}`;
const WRONG_PAT = `wrong${randomBytes(24).toString('hex')}`;

async function heading(page: Page, name: string, level = 1) {
  return visible(page.getByRole('heading', { level, name, exact: true }));
}

describe('web UI: projects, app connections and variable group syncs (demo mode)', { skip: e2eSkip() }, () => {
  let e2e: E2E;
  let demo: DemoInfo;
  let integration: Awaited<ReturnType<typeof demoIntegration>>;
  let open: OpenPage;
  let page: Page;

  before(async () => {
    e2e = await startE2E({ demo: true });
    demo = e2e.demo!;
    integration = await demoIntegration(e2e.dataDir);
    open = await e2e.newPage();
    page = open.page;
    await page.goto(e2e.signInLink);
    await page.waitForURL(`${e2e.url}/runners`);
  });
  after(async () => e2e?.close());

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

  it("adds a client-secret connection the emulator refuses, saying why; oauth is not set up on this Keyway", async () => {
    await page.getByRole('button', { name: 'Add an app connection' }).click();
    const dialog = await visible(page.getByRole('dialog', { name: 'Add an app connection' }));
    await dialog.getByRole('radio', { name: /Microsoft Entra ID OAuth/ }).check();
    await visible(dialog.getByText('KEYWAY_AZURE_DEVOPS_CLIENT_ID is not set', { exact: false }));
    assert.equal(await dialog.getByRole('button', { name: 'Create and test' }).isDisabled(), true);

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
    await page.getByRole('button', { name: 'Add a sync' }).click();
    const dialog = await visible(page.getByRole('dialog', { name: 'Add a variable group sync' }));
    await dialog.getByLabel('Sync name').fill('app settings');
    await dialog.getByLabel('Azure DevOps project').fill('Demo');
    await dialog.getByLabel('Variable group').fill('app-settings');
    const first = dialog.getByRole('group', { name: 'Variable 1' });
    await first.getByLabel('Name').fill('API_URL');
    await first.getByLabel('Value').fill('https://api.example.test');
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
    await visible(card.getByRole('region', { name: 'Run history of app settings' }).getByText('0 created, 1 updated, 1 deleted, 0 unchanged'), 15_000);
    await e2e.screenshot(page, 'project-syncs');
    await e2e.checkA11y(page, 'project with syncs');
  });

  it('shows why a run failed, and deletes the sync after confirmation', async () => {
    await page.getByRole('button', { name: 'Add a sync' }).click();
    const dialog = await visible(page.getByRole('dialog', { name: 'Add a variable group sync' }));
    await dialog.getByLabel('Sync name').fill('broken');
    await dialog.getByLabel('Azure DevOps project').fill('NoSuchProject');
    await dialog.getByLabel('Variable group').fill('g');
    const first = dialog.getByRole('group', { name: 'Variable 1' });
    await first.getByLabel('Name').fill('X');
    await first.getByLabel('Value').fill('1');
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
      for (const secret of [demo.pat, WRONG_PAT, integration.clientSecret, SECRET_VALUE, CHANGED_SECRET]) assert.ok(!text.includes(secret), `a secret went out in clear in ${r.method} ${r.url}`);
    }
    const key = runnerPrivateKey(e2e.dataDir);
    const creates = plane.filter((r) => r.method === 'POST' && /\/app-connections$/.test(new URL(r.url).pathname)).map((r) => JSON.parse(r.body ?? '{}') as Record<string, string>);
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

    const writes = plane.filter((r) => (r.method === 'PUT' || r.method === 'PATCH') && /\/syncs\/[^/]+\/variables$/.test(new URL(r.url).pathname));
    assert.equal(writes.length, 3);
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
  });
});
