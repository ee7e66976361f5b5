import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CONTROL_REQUESTS, isControlKind } from './registry.ts';
import type { ControlKind, ControlPayload } from './registry.ts';
import { checkControlPayload } from './payload-check.ts';
import { statusForFailure } from './protocol.ts';
import type { RunnerIntegration } from './integration.ts';
import type { HandlerSet } from '../runner/agent.ts';
import type { ControlChannel } from '../management/runners/control.ts';

const integration: RunnerIntegration = {
  id: 'int_aaaaaaaaaaaaaaaa',
  scmId: 'azure-devops',
  kind: 'services',
  host: 'dev.azure.com',
  origin: 'https://dev.azure.com',
  virtualDirectory: '',
  oauth: null,
  patEnabled: true,
};

describe('the control registry', () => {
  it('gives every kind a payload and a result schema', () => {
    const kinds = Object.keys(CONTROL_REQUESTS);
    assert.ok(kinds.length >= 35, `${kinds.length} kinds`);
    for (const kind of kinds) {
      const { payload, result } = CONTROL_REQUESTS[kind as ControlKind];
      // A JSON Schema with a type or a union of them: something a payload can be checked against.
      assert.ok('type' in payload || 'anyOf' in payload, `${kind}: payload schema`);
      assert.ok('type' in result || 'anyOf' in result, `${kind}: result schema`);
    }
    assert.equal(isControlKind('pat-store'), true);
    assert.equal(isControlKind('toString'), false, 'an inherited property is not a kind');
    assert.equal(isControlKind('run-anything'), false);
  });

  it('lets a payload that fits through, unknown extra fields included (an older runner ignores a newer field)', () => {
    const payload: ControlPayload<'list-branches'> = {
      userId: 'u1',
      integration,
      organization: 'contoso',
      project: 'web',
      repository: 'app',
      top: 50,
    };
    assert.equal(checkControlPayload('list-branches', payload), undefined);
    assert.equal(checkControlPayload('list-branches', { ...payload, addedLater: true }), undefined);
  });

  it('refuses a payload that does not fit, naming the field and never the value', () => {
    const sealedToken = 'sealed-secret-material-that-must-not-be-echoed';
    const refusal = checkControlPayload('pat-store', {
      userId: 'u1',
      integration: { ...integration, id: '' },
      sealedToken,
      organization: 'o',
    });
    assert.equal(refusal?.code, 'invalid_request');
    assert.equal(refusal?.field, 'integration.id');
    assert.doesNotMatch(refusal?.message ?? '', new RegExp(sealedToken));
    assert.match(refusal?.message ?? '', /pat-store/);

    assert.equal(checkControlPayload('environment-create', { environmentId: 'env_12345678', userId: 'u1' })?.code, 'invalid_request');
    assert.equal(checkControlPayload('purge-credentials', { integrationId: 'int_1', methods: 'some' })?.field, 'methods');
    assert.equal(checkControlPayload('sync.run', null)?.code, 'invalid_request');
    assert.equal(
      checkControlPayload('environment-create', {
        environmentId: 'env_12345678',
        userId: 'u1',
        integration,
        repository: {
          kind: 'services',
          host: 'dev.azure.com',
          origin: 'https://dev.azure.com',
          organization: 'o',
          project: 'p',
          repository: 'r',
        },
        clone: { depth: 0 },
      })?.field,
      'clone.depth',
    );
  });

  it('maps every failure code to its HTTP status in one table', () => {
    const cases: [string, number][] = [
      ['invalid_request', 400],
      ['invalid_continuation_token', 400],
      ['not_found', 404],
      ['repository_not_found', 404],
      ['commit_not_in_repository', 404],
      ['integration_gone', 404],
      ['not_authorized', 409],
      ['reauthorization_required', 409],
      ['oauth_blocked', 409],
      ['environment_exists', 409],
      ['variable_conflicts', 409],
      ['runner_error', 502],
      ['unknown_request', 502],
      ['runner_environment_limit', 429],
      ['unavailable', 503],
      ['azure_devops_unavailable', 503],
      ['pat_rejected', 422],
      ['runner_busy', 422],
    ];
    for (const [code, status] of cases) assert.equal(statusForFailure(code), status, code);
  });

  it('lets the management plane send, and a runner register, only kinds it lists (checked by npm run typecheck)', () => {
    const send = (control: Pick<ControlChannel, 'call' | 'enqueue'>) => {
      // @ts-expect-error a kind outside the registry cannot be sent
      void control.call('r1', 'run-anything', {});
      // @ts-expect-error nor queued
      void control.enqueue('r1', 'run-anything', {});
      // @ts-expect-error a payload must fit its kind
      void control.call('r1', 'list-authorizations', { user: 'u1' });
    };
    const handlers: HandlerSet<'ping'> = {
      ping: async () => ({ pong: true }),
      // @ts-expect-error a handler for a kind outside the registry
      'run-anything': async () => ({}),
    };
    assert.equal(typeof send, 'function');
    assert.ok(handlers.ping);
  });
});
