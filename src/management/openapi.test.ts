import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestManagement } from '../../test/support/management.ts';
import type { TestManagement } from '../../test/support/management.ts';

interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, { responses?: Record<string, unknown>; summary?: string }>>;
}

describe('OpenAPI document and default-closed routes', () => {
  let t: TestManagement;
  before(async () => {
    t = await startTestManagement('sqlite');
  });
  after(async () => t?.close());

  it('serves an OpenAPI 3.1 document describing every /api/v1 route with a summary and responses', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/openapi.json' });
    assert.equal(res.statusCode, 200);
    const doc = res.json() as OpenApiDoc;
    assert.equal(doc.openapi, '3.1.0');
    const paths = Object.keys(doc.paths);
    assert.ok(paths.includes('/api/v1/me'));
    assert.ok(paths.includes('/api/v1/audit-events'));
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        assert.ok(op.summary, `${method.toUpperCase()} ${path} has a summary`);
        assert.ok(op.responses && Object.keys(op.responses).length > 0, `${method.toUpperCase()} ${path} declares responses`);
      }
    }
  });

  it('describes every sealed field with its associated data and a pointer to docs/sealing.md', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/api/openapi.json' })).json() as OpenApiDoc;
    const found: string[] = [];
    const visit = (node: unknown, where: string): void => {
      if (!node || typeof node !== 'object') return;
      const properties = (node as { properties?: Record<string, { description?: string }> }).properties;
      for (const [name, schema] of Object.entries(properties ?? {})) {
        if (/^sealed[A-Z]/.test(name)) {
          found.push(`${where} ${name}`);
          assert.match(schema.description ?? '', /docs\/sealing\.md/, `${where} ${name} points to the sealing document`);
          assert.match(schema.description ?? '', /associated data "[^"]+"/, `${where} ${name} names its associated data`);
        }
      }
      for (const [key, child] of Object.entries(node)) visit(child, key.startsWith('/') ? key : where);
    };
    visit(doc.paths, '');
    for (const expected of ['sealedClientSecret', 'sealedAccessToken', 'sealedValues', 'sealedToken']) {
      assert.ok(
        found.some((f) => f.endsWith(` ${expected}`)),
        `${expected} is described (found: ${found.join(', ')})`,
      );
    }
  });

  it('answers 401 to an anonymous call of every route not explicitly public', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/api/openapi.json' })).json() as OpenApiDoc;
    const publicRoutes = new Set([
      'POST /api/v1/auth/sign-in',
      'POST /api/v1/auth/link',
      'POST /api/v1/runner/exchange',
      'GET /api/v1/oauth/callback/{integrationId}',
      'GET /organization/app-connections/azure-devops/oauth/callback',
      'GET /api/v1/auth/sso/providers',
      'POST /api/v1/auth/sso/{provider}/begin',
      'GET /api/v1/auth/sso/callback',
      'POST /api/v1/invitations/preview',
      'POST /api/v1/invitations/register',
    ]);
    let checked = 0;
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const method of Object.keys(methods)) {
        const key = `${method.toUpperCase()} ${path}`;
        if (publicRoutes.has(key)) continue;
        const url = path.replace(/\{[^}]+\}/g, 'x');
        const res = await t.app.inject({ method: method.toUpperCase() as 'GET', url, payload: method === 'get' ? undefined : {} });
        assert.equal(res.statusCode, 401, `${key} → ${res.statusCode}`);
        assert.equal(res.json().error.code, 'unauthenticated');
        checked++;
      }
    }
    assert.ok(checked >= 8, `checked ${checked} routes`);
  });
});
