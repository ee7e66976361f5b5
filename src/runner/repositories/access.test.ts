import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AzureDevOpsError } from '../../azure-devops/errors.ts';
import { HandlerError } from '../agent.ts';
import { classifyAzureDevOpsError, classifyTokenError } from './access.ts';
import type { CredentialFacts } from './access.ts';
import { offsetPage, pageSize, skipPage } from './paging.ts';

const TENANT = '11111111-2222-3333-4444-555555555555';
const facts = (over: Partial<CredentialFacts> = {}): CredentialFacts => ({
  kind: 'pat',
  deployment: 'services',
  organization: 'fabrikam',
  what: 'repository "Web/web"',
  ...over,
});
const anonymous = 'TF400813: Resource not available for anonymous access. Client authentication required.';
const refused = "TF400813: The user 'aaaa' is not authorized to access this resource.";
const err401 = (adoMessage: string, tenant?: string) =>
  new AzureDevOpsError({
    kind: 'unauthenticated',
    message: 'x',
    status: 401,
    adoMessage,
    tfCode: 'TF400813',
    ...(tenant ? { resourceTenantId: tenant } : {}),
  });

describe('CheckRepositoryAccess reasons from Azure DevOps answers', () => {
  it('404 (TF401019 and project not found) and 403 are not_found, saying the two cases look alike', () => {
    const missing = classifyAzureDevOpsError(
      new AzureDevOpsError({ kind: 'not-found', message: 'x', status: 404, tfCode: 'TF401019' }),
      facts(),
    );
    assert.equal(missing.reason, 'not_found');
    assert.match(missing.message, /404 TF401019 for both/);
    assert.equal(
      classifyAzureDevOpsError(new AzureDevOpsError({ kind: 'not-found', message: 'x', status: 404, tfCode: 'TF200016' }), facts()).reason,
      'not_found',
    );
    assert.equal(
      classifyAzureDevOpsError(new AzureDevOpsError({ kind: 'forbidden', message: 'x', status: 403 }), facts()).reason,
      'not_found',
    );
  });

  it('401 to a recognized identity: oauth_blocked for a sign-in token, not_found (not a member) for a PAT', () => {
    assert.equal(classifyAzureDevOpsError(err401(refused, TENANT), facts({ kind: 'bearer' })).reason, 'oauth_blocked');
    const pat = classifyAzureDevOpsError(err401(refused, TENANT), facts());
    assert.equal(pat.reason, 'not_found');
    assert.match(pat.message, /not a member/);
  });

  it('401 to an unrecognized credential: reauthorization_required, naming the organization a PAT was given for', () => {
    assert.equal(classifyAzureDevOpsError(err401(anonymous, TENANT), facts({ kind: 'bearer' })).reason, 'reauthorization_required');
    const other = classifyAzureDevOpsError(err401(anonymous, TENANT), facts({ recordedOrganization: 'contoso' }));
    assert.equal(other.reason, 'reauthorization_required');
    assert.match(other.message, /provided for organization "contoso"/);
    // Same organization in another case: not a mismatch.
    assert.doesNotMatch(
      classifyAzureDevOpsError(err401(anonymous, TENANT), facts({ recordedOrganization: 'Fabrikam' })).message,
      /provided for/,
    );
    // Server names no tenant: never read as "no such organization".
    assert.equal(classifyAzureDevOpsError(err401(anonymous), facts({ deployment: 'server' })).reason, 'reauthorization_required');
  });

  it('401 without a resource tenant on Services: the organization does not exist', () => {
    const result = classifyAzureDevOpsError(err401(anonymous), facts({ organization: 'nope' }));
    assert.equal(result.reason, 'not_found');
    assert.match(result.message, /"nope"/);
  });

  it('throttling, server errors and network failures are unavailable', () => {
    for (const kind of ['throttled', 'server', 'network', 'unexpected-response'] as const) {
      assert.equal(classifyAzureDevOpsError(new AzureDevOpsError({ kind, message: 'x' }), facts()).reason, 'unavailable', kind);
    }
  });

  it('token service failures', () => {
    assert.equal(classifyTokenError(new HandlerError('not_authorized', 'x'), 'dev.azure.com').reason, 'not_authorized');
    assert.match(classifyTokenError(new HandlerError('not_authorized', 'x'), 'dev.azure.com').message, /connect first/);
    assert.equal(classifyTokenError(new HandlerError('reauthorization_required', 'renew'), 'dev.azure.com').message, 'renew');
    assert.equal(classifyTokenError(new HandlerError('refresh_unavailable', 'later'), 'dev.azure.com').reason, 'unavailable');
  });
});

describe('paging', () => {
  it('offset pages have no gaps and no duplicates, and refuse foreign tokens', () => {
    const all = Array.from({ length: 7 }, (_, i) => i);
    const seen: number[] = [];
    let token: string | undefined;
    do {
      const page = offsetPage(all, 3, token);
      seen.push(...page.items);
      token = page.continuationToken;
    } while (token);
    assert.deepEqual(seen, all);
    assert.equal(offsetPage(all, 7, undefined).continuationToken, undefined);
    assert.throws(
      () => offsetPage(all, 3, 'abc'),
      (e: HandlerError) => e.code === 'invalid_continuation_token',
    );
    assert.throws(
      () => pageSize(0),
      (e: HandlerError) => e.field === 'top',
    );
    assert.equal(pageSize(undefined), 50);
  });

  it('skip pages ask for one more item, so the last page needs no extra request', async () => {
    const all = Array.from({ length: 6 }, (_, i) => i);
    const asked: [number, number][] = [];
    const fetch = async (skip: number, top: number) => {
      asked.push([skip, top]);
      return { items: all.slice(skip, skip + top) };
    };
    const first = await skipPage(3, undefined, fetch);
    assert.deepEqual(first, { items: [0, 1, 2], continuationToken: '3' });
    const second = await skipPage(3, first.continuationToken, fetch);
    assert.deepEqual(second, { items: [3, 4, 5] });
    assert.deepEqual(asked, [
      [0, 4],
      [3, 4],
    ]);
  });
});
