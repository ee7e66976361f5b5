import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { startWorkloadIssuer } from '../support/workload-issuer.ts';
import type { WorkloadIssuer } from '../support/workload-issuer.ts';
import { e2eSkip, gone, startE2E, visible } from './support.ts';
import type { E2E, OpenPage } from './support.ts';

// No client secret, through the real UI (`keyway start --demo`, its emulator and local runner): the
// admin switches the demo provider's Entra app to the runner's certificate, downloads the
// certificate, uploads it where an admin would (the emulator's app registration), and the change
// applies; then workload identity federation shows the issuer, subject and audience to enter.

describe('web UI: app credentials without a secret', { skip: e2eSkip() }, () => {
  let e2e: E2E;
  let open: OpenPage;
  let page: Page;
  let issuer: WorkloadIssuer;
  const tokenFile = join(mkdtempSync(join(tmpdir(), 'keyway-e2e-wif-')), 'azure-identity-token');
  let emulator: { services: string; control: string; tenant: string; clientId: string };

  before(async () => {
    issuer = await startWorkloadIssuer();
    await issuer.writeToken(tokenFile);
    e2e = await startE2E({ demo: true, env: { AZURE_FEDERATED_TOKEN_FILE: tokenFile } });
    const text = e2e.keyway.output();
    const control = /control API\s+(\S+)\/_emulator\/info\s+Authorization: Bearer (\S+)/.exec(text);
    const app = /OAuth app\s+tenant (\S+), client id (\S+),/.exec(text);
    assert.ok(control && app, `the demo printed its emulator:\n${text}`);
    emulator = { services: control[1]!, control: control[2]!, tenant: app[1]!, clientId: app[2]! };
    open = await e2e.newPage();
    page = open.page;
    await page.goto(e2e.signInLink);
    await page.waitForURL(`${e2e.url}/runners`);
  });
  after(async () => {
    await e2e?.close();
    await issuer?.close();
  });

  async function editProvider(): Promise<Locator> {
    await page.goto(`${e2e.url}/runners`);
    await page.getByRole('link', { name: 'local', exact: true }).click();
    await page.getByRole('button', { name: 'Edit dev.azure.com' }).click();
    return visible(page.getByRole('dialog', { name: 'Azure DevOps · dev.azure.com' }));
  }

  it("switches to the runner's certificate: the certificate is offered for download with its thumbprint; uploaded, the change applies", async () => {
    const dialog = await editProvider();
    await dialog.getByRole('radio', { name: /Certificate \(no secret\)/ }).check();
    assert.equal(await dialog.getByRole('textbox', { name: 'Client secret' }).count(), 0, 'no secret to enter');
    await dialog.getByRole('button', { name: 'Save & Test' }).click();

    // The certificate is not uploaded yet: the working client secret keeps serving, the change waits.
    await visible(dialog.getByText('Not applied: the change failed its test', { exact: false }));
    await visible(dialog.getByText('not uploaded yet', { exact: false }));
    const thumbprint = await dialog.getByRole('textbox', { name: 'Thumbprint', exact: true }).inputValue();
    assert.match(thumbprint, /^[0-9A-F]{40}$/);
    await visible(dialog.getByText(`the thumbprint this runner signs with (${thumbprint})`, { exact: false }));
    await e2e.screenshot(page, 'certificate-to-upload');
    await e2e.checkA11y(page, 'certificate to upload');

    const downloading = page.waitForEvent('download');
    await dialog.getByRole('link', { name: 'Download certificate (.cer)' }).click();
    const download = await downloading;
    assert.match(download.suggestedFilename(), /^keyway-int_.*\.cer$/);
    const der = readFileSync((await download.path())!);
    const certificate = new X509Certificate(der);
    assert.equal(certificate.fingerprint.replace(/:/g, ''), thumbprint, 'the file is the certificate the thumbprint names');
    assert.ok(!der.toString('latin1').includes('PRIVATE KEY'));

    // The admin uploads it to the app registration (Certificates & secrets → Certificates).
    const uploaded = await fetch(`${emulator.services}/_emulator/tenants/${emulator.tenant}/apps/${emulator.clientId}/certificates`, {
      method: 'POST',
      headers: { authorization: `Bearer ${emulator.control}`, 'content-type': 'application/json' },
      body: JSON.stringify({ certificate: der.toString('base64') }),
    });
    assert.equal(uploaded.status, 200, await uploaded.text());

    await dialog.getByRole('button', { name: 'Save & Test' }).click();
    await gone(dialog);
    await visible(page.getByText('dev.azure.com was saved and the test passed.', { exact: false }));
    await visible(page.getByText("The runner's certificate (no secret)"));
    await e2e.screenshot(page, 'certificate-in-use');
  });

  it("workload identity federation: the issuer, subject and audience to enter in Entra ID come from the runner's token", async () => {
    const dialog = await editProvider();
    // The certificate in use is shown with its downloads when the dialog opens again.
    await visible(dialog.getByRole('link', { name: 'Download certificate (.cer)' }));
    await dialog.getByRole('radio', { name: /Workload identity federation/ }).check();
    await dialog.getByRole('button', { name: 'Save & Test' }).click();
    await visible(dialog.getByText('AADSTS700211', { exact: false }));
    assert.equal(await dialog.getByRole('textbox', { name: 'Issuer', exact: true }).inputValue(), issuer.issuer);
    assert.equal(await dialog.getByRole('textbox', { name: 'Subject identifier', exact: true }).inputValue(), issuer.subject());
    assert.equal(await dialog.getByRole('textbox', { name: 'Audience', exact: true }).inputValue(), 'api://AzureADTokenExchange');
    await visible(dialog.getByRole('button', { name: 'Copy subject identifier' }));
    await e2e.screenshot(page, 'federated-credential-values');
    await e2e.checkA11y(page, 'federated credential values');
    await dialog.getByRole('button', { name: 'Discard the change' }).click();
    await gone(dialog);
    await visible(page.getByText('The change was discarded', { exact: false }));
  });

  it('no private key went to the browser, and the pages ran under the CSP', () => {
    assert.deepEqual(open.problems, []);
    for (const r of e2e.requests) assert.ok(!(r.body ?? '').includes('PRIVATE KEY'), `${r.method} ${r.url}`);
    assert.ok(!e2e.keyway.output().includes('PRIVATE KEY'));
  });
});
