import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { aadstsCode } from './testkit-errors.ts';
import {
  AZURE_DEVOPS_APP_ID,
  audience,
  parseClientCredentialsScope,
  parseDelegatedScope,
  responseScope,
  scopeForRefresh,
  scpClaim,
} from './scopes.ts';

const code = aadstsCode;

describe('scopes', () => {
  test('Azure DevOps scopes by GUID keep the GUID as audience; case-insensitive permission names', () => {
    const g = parseDelegatedScope(`openid offline_access ${AZURE_DEVOPS_APP_ID}/VSO.Code ${AZURE_DEVOPS_APP_ID}/vso.code_write`, 'T');
    assert.equal(g.resource.key, 'ado');
    assert.equal(audience(g), AZURE_DEVOPS_APP_ID);
    assert.deepEqual(g.permissions, ['vso.code', 'vso.code_write']);
    assert.deepEqual(g.oidc, ['openid', 'offline_access']);
    assert.equal(scpClaim(g), 'vso.code vso.code_write');
    assert.equal(responseScope(g), `${AZURE_DEVOPS_APP_ID}/vso.code ${AZURE_DEVOPS_APP_ID}/vso.code_write`);
  });

  test('the URI form gives a URI audience; .default means the registered permissions', () => {
    const g = parseDelegatedScope('https://app.vssps.visualstudio.com/.default', 'T');
    assert.equal(audience(g), 'https://app.vssps.visualstudio.com');
    assert.deepEqual(g.permissions, ['user_impersonation']);
  });

  test('OIDC-only requests get a Microsoft Graph token', () => {
    const g = parseDelegatedScope('openid profile', 'T');
    assert.equal(g.implicit, true);
    assert.equal(audience(g), '00000003-0000-0000-c000-000000000000');
    assert.equal(scpClaim(g), 'openid profile');
  });

  test('errors', () => {
    for (const [scope, aadsts] of [
      ['', 70011],
      [`${AZURE_DEVOPS_APP_ID}/vso.bogus`, 70011],
      [`${AZURE_DEVOPS_APP_ID}/.default ${AZURE_DEVOPS_APP_ID}/vso.code`, 70011],
      [`${AZURE_DEVOPS_APP_ID}/vso.code User.Read`, 28000],
      ['api://x/y', 500011],
      ['offline_access', 70011],
    ] as const) {
      assert.equal(
        code(() => parseDelegatedScope(scope, 'T')),
        aadsts,
        scope,
      );
    }
  });

  test('client credentials need exactly {resource}/.default', () => {
    assert.equal(audience(parseClientCredentialsScope(`${AZURE_DEVOPS_APP_ID}/.default`, 'T')), AZURE_DEVOPS_APP_ID);
    for (const [scope, aadsts] of [
      ['openid', 1002012],
      [`${AZURE_DEVOPS_APP_ID}/vso.code`, 1002012],
      ['api://x/.default', 500011],
      [undefined, 900144],
    ] as const) {
      assert.equal(
        code(() => parseClientCredentialsScope(scope, 'T')),
        aadsts,
        String(scope),
      );
    }
  });

  test('refresh: keeps the grant when no scope is sent, narrows, refuses more', () => {
    const orig = parseDelegatedScope(`openid offline_access ${AZURE_DEVOPS_APP_ID}/vso.code ${AZURE_DEVOPS_APP_ID}/vso.code_write`, 'T');
    const ctx = { tenantName: 'T', clientId: 'c', appName: 'A' };
    assert.equal(scopeForRefresh(orig, undefined, ctx), orig);
    assert.equal(scopeForRefresh(orig, ' ', ctx), orig);
    assert.deepEqual(scopeForRefresh(orig, `${AZURE_DEVOPS_APP_ID}/vso.code`, ctx).permissions, ['vso.code']);
    assert.equal(
      code(() => scopeForRefresh(orig, `${AZURE_DEVOPS_APP_ID}/vso.code_full`, ctx)),
      65001,
    );
    assert.equal(
      code(() => scopeForRefresh(orig, 'User.Read', ctx)),
      65001,
    );
  });
});
