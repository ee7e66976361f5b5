// Pure helpers: PAT format and storage, scope hierarchy, api-version negotiation, host rewriting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generatePat, hashSecret, looksLikePat, makeDescriptor } from './ids.ts';
import { normalizeScopes, scopesGrant } from './scopes.ts';
import { checkApiVersion, parseApiVersion, requestedApiVersion } from './api-version.ts';
import { rewriteVisualStudioHost } from '../server.ts';
import { readCredential } from './auth.ts';

test('PATs: 84 characters with AZDO at positions 77-80, distinct, stored as a hash only', () => {
  const a = generatePat();
  const b = generatePat();
  assert.equal(a.length, 84);
  assert.equal(a.slice(76, 80), 'AZDO');
  assert.match(a, /^[A-Za-z0-9]+$/);
  assert.notEqual(a, b);
  assert.ok(looksLikePat(a));
  assert.ok(looksLikePat('a'.repeat(52)));
  assert.ok(!looksLikePat('eyJhbGciOi.x.y'));
  assert.equal(hashSecret(a).length, 64);
  assert.ok(!hashSecret(a).includes(a.slice(0, 10)));
  assert.match(makeDescriptor('aad', 'bac0f2d7-407d-78da-9a25-6baf501acce9'), /^aad\.YmFjMGYyZDctNDA3ZC03OGRhLTlhMjUtNmJhZjUwMWFjY2U5$/);
});

test('scopes: wider scopes include narrower ones; full access covers everything', () => {
  assert.ok(scopesGrant(['vso.code_write'], 'vso.code'));
  assert.ok(!scopesGrant(['vso.code'], 'vso.code_write'));
  assert.ok(scopesGrant(['vso.variablegroups_manage'], 'vso.variablegroups_read'));
  assert.ok(!scopesGrant(['vso.variablegroups_read'], 'vso.variablegroups_write'));
  assert.ok(scopesGrant(['app_token'], 'vso.profile'));
  assert.ok(!scopesGrant(['vso.code'], 'vso.project'));
  assert.deepEqual(
    normalizeScopes('499b84ac-1321-427f-aa17-267ca6975798/vso.code https://app.vssps.visualstudio.com/.default User_Impersonation'),
    ['vso.code', '.default', 'user_impersonation'],
  );
});

test('api-version: from the query or the Accept header; range and preview rules', () => {
  assert.equal(requestedApiVersion({ 'api-version': '7.1' }, undefined), '7.1');
  assert.equal(requestedApiVersion({}, 'application/json; api-version=7.1-preview.1'), '7.1-preview.1');
  assert.deepEqual(parseApiVersion('7.1-preview.4'), { raw: '7.1-preview.4', major: 7, minor: 1, preview: true, resourceVersion: 4 });
  const policy = { max: '7.2', released: '7.1' };
  assert.equal(checkApiVersion('7.1', 'GET', policy).ok, true);
  assert.equal(checkApiVersion('6.0', 'GET', policy).ok, true);
  assert.equal(checkApiVersion('7.2-preview', 'GET', policy).ok, true);
  const missing = checkApiVersion(undefined, 'post', policy);
  assert.ok(!missing.ok && missing.message.startsWith('No api-version was supplied for the "POST" request.'));
  const preview = checkApiVersion('7.1', 'GET', { max: '7.2', released: '0.0' });
  assert.ok(!preview.ok && preview.typeKey === 'VssInvalidPreviewVersionException');
  const server = checkApiVersion('7.2-preview.1', 'GET', { max: '7.1', released: '7.1' });
  assert.ok(!server.ok && server.message.endsWith('The latest REST API version this server supports is 7.1.'));
  assert.ok(!checkApiVersion('latest', 'GET', policy).ok);
});

test('{org}.localhost rewriting plays {org}.visualstudio.com', () => {
  const r = (host: string, url: string): string => rewriteVisualStudioHost({ url, headers: { host } });
  assert.equal(
    r('contoso.localhost:8080', '/Web/_git/app/info/refs?service=git-upload-pack'),
    '/contoso/Web/_git/app/info/refs?service=git-upload-pack',
  );
  assert.equal(r('contoso.localhost:8080', '/DefaultCollection/_apis/projects'), '/contoso/_apis/projects');
  assert.equal(r('contoso.localhost:8080', '/'), '/contoso/');
  assert.equal(r('127.0.0.1:8080', '/contoso/_apis/projects'), '/contoso/_apis/projects');
  assert.equal(r('contoso.localhost:8080', '/_emulator/info'), '/_emulator/info');
});

test('credentials: Basic with any user name, Bearer, and other schemes', () => {
  assert.deepEqual(readCredential(`Basic ${Buffer.from(':secret').toString('base64')}`), {
    kind: 'basic',
    username: '',
    password: 'secret',
  });
  assert.deepEqual(readCredential(`Basic ${Buffer.from('x:a:b').toString('base64')}`), { kind: 'basic', username: 'x', password: 'a:b' });
  assert.deepEqual(readCredential('Bearer abc'), { kind: 'bearer', token: 'abc' });
  assert.equal(readCredential('NTLM TlRMTVNT').kind, 'unsupported');
  assert.equal(readCredential(undefined).kind, 'none');
});
