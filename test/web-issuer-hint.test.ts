// Case 9 of issue 14: the integration dialog's issuer field accepts every form the API normalizes
// (it asks the same normalizer), and says before saving what the API refuses.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { issuerWarning } from '../web/src/issuer-hint.ts';
import { normalizeIssuerUrl } from '../src/entra/issuer.ts';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';

describe('the issuer hint of the integration dialog', () => {
  it('is silent for every form the API normalizes', () => {
    for (const form of [
      `https://login.microsoftonline.com/${TENANT}/v2.0`,
      `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0`,
      `https://login.microsoftonline.com/${TENANT}/v2.0/.well-known/openid-configuration`,
      `https://login.microsoftonline.com/${TENANT}`,
      `login.microsoftonline.com/${TENANT}/v2.0`,
      `https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0`,
      `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/authorize`,
      `http://127.0.0.1:4000/${TENANT}/v2.0`,
    ]) {
      // The API takes it (for the emulator origin, when that is configured).
      assert.ok(normalizeIssuerUrl(form, { authorityOrigins: ['http://127.0.0.1:4000'] }));
      assert.equal(issuerWarning(form), undefined, form);
    }
  });

  it('says what the API refuses: common/organizations, v1.0, placeholders, credentials', () => {
    assert.match(issuerWarning('https://login.microsoftonline.com/common/v2.0') ?? '', /any tenant.*tenant's ID/);
    assert.match(issuerWarning('https://login.microsoftonline.com/organizations/oauth2/v2.0') ?? '', /any tenant/);
    assert.match(issuerWarning(`https://login.microsoftonline.com/${TENANT}/oauth2/token`) ?? '', /v1\.0/);
    assert.match(issuerWarning('https://login.microsoftonline.com/{tenant-id}/v2.0') ?? '', /placeholder/);
    assert.match(issuerWarning(`https://login.microsoftonline.com/${TENANT}/v2.0?client_secret=x`) ?? '', /credentials/);
    assert.match(issuerWarning('not an issuer') ?? '', /https/);
    assert.equal(
      issuerWarning('https://login.microsoftonline.com/contoso'),
      '"contoso" is not a tenant: use the Directory (tenant) ID, a GUID, or a verified domain such as contoso.onmicrosoft.com. Expected https://login.microsoftonline.com/{tenant-id}/v2.0.',
    );
  });
});
