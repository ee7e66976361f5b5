import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyRequest } from 'fastify';
import { ApiError, forbidden } from '../../http/errors.ts';
import type { UserPrincipal } from '../identity/principal.ts';
import { createRouteAudit } from './route-audit.ts';
import type { AuditEntry } from './service.ts';

const user: UserPrincipal = {
  kind: 'user',
  userId: 'usr_1',
  email: 'ada@example.com',
  operator: false,
  organizationId: 'org_1',
  role: 'admin',
  via: 'session',
};

function world(principal: UserPrincipal | null = user) {
  const recorded: AuditEntry[] = [];
  const audit = createRouteAudit({ record: async (entry) => void recorded.push(entry) });
  const request = {
    principal: principal ?? undefined,
    ip: '203.0.113.9',
    headers: { 'user-agent': 'test-agent' },
  } as unknown as FastifyRequest;
  return { recorded, audit, request };
}

describe('route audit', () => {
  it('records success with the details known before and those the result adds, and returns the result', async () => {
    const { recorded, audit, request } = world();
    const result = await audit.run(
      request,
      { action: 'sync.create', target: { type: 'sync' }, details: { projectId: 'prj_1' } },
      async () => ({ id: 'syn_9' }),
      (created) => ({ target: { type: 'sync', id: created.id }, details: { name: 'deploy' } }),
    );
    assert.deepEqual(result, { id: 'syn_9' });
    assert.deepEqual(recorded, [
      {
        actor: user,
        action: 'sync.create',
        target: { type: 'sync', id: 'syn_9' },
        client: { ip: '203.0.113.9', userAgent: 'test-agent' },
        details: { projectId: 'prj_1', name: 'deploy' },
        outcome: 'success',
      },
    ]);
  });

  it('records a failure with the error code and the details known before, then rethrows the same error', async () => {
    const { recorded, audit, request } = world();
    const refused = forbidden('not yours');
    await assert.rejects(
      audit.run(request, { action: 'sync.delete', target: { type: 'sync', id: 'syn_2' }, details: { projectId: 'prj_1' } }, async () => {
        throw refused;
      }),
      (err) => err === refused,
    );
    assert.equal(recorded.length, 1);
    assert.equal(recorded[0]!.outcome, 'failure');
    assert.deepEqual(recorded[0]!.target, { type: 'sync', id: 'syn_2' });
    assert.deepEqual(recorded[0]!.details, { projectId: 'prj_1', reason: 'forbidden' });
  });

  it("never copies an error's message into the record: only its stable code", async () => {
    const { recorded, audit, request } = world();
    const leaky = new ApiError(400, 'invalid_secret', 'the secret s3cr3t-value is wrong');
    await assert.rejects(
      audit.run(request, { action: 'scm_integration.update' }, async () => {
        throw leaky;
      }),
    );
    assert.doesNotMatch(JSON.stringify(recorded), /s3cr3t/);
    assert.deepEqual(recorded[0]!.details, { reason: 'invalid_secret' });
  });

  it('lets the result turn a check that ran into a failure, without an error', async () => {
    const { recorded, audit, request } = world();
    const result = await audit.run(
      request,
      { action: 'app_connection.test', target: { type: 'app_connection', id: 'apc_1' } },
      async () => ({ valid: false, code: 'invalid_client' }),
      (r) => ({ outcome: r.valid ? 'success' : 'failure', details: { code: r.code } }),
    );
    assert.equal(result.valid, false);
    assert.deepEqual(
      recorded.map((e) => [e.outcome, e.details]),
      [['failure', { code: 'invalid_client' }]],
    );
  });

  it('records a caller without a principal as anonymous, and an explicit actor and organization as given', async () => {
    const { recorded, audit, request } = world(null);
    await audit.record(request, { action: 'session.sign_in', outcome: 'failure' });
    await audit.record(request, {
      action: 'app_connection.oauth_connect',
      actor: { kind: 'anonymous', label: 'oauth callback' },
      organizationId: 'org_2',
      outcome: 'success',
    });
    assert.deepEqual(recorded[0]!.actor, { kind: 'anonymous' });
    assert.deepEqual(recorded[1]!.actor, { kind: 'anonymous', label: 'oauth callback' });
    assert.equal(recorded[1]!.organizationId, 'org_2');
  });

  it('records success in the organization the result names, and a failure where the event put it', async () => {
    const { recorded, audit, request } = world();
    const event = { action: 'organization.create', organizationId: null } as const;
    await audit.run(
      request,
      event,
      async () => ({ id: 'org_new' }),
      (org) => ({ organizationId: org.id }),
    );
    await assert.rejects(
      audit.run(
        request,
        event,
        async () => {
          throw forbidden('operators only');
        },
        () => ({ organizationId: 'org_never' }),
      ),
    );
    assert.deepEqual(
      recorded.map((e) => [e.outcome, e.organizationId]),
      [
        ['success', 'org_new'],
        ['failure', null],
      ],
    );
  });

  it('denies: records authorization.denied on the route, then throws a 403 with the message', async () => {
    const { recorded, audit } = world();
    const request = {
      principal: user,
      ip: '203.0.113.9',
      headers: {},
      method: 'POST',
      routeOptions: { url: '/api/v1/projects' },
    } as unknown as FastifyRequest;
    await assert.rejects(audit.deny(request, 'only admins may create projects here'), (err) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.statusCode, 403);
      assert.equal(err.message, 'only admins may create projects here');
      return true;
    });
    assert.deepEqual(
      recorded.map((e) => [e.action, e.outcome, e.target, e.actor]),
      [['authorization.denied', 'denied', { type: 'route', id: 'POST /api/v1/projects' }, user]],
    );
  });
});
