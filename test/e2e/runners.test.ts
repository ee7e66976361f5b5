import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { isSealed, open as unseal } from '../../src/crypto/sealing.ts';
import { assertNoHorizontalScroll, e2eSkip, focused, gone, visible } from './support.ts';
import { adminOnRunners, startedE2E } from '../support/e2e-session.ts';
import type { OpenPage } from './support.ts';

// Runners and "Configure repository access" through the real UI against a real Keyway and its
// local runner. The provider's host is under .invalid (RFC 6761), so the runner's Save & Test
// fails on the host every time, wherever the tests run: the "saved, but the test failed" path.

const CLIENT_SECRET = `canary-${randomUUID()}`;
const CLIENT_ID = randomUUID();
const TENANT = randomUUID();
const HOST = 'ado.invalid';

async function heading(page: Page, name: string, level = 1) {
  return visible(page.getByRole('heading', { level, name, exact: true }));
}

describe('web UI: runners and repository access', { skip: e2eSkip() }, () => {
  let open: OpenPage;
  let page: Page;
  let integrationId = '';

  const e2e = startedE2E({}, async () => {
    open = await adminOnRunners(e2e);
    page = open.page;
  });

  it('registers a runner, showing its exchange token and command once', async () => {
    await heading(page, 'Runners');
    await visible(page.getByRole('link', { name: 'local', exact: true }));
    const register = page.getByRole('button', { name: 'Register a runner' });
    await register.click();
    const form = await visible(page.getByRole('dialog', { name: 'Register a runner' }));
    assert.equal((await focused(page)).inDialog, true, 'focus moves into the dialog');
    await form.getByLabel('Name').fill('build-eu-1');
    await form.getByRole('button', { name: 'Register runner' }).click();

    const shown = await visible(page.getByRole('dialog', { name: 'Runner build-eu-1 registered' }));
    const token = await shown.getByRole('textbox', { name: 'Exchange token' }).inputValue();
    const command = await shown.getByRole('textbox', { name: 'Command' }).inputValue();
    assert.ok(token.length > 20);
    assert.ok(command.includes(token), 'the command carries the exchange token');
    await visible(shown.getByRole('button', { name: 'Copy exchange token' }));
    await e2e.screenshot(page, 'runner-registered');
    await e2e.checkA11y(page, 'runner registered dialog');

    await shown.getByRole('button', { name: 'Done' }).click();
    await gone(shown);
    assert.equal((await focused(page)).text, 'Register a runner', 'focus returns to the opener');
    await visible(page.getByRole('row', { name: /build-eu-1/ }).getByText('Pending'));
    await page.reload();
    await heading(page, 'Runners');
    assert.ok(!(await page.content()).includes(token), 'the exchange token is not shown again');
  });

  it('revokes a runner after confirmation', async () => {
    await page.getByRole('button', { name: 'Revoke runner build-eu-1' }).click();
    const dialog = await visible(page.getByRole('dialog', { name: 'Revoke runner build-eu-1?' }));
    await dialog.getByRole('button', { name: 'Revoke runner' }).click();
    await gone(dialog);
    await visible(page.getByText('Runner build-eu-1 was revoked.'));
    await visible(page.getByRole('row', { name: /build-eu-1/ }).getByText('Revoked'));
    await e2e.screenshot(page, 'runners-admin');
    await e2e.checkA11y(page, 'runners');
  });

  it('adds an Azure DevOps provider; the client secret is sealed in the browser; a failed test is shown per field', async () => {
    await page.getByRole('link', { name: 'local', exact: true }).click();
    await heading(page, 'local');
    await heading(page, 'Configure repository access', 2);
    await visible(page.getByText('No providers configured yet.'));
    await e2e.screenshot(page, 'runner-detail');
    await e2e.checkA11y(page, 'runner detail');

    await page.getByRole('button', { name: 'Add a new provider' }).click();
    const dialog = await visible(page.getByRole('dialog', { name: 'Add a new provider' }));
    assert.equal(await dialog.getByRole('radio', { name: /Azure DevOps \(Entra ID\)/ }).isChecked(), true);
    const callback = await dialog.getByRole('textbox', { name: 'Callback URL' }).inputValue();
    const match = /^(.+)\/api\/v1\/oauth\/callback\/(int_[A-Za-z0-9_-]{16})$/.exec(callback);
    assert.ok(match, `callback URL ${callback}`);
    assert.equal(match[1], e2e.url);
    integrationId = match[2]!;

    const host = dialog.getByLabel('Host');
    assert.equal(await host.inputValue(), 'dev.azure.com', 'dev.azure.com is the default host');
    await host.fill(HOST);
    await dialog.getByLabel('Virtual directory').fill('/tfs');
    await dialog.getByLabel('Client ID').fill(CLIENT_ID);
    await dialog.getByLabel('Client secret').fill(CLIENT_SECRET);
    const issuer = dialog.getByLabel('Issuer URL');
    await issuer.fill('https://login.microsoftonline.com/contoso');
    await issuer.press('Tab');
    // The hint comes from the server's own normalizer: it names what is wrong with the tenant.
    await visible(
      dialog.getByText(
        '"contoso" is not a tenant: use the Directory (tenant) ID, a GUID, or a verified domain such as contoso.onmicrosoft.com.',
        { exact: false },
      ),
    );
    await issuer.fill(`https://login.microsoftonline.com/${TENANT}/oauth2/v2.0`);
    await issuer.press('Tab');
    await gone(dialog.getByText('is not a tenant', { exact: false }));
    await dialog.getByLabel('Enable Personal Access Token').check();
    await e2e.screenshot(page, 'integration-dialog');
    await e2e.checkA11y(page, 'add provider dialog');

    const answer = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/scm-integrations'));
    await dialog.getByRole('button', { name: 'Save & Test' }).click();
    const response = await answer;
    assert.equal(response.status(), 201, await response.text());
    const saved = (await response.json()) as { test: { valid: boolean; hostError?: string; oauthError?: string } };
    assert.equal(saved.test.valid, false);
    assert.ok(saved.test.hostError, 'the runner cannot reach a .invalid host');

    // Saved: the dialog now edits the integration, under its name.
    const saved2 = await visible(page.getByRole('dialog', { name: `Azure DevOps · ${HOST}` }));
    await visible(saved2.getByText('Saved, but the test failed.'));
    assert.equal(
      await saved2.getByLabel('Issuer URL').inputValue(),
      `https://login.microsoftonline.com/${TENANT}/v2.0`,
      'the form shows the normalized issuer',
    );
    assert.equal(await saved2.getByLabel('Host').getAttribute('aria-invalid'), 'true');
    await visible(saved2.locator('.field-error').getByText(saved.test.hostError!, { exact: true }));
    if (saved.test.oauthError) await visible(saved2.locator('fieldset .field-error').getByText(saved.test.oauthError, { exact: true }));
    const secret = saved2.getByLabel('Client secret');
    assert.equal(await secret.inputValue(), '', 'the secret is forgotten once saved');
    assert.equal(await secret.getAttribute('placeholder'), 'set — leave empty to keep');
    await e2e.screenshot(page, 'integration-test-failed');
    await e2e.checkA11y(page, 'provider test failed');

    // What went over the wire: the id chosen in the browser and a value sealed to the runner's key
    // with the integration's associated data, never the secret itself.
    const post = e2e.requests.find((r) => r.method === 'POST' && r.url.endsWith('/scm-integrations'));
    assert.ok(post?.body);
    const body = JSON.parse(post.body) as {
      id: string;
      scmId: string;
      host: string;
      virtualDirectory: string;
      oauth: Record<string, string>;
      pat: { enabled: boolean };
    };
    assert.equal(body.id, integrationId);
    assert.deepEqual(
      { scmId: body.scmId, host: body.host, virtualDirectory: body.virtualDirectory, pat: body.pat },
      { scmId: 'azure-devops', host: HOST, virtualDirectory: '/tfs', pat: { enabled: true } },
    );
    assert.deepEqual(Object.keys(body.oauth).sort(), ['clientId', 'issuerUrl', 'sealedClientSecret']);
    assert.ok(isSealed(body.oauth.sealedClientSecret));
    const key = JSON.parse(readFileSync(join(e2e.dataDir, 'runner-key.json'), 'utf8')) as { privateKey: string };
    assert.equal(
      await unseal(key.privateKey, body.oauth.sealedClientSecret!, `scm-integration:${integrationId}:oauth-client-secret`),
      CLIENT_SECRET,
    );
  });

  it('saves again without re-entering the secret, sending only what changed', async () => {
    const dialog = page.getByRole('dialog', { name: `Azure DevOps · ${HOST}` });
    const answer = page.waitForResponse((r) => r.request().method() === 'PATCH');
    await dialog.getByRole('button', { name: 'Save & Test' }).click();
    assert.equal((await answer).status(), 200);
    const patch = e2e.requests.filter((r) => r.method === 'PATCH').at(-1);
    assert.deepEqual(JSON.parse(patch?.body ?? 'null'), {}, 'nothing changed, so nothing is sent (and no credentials are purged)');
    await visible(dialog.getByText('Saved, but the test failed.'));

    await dialog.getByRole('button', { name: 'Close', exact: true }).click();
    await gone(dialog);
    await visible(page.getByText(`${HOST} was saved, but its test failed.`));
    const card = page.getByRole('listitem').filter({ hasText: `Azure DevOps · ${HOST}/tfs` });
    await visible(card.getByText('Failed'));
    assert.equal(
      await card.getByRole('textbox', { name: `Callback URL for ${HOST}` }).inputValue(),
      `${e2e.url}/api/v1/oauth/callback/${integrationId}`,
    );
    await e2e.screenshot(page, 'runner-detail-provider');
    await e2e.checkA11y(page, 'runner detail with provider');
  });

  it('opens the provider dialog at 400 px and closes it with Escape', async () => {
    await page.setViewportSize({ width: 400, height: 860 });
    await page.getByRole('button', { name: 'Add a new provider' }).click();
    const dialog = await visible(page.getByRole('dialog', { name: 'Add a new provider' }));
    await assertNoHorizontalScroll(page, 'provider dialog at 400 px');
    await e2e.screenshot(page, 'narrow-integration-dialog');
    await page.keyboard.press('Escape');
    await gone(dialog);
    assert.equal((await focused(page)).text, 'Add a new provider');
    await assertNoHorizontalScroll(page, 'runner page at 400 px');
    await e2e.screenshot(page, 'narrow-runner-detail');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('tests and deletes a provider', async () => {
    await page.getByRole('button', { name: `Test ${HOST}` }).click();
    await visible(page.getByText(`${HOST}: the test failed.`, { exact: false }));
    await page.getByRole('button', { name: `Delete ${HOST}` }).click();
    const dialog = await visible(page.getByRole('dialog', { name: `Delete ${HOST}?` }));
    await dialog.getByRole('button', { name: 'Delete provider' }).click();
    await gone(dialog);
    await visible(page.getByText('No providers configured yet.'));
  });

  it('never sent the client secret in the clear, and ran under the CSP', async () => {
    assert.deepEqual(open.problems, []);
    assert.ok(e2e.requests.length > 10);
    for (const r of e2e.requests) {
      const text = `${r.url}\n${JSON.stringify(r.headers)}\n${r.body ?? ''}`;
      assert.ok(!text.includes(CLIENT_SECRET), `the client secret went out in ${r.method} ${r.url}`);
    }
  });
});
