import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import {
  EXPECTED_ISSUER_FORM,
  InvalidIssuerUrlError,
  normalizeIssuerUrl,
  resolveIssuerForTenantId,
  type NormalizeIssuerOptions,
} from './issuer.ts';

const TENANT = randomUUID();
const CANARY = `canary-${randomUUID()}`;
const MS = 'https://login.microsoftonline.com';

const CANONICAL = {
  issuer: `${MS}/${TENANT}/v2.0`,
  tenant: TENANT,
  tenantKind: 'id',
  multiTenant: false,
  exactIssuer: true,
  authorityOrigin: MS,
  discoveryUrl: `${MS}/${TENANT}/v2.0/.well-known/openid-configuration`,
  authorizeEndpointHint: `${MS}/${TENANT}/oauth2/v2.0/authorize`,
  tokenEndpointHint: `${MS}/${TENANT}/oauth2/v2.0/token`,
};

// Every form an admin pastes for the same tenant.
const ACCEPTED_FORMS = [
  `${MS}/${TENANT}/oauth2/v2.0`,
  `${MS}/${TENANT}/oauth2/v2.0/`,
  `${MS}/${TENANT}/v2.0`,
  `${MS}/${TENANT}/v2.0/`,
  `${MS}/${TENANT}/v2.0/.well-known/openid-configuration`,
  `${MS}/${TENANT}/oauth2/v2.0/authorize`,
  `${MS}/${TENANT}/oauth2/v2.0/token`,
  `${MS}/${TENANT}/oauth2/v2.0/devicecode`,
  `${MS}/${TENANT}/oauth2/v2.0/logout`,
  `${MS}/${TENANT}/discovery/v2.0/keys`,
  `${MS}/${TENANT}/oauth2/v2.0/authorize?client_id=${randomUUID()}&response_type=code&scope=openid`,
  `${MS}/${TENANT}/v2.0/.well-known/openid-configuration?appid=${randomUUID()}`,
  `${MS}/${TENANT}/v2.0#section`,
  `${MS}/${TENANT}`,
  `${MS}/${TENANT}/`,
  `  ${MS}/${TENANT}/v2.0 \n`,
  `HTTPS://LOGIN.MICROSOFTONLINE.COM/${TENANT}/v2.0`,
  `https://Login.MicrosoftOnline.com/${TENANT.toUpperCase()}/V2.0`,
  `${MS}:443/${TENANT}/v2.0`,
  `https://login.windows.net/${TENANT}/v2.0`,
  `https://login.microsoft.com/${TENANT}/oauth2/v2.0`,
  `login.microsoftonline.com/${TENANT}/v2.0`,
];

function issuerError(input: string, options?: NormalizeIssuerOptions): InvalidIssuerUrlError {
  try {
    normalizeIssuerUrl(input, options);
  } catch (error) {
    assert.ok(error instanceof InvalidIssuerUrlError, `expected InvalidIssuerUrlError, got ${String(error)}`);
    assert.ok(error.message.includes(EXPECTED_ISSUER_FORM), 'message shows the expected form');
    assert.ok(error.message.includes(error.reason));
    assert.doesNotMatch(error.message, /[\r\n]/);
    return error;
  }
  assert.fail(`expected ${JSON.stringify(input)} to be rejected`);
}

describe('normalizeIssuerUrl: accepted forms', () => {
  for (const form of ACCEPTED_FORMS) {
    it(`normalizes ${JSON.stringify(form.slice(0, 100))}`, () => {
      assert.deepEqual(normalizeIssuerUrl(form), CANONICAL);
    });
  }

  it('accepts verified domains, lower-cased, and marks the issuer inexact', () => {
    for (const domain of ['contoso.onmicrosoft.com', 'Contoso.COM', 'sub.contoso.co.uk']) {
      const result = normalizeIssuerUrl(`${MS}/${domain}/oauth2/v2.0`);
      assert.equal(result.tenant, domain.toLowerCase());
      assert.equal(result.tenantKind, 'domain');
      assert.equal(result.issuer, `${MS}/${domain.toLowerCase()}/v2.0`);
      assert.equal(result.multiTenant, false);
      assert.equal(result.exactIssuer, false, 'discovery answers with the GUID issuer');
    }
  });

  it('flags common, organizations and consumers as multi-tenant', () => {
    for (const tenant of ['common', 'organizations', 'consumers']) {
      for (const form of [`${MS}/${tenant}/v2.0`, `${MS}/${tenant.toUpperCase()}/oauth2/v2.0/authorize`]) {
        const result = normalizeIssuerUrl(form);
        assert.equal(result.tenant, tenant);
        assert.equal(result.tenantKind, tenant);
        assert.equal(result.multiTenant, true);
        assert.equal(result.exactIssuer, false);
        assert.equal(result.issuer, `${MS}/${tenant}/v2.0`);
        assert.equal(result.discoveryUrl, `${MS}/${tenant}/v2.0/.well-known/openid-configuration`);
      }
    }
  });

  it('keeps sovereign clouds on their own authority', () => {
    for (const host of [
      'login.microsoftonline.us',
      'login.chinacloudapi.cn',
      'login.microsoftonline.de',
      'login.partner.microsoftonline.cn',
    ]) {
      const result = normalizeIssuerUrl(`https://${host.toUpperCase()}/${TENANT}/oauth2/v2.0/`);
      assert.equal(result.authorityOrigin, `https://${host}`);
      assert.equal(result.issuer, `https://${host}/${TENANT}/v2.0`);
      assert.equal(result.authorizeEndpointHint, `https://${host}/${TENANT}/oauth2/v2.0/authorize`);
    }
  });

  it('accepts configured extra origins, http included', () => {
    const options = { authorityOrigins: ['http://127.0.0.1:4000'] };
    const result = normalizeIssuerUrl(`http://127.0.0.1:4000/${TENANT}/oauth2/v2.0`, options);
    assert.equal(result.authorityOrigin, 'http://127.0.0.1:4000');
    assert.equal(result.issuer, `http://127.0.0.1:4000/${TENANT}/v2.0`);
    // Only that exact origin.
    assert.match(issuerError(`http://127.0.0.1:4001/${TENANT}/v2.0`, options).reason, /not a Microsoft Entra ID sign-in host/);
    assert.match(issuerError(`http://127.0.0.1:4000/${TENANT}/v2.0`).reason, /not a Microsoft Entra ID sign-in host/);
  });

  it('refuses malformed extra origins as configuration errors', () => {
    assert.throws(() => normalizeIssuerUrl(`${MS}/${TENANT}/v2.0`, { authorityOrigins: ['127.0.0.1:4000'] }), TypeError);
    assert.throws(() => normalizeIssuerUrl(`${MS}/${TENANT}/v2.0`, { authorityOrigins: ['http://127.0.0.1:4000/entra'] }), TypeError);
  });
});

describe('normalizeIssuerUrl: rejections', () => {
  const cases: Array<[input: string, reason: string]> = [
    ['', 'the issuer URL is empty'],
    ['   ', 'the issuer URL is empty'],
    [`${MS}/${TENANT}/${'v'.repeat(2100)}`, 'the limit is 2048'],
    [`${MS}/${TENANT}/v2.0\n`.replace('\n', '\nx'), 'control character'],
    [`${MS}\\${TENANT}\\v2.0`, 'backslash'],
    ['javascript:alert(1)', 'must start with https://'],
    ['contoso.onmicrosoft.com', 'must start with https://'],
    [`http://login.microsoftonline.com/${TENANT}/v2.0`, 'use https, not http'],
    [`ftp://login.microsoftonline.com/${TENANT}/v2.0`, 'use https, not ftp'],
    [`https://accounts.google.com/${TENANT}/v2.0`, '"accounts.google.com" is not a Microsoft Entra ID sign-in host'],
    [`https://login.microsoftonline.com.evil.example/${TENANT}/v2.0`, 'is not a Microsoft Entra ID sign-in host'],
    [`https://contoso.b2clogin.com/${TENANT}/v2.0`, 'B2C'],
    [`https://sts.windows.net/${TENANT}/`, 'v1.0 token issuer'],
    [`${MS}:8443/${TENANT}/v2.0`, 'unexpected port 8443'],
    [`${MS}/${TENANT}/oauth2/authorize`, 'v1.0 endpoint; use the v2.0 endpoint'],
    [`${MS}/${TENANT}/oauth2/token`, 'v1.0 endpoint'],
    [`${MS}/${TENANT}/oauth2`, 'v1.0 endpoint'],
    [`${MS}/${TENANT}/oauth2/v1.0/authorize`, 'v1.0 endpoint'],
    [`${MS}/${TENANT}/.well-known/openid-configuration`, 'v1.0 endpoint'],
    [`${MS}/${TENANT}/federationmetadata/2007-06/federationmetadata.xml`, 'v1.0 endpoint'],
    [`${MS}/`, 'the tenant is missing'],
    [MS, 'the tenant is missing'],
    [`${MS}/v2.0`, 'the tenant is missing'],
    [`${MS}/oauth2/v2.0/authorize`, 'the tenant is missing'],
    [`${MS}//${TENANT}/v2.0`, 'empty path segment'],
    [`${MS}/{tenantid}/v2.0`, 'is a placeholder'],
    [`${MS}/%7Btenantid%7D/v2.0`, 'is a placeholder'],
    [`${MS}/{tenant-id}/oauth2/v2.0`, 'is a placeholder'],
    [`${MS}/contoso/v2.0`, 'is not a tenant'],
    [`${MS}/not_a_tenant.com/v2.0`, 'is not a tenant'],
    [`${MS}/${TENANT}x/v2.0`, 'is not a tenant'],
    [`${MS}/${TENANT}/v2.0/extra`, 'unexpected path "/v2.0/extra" after the tenant'],
    [`${MS}/${TENANT}/saml2`, 'unexpected path'],
    [`${MS}/${TENANT}/../common/v2.0`, '".." path segment'],
    [`${MS}/${TENANT}/%2e%2e/v2.0`, '".." path segment'],
    [`${MS}/%ZZ/v2.0`, 'malformed percent-encoding'],
  ];
  for (const [input, reason] of cases) {
    it(`rejects ${JSON.stringify(input.slice(0, 90))}`, () => {
      const error = issuerError(input);
      assert.ok(error.reason.includes(reason), `reason ${JSON.stringify(error.reason)} lacks ${JSON.stringify(reason)}`);
    });
  }

  it('rejects credentials in user info, query or fragment without echoing them', () => {
    const jwtShaped = ['eyJ', Buffer.from(CANARY).toString('base64url'), '.', Buffer.from(CANARY).toString('base64url'), '.sig'].join('');
    const inputs: Array<[string, string]> = [
      [`https://admin:${CANARY}@login.microsoftonline.com/${TENANT}/v2.0`, 'remove the credentials from the URL'],
      [`${MS}/${TENANT}/v2.0?client_secret=${CANARY}`, 'the query carries credentials ("client_secret")'],
      [`${MS}/${TENANT}/oauth2/v2.0/authorize?my_app_secret=${CANARY}`, 'the query carries credentials'],
      [`${MS}/${TENANT}/oauth2/v2.0/authorize#code=${CANARY}&state=x`, 'the fragment carries credentials ("code")'],
      [`${MS}/${TENANT}/v2.0?x=${jwtShaped}`, 'the query carries credentials ("x")'],
      [`${MS}/${TENANT}/v2.0#id_token=${jwtShaped}`, 'the fragment carries credentials'],
    ];
    for (const [input, reason] of inputs) {
      const error = issuerError(input);
      assert.ok(error.reason.includes(reason), `${error.reason} lacks ${reason}`);
      assert.ok(!error.message.includes(CANARY));
      assert.ok(!error.message.includes(jwtShaped));
      assert.ok(!String(error.stack).includes(CANARY));
    }
  });

  it('rejects non-string input with its own error', () => {
    issuerError(undefined as unknown as string);
  });
});

describe('normalizeIssuerUrl: properties', () => {
  it('maps every accepted form of any tenant GUID to one issuer', () => {
    const suffixes = [
      '',
      '/',
      '/v2.0',
      '/v2.0/',
      '/oauth2/v2.0',
      '/oauth2/v2.0/authorize',
      '/oauth2/v2.0/token',
      '/v2.0/.well-known/openid-configuration',
    ];
    fc.assert(
      fc.property(fc.uuid(), fc.constantFrom(...suffixes), fc.boolean(), fc.constantFrom('', ' ', '\n'), (tid, suffix, upper, pad) => {
        const tenant = upper ? tid.toUpperCase() : tid;
        const result = normalizeIssuerUrl(`${pad}${MS}/${tenant}${suffix}${pad}`);
        assert.equal(result.issuer, `${MS}/${tid.toLowerCase()}/v2.0`);
        assert.equal(result.tenant, tid.toLowerCase());
      }),
    );
  });

  it('throws nothing but InvalidIssuerUrlError for arbitrary input', () => {
    const fragments = [
      MS,
      'https://',
      'http://',
      'login.microsoftonline.com',
      '/',
      TENANT,
      'common',
      'v2.0',
      'oauth2',
      'authorize',
      '.well-known',
      'openid-configuration',
      '?',
      '#',
      '&',
      '=',
      'code',
      '{tenantid}',
      '%7B',
      '%ZZ',
      '..',
      '\\',
      '@',
      ':',
      ' ',
      '\n',
      '😀',
    ];
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 200 }),
          fc.array(fc.constantFrom(...fragments), { maxLength: 16 }).map((a) => a.join('')),
          fc.webUrl(),
        ),
        (input) => {
          try {
            const result = normalizeIssuerUrl(input);
            // Whatever is accepted is stable.
            assert.deepEqual(normalizeIssuerUrl(result.issuer), result);
          } catch (error) {
            if (!(error instanceof InvalidIssuerUrlError)) throw error;
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('resolveIssuerForTenantId', () => {
  it('resolves the multi-tenant template from the token tid', () => {
    const tid = randomUUID();
    const common = normalizeIssuerUrl(`${MS}/common/v2.0`);
    assert.equal(resolveIssuerForTenantId(common, tid.toUpperCase()), `${MS}/${tid}/v2.0`);
    const gov = normalizeIssuerUrl('https://login.microsoftonline.us/organizations/oauth2/v2.0');
    assert.equal(resolveIssuerForTenantId(gov, tid), `https://login.microsoftonline.us/${tid}/v2.0`);
  });

  it('refuses a tid that is not a GUID', () => {
    const common = normalizeIssuerUrl(`${MS}/common/v2.0`);
    assert.throws(() => resolveIssuerForTenantId(common, '{tenantid}'), TypeError);
    assert.throws(() => resolveIssuerForTenantId(common, '../evil'), TypeError);
  });
});
