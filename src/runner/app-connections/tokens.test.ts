import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ResponseBodyError } from 'openid-client';
import type { RunnerAppConnection } from '../../control/app-connections.ts';
import type { CredentialRecord } from '../credentials/store.ts';
import { HandlerError } from '../agent.ts';
import { createAppConnectionTokens, entraFailureField, TOKEN_REUSE_MARGIN_MS } from './tokens.ts';

const connection: RunnerAppConnection = {
  id: 'conn_test',
  method: 'client-secret',
  organization: 'contoso',
  tenantId: 't',
  clientId: 'c',
  issuerUrl: 'https://login.example/t/v2.0',
};

const noOAuth = { accessToken: async (): Promise<string> => assert.fail('not an oauth connection') };

function fakeCredentials(secret = 'the-secret') {
  const record = {
    id: 'cred_1',
    subject: { type: 'app-connection', id: connection.id },
    method: 'client-secret',
  } as unknown as CredentialRecord;
  return {
    record,
    store: { listForSubject: async () => [record], readSecret: async () => secret },
  };
}

describe('app connection tokens', () => {
  it('reuses a client-credentials token until 5 minutes before it expires, then asks again', async () => {
    let clock = 1_000_000;
    let grants = 0;
    const tokens = createAppConnectionTokens({
      credentials: fakeCredentials().store,
      allowInsecure: false,
      oauth: noOAuth,
      now: () => clock,
      grant: async () => ({ accessToken: `token-${++grants}`, expiresAt: clock + 3600_000 }),
    });
    assert.deepEqual(await tokens.credentialFor(connection), { kind: 'bearer', token: 'token-1' });
    clock += 3600_000 - TOKEN_REUSE_MARGIN_MS - 1;
    assert.deepEqual(await tokens.credentialFor(connection), { kind: 'bearer', token: 'token-1' });
    clock += 2;
    assert.deepEqual(await tokens.credentialFor(connection), { kind: 'bearer', token: 'token-2' });
    tokens.forget(connection.id);
    assert.deepEqual(await tokens.credentialFor(connection), { kind: 'bearer', token: 'token-3' });
  });

  it('concurrent callers share one token request', async () => {
    let grants = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const tokens = createAppConnectionTokens({
      credentials: fakeCredentials().store,
      allowInsecure: false,
      oauth: noOAuth,
      grant: async () => {
        grants++;
        await gate;
        return { accessToken: 'shared', expiresAt: Date.now() + 3600_000 };
      },
    });
    const all = Promise.all([tokens.credentialFor(connection), tokens.credentialFor(connection), tokens.credentialFor(connection)]);
    release();
    assert.deepEqual(
      (await all).map((c) => c.token),
      ['shared', 'shared', 'shared'],
    );
    assert.equal(grants, 1);
  });

  it('a PAT is used as it is, with Basic; a missing credential and an Entra refusal say what to do', async () => {
    const pat = createAppConnectionTokens({ credentials: fakeCredentials('pat-value').store, allowInsecure: false, oauth: noOAuth });
    assert.deepEqual(await pat.credentialFor({ ...connection, method: 'access-token' }), { kind: 'pat', token: 'pat-value' });

    const none = createAppConnectionTokens({
      credentials: { listForSubject: async () => [], readSecret: async () => undefined },
      allowInsecure: false,
      oauth: noOAuth,
    });
    await assert.rejects(
      none.credentialFor(connection),
      (err: unknown) => err instanceof HandlerError && err.code === 'credential_missing',
    );

    const refused = createAppConnectionTokens({
      credentials: fakeCredentials().store,
      allowInsecure: false,
      oauth: noOAuth,
      grant: async () => {
        throw new ResponseBodyError('server responded with an error in the response body', {
          cause: { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' },
          response: new Response('{}', { status: 401 }),
        });
      },
    });
    await assert.rejects(refused.credentialFor(connection), (err: unknown) => {
      assert.ok(err instanceof HandlerError);
      assert.equal(err.field, 'clientSecret');
      assert.match(err.message, /AADSTS7000215/);
      assert.ok(!err.message.includes('the-secret'));
      return true;
    });
  });

  it('oauth: the delegated token comes from the token service for the newest record; none stored says to connect', async () => {
    const asked: string[] = [];
    const { store, record } = fakeCredentials();
    const tokens = createAppConnectionTokens({
      credentials: { ...store, readSecret: async () => assert.fail('the token set is read by the token service, not here') },
      allowInsecure: false,
      oauth: { accessToken: async (_c, r) => (asked.push(r.id), 'delegated') },
    });
    assert.deepEqual(await tokens.credentialFor({ ...connection, method: 'oauth' }), { kind: 'bearer', token: 'delegated' });
    assert.deepEqual(asked, [record.id]);
    const none = createAppConnectionTokens({
      credentials: { listForSubject: async () => [], readSecret: async () => undefined },
      allowInsecure: false,
      oauth: noOAuth,
    });
    await assert.rejects(
      none.credentialFor({ ...connection, method: 'oauth' }),
      (err: unknown) => err instanceof HandlerError && err.code === 'credential_missing' && /connect it/.test(err.message),
    );
  });

  it('points Entra failures at the field to fix', () => {
    assert.equal(entraFailureField(7000215, 'invalid_client'), 'clientSecret');
    assert.equal(entraFailureField(700016, 'unauthorized_client'), 'clientId');
    assert.equal(entraFailureField(90002, 'invalid_request'), 'tenantId');
    assert.equal(entraFailureField(undefined, 'network'), 'tenantId');
  });
});
