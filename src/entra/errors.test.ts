import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { AuthorizationResponseError, ResponseBodyError } from 'openid-client';
import {
  certificateRefused,
  describeCodeFlowFailure,
  describeEntraFailure,
  describeSignInFailure,
  describeTokenFailure,
  EntraDiscoveryError,
  entraOutcome,
  isOAuthError,
} from './errors.ts';

const ISSUER = 'https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001/v2.0';

function oauthError(error: string, description?: string, status = 400): ResponseBodyError {
  return new ResponseBodyError('server responded with an error in the response body', {
    cause: { error, ...(description ? { error_description: description } : {}) },
    response: new Response('{}', { status }),
  });
}

function redirectError(error: string, description?: string): AuthorizationResponseError {
  const params = new URLSearchParams({ error, ...(description ? { error_description: description } : {}) });
  return new AuthorizationResponseError('authorization response from the server is an error', { cause: params });
}

/** openid-client's own error (its declared constructor takes no code, its runtime one does). */
function clientError(message: string, code?: string): client.ClientError {
  return Object.assign(new client.ClientError(message), code ? { code } : {});
}

function networkError(code: string): Error {
  return Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error(code), { code }) });
}

describe("src/entra/errors: what Entra answers, in Keyway's failure codes", () => {
  it('describeEntraFailure: AADSTS codes, OAuth errors, discovery, issuer mismatch, network and the rest', () => {
    const table: { err: unknown; error: string; aadsts?: number; message: RegExp }[] = [
      {
        err: oauthError('invalid_client', 'AADSTS7000215: Invalid client secret provided.'),
        error: 'invalid_client',
        aadsts: 7000215,
        message: /paste the secret's Value/,
      },
      {
        err: oauthError('invalid_client', 'AADSTS7000222: expired'),
        error: 'invalid_client',
        aadsts: 7000222,
        message: /has expired \(AADSTS7000222\)/,
      },
      {
        err: oauthError('unauthorized_client', 'AADSTS700016: not found'),
        error: 'unauthorized_client',
        aadsts: 700016,
        message: /no application with this client id/,
      },
      {
        err: oauthError('invalid_grant', 'AADSTS70008: expired'),
        error: 'invalid_grant',
        aadsts: 70008,
        message: /expired or was revoked \(AADSTS70008\)/,
      },
      { err: oauthError('invalid_grant', 'AADSTS50173: revoked'), error: 'invalid_grant', aadsts: 50173, message: /password change/ },
      {
        err: oauthError('invalid_scope', 'AADSTS70011: bad scope'),
        error: 'invalid_scope',
        aadsts: 70011,
        message: /third-party OAuth apps/,
      },
      {
        err: oauthError(
          'invalid_client',
          "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered. Thumbprint of key used by client: 'ABC123'",
        ),
        error: 'invalid_client',
        aadsts: 700027,
        message: /thumbprint this runner signs with \(ABC123\)/,
      },
      {
        err: oauthError(
          'invalid_client',
          "AADSTS700211: No matching federated identity record found for presented assertion issuer 'https://k8s'",
        ),
        error: 'invalid_client',
        aadsts: 700211,
        message: /trusts the issuer 'https:\/\/k8s'/,
      },
      {
        err: oauthError('temporarily_unavailable', 'AADSTS99999: something\nsecond line'),
        error: 'temporarily_unavailable',
        aadsts: 99999,
        message: /^Entra ID refused the request: temporarily_unavailable — AADSTS99999: something$/,
      },
      { err: oauthError('invalid_request'), error: 'invalid_request', message: /^Entra ID refused the request: invalid_request$/ },
      {
        err: new EntraDiscoveryError(400, 'invalid_tenant', 'AADSTS90002: Tenant not found'),
        error: 'invalid_tenant',
        aadsts: 90002,
        message: /no tenant with this ID \(AADSTS90002\)/,
      },
      {
        err: clientError('"response" body "issuer" property does not match the expected value', 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED'),
        error: 'issuer_mismatch',
        message: /use the tenant-specific issuer/,
      },
      {
        err: clientError('unexpected HTTP response status code'),
        error: 'discovery_failed',
        message: /^issuer discovery at https:\/\/login\.microsoftonline\.com\/.* failed: unexpected HTTP/,
      },
      {
        err: networkError('ECONNREFUSED'),
        error: 'network',
        message: /^Entra ID at login\.microsoftonline\.com is unreachable from the runner \(ECONNREFUSED\)$/,
      },
      { err: networkError('ENOTFOUND'), error: 'network', message: /\(ENOTFOUND\)/ },
      { err: Object.assign(new Error('timed out'), { name: 'TimeoutError' }), error: 'network', message: /\(timeout\)/ },
      { err: new Error('boom'), error: 'unexpected', message: /^talking to Entra ID failed: boom$/ },
    ];
    for (const row of table) {
      const failure = describeEntraFailure(row.err, { issuerUrl: ISSUER });
      assert.equal(failure.error, row.error, String((row.err as Error).message));
      assert.equal(failure.aadsts, row.aadsts, String((row.err as Error).message));
      assert.match(failure.message, row.message);
    }
    // The certificate the caller knows is named by its thumbprint as the admin center shows it.
    const own = describeEntraFailure(oauthError('invalid_client', "AADSTS700027: Thumbprint of key used by client: 'XYZ'"), {
      issuerUrl: ISSUER,
      certificateThumbprint: 'SHA1THUMB',
    });
    assert.match(own.message, /\(SHA1THUMB\)/);
  });

  it('describeCodeFlowFailure: the redirect, the code redemption and the response checks', () => {
    const table: { err: unknown; code: string; message: RegExp }[] = [
      { err: redirectError('access_denied', 'AADSTS65004: declined'), code: 'consent_denied', message: /declined the consent prompt/ },
      {
        err: redirectError('invalid_scope', 'AADSTS70011: no\nmore'),
        code: 'oauth_blocked',
        message: /does not allow third-party applications via OAuth, or the scope is invalid \(AADSTS70011: no\)/,
      },
      {
        err: redirectError('server_error', 'AADSTS1: x'),
        code: 'authorization_failed',
        message: /^Entra ID refused the sign-in: server_error — AADSTS1: x$/,
      },
      { err: oauthError('invalid_grant', 'AADSTS54005: used'), code: 'invalid_grant', message: /already used \(AADSTS54005\)/ },
      { err: oauthError('invalid_client', 'AADSTS7000215: x'), code: 'token_request_failed', message: /AADSTS7000215/ },
      {
        err: clientError('unexpected JWT "nonce" claim value', 'OAUTH_JWT_CLAIM_COMPARISON_FAILED'),
        code: 'id_token_invalid',
        message: /^the sign-in response failed validation \(OAUTH_JWT_CLAIM_COMPARISON_FAILED: /,
      },
      {
        err: Object.assign(new Error('bad signature'), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' }),
        code: 'id_token_invalid',
        message: /ERR_JWS_SIGNATURE_VERIFICATION_FAILED: bad signature/,
      },
      { err: networkError('ECONNRESET'), code: 'network', message: /unreachable from the runner \(ECONNRESET\)/ },
    ];
    for (const row of table) {
      const failure = describeCodeFlowFailure(row.err, ISSUER);
      assert.equal(failure.code, row.code, String((row.err as Error).message));
      assert.match(failure.message, row.message);
    }
  });

  it('describeSignInFailure: what a person signing in to Keyway is told', () => {
    assert.deepEqual(describeSignInFailure(redirectError('access_denied'), ISSUER), {
      code: 'sign_in_cancelled',
      message: 'the sign-in was cancelled or refused',
    });
    assert.deepEqual(describeSignInFailure(redirectError('invalid_request', 'AADSTS50105: not assigned'), ISSUER), {
      code: 'provider_refused',
      message: 'you are not assigned to the Keyway sign-in application; ask your identity provider admin to assign you (AADSTS50105)',
    });
    assert.equal(describeSignInFailure(oauthError('invalid_grant', 'AADSTS70008: x'), ISSUER).code, 'invalid_grant');
    const odd = describeSignInFailure(new Error('weird'), ISSUER);
    assert.equal(odd.code, 'invalid_response');
    assert.equal(odd.message, 'the sign-in could not be completed: talking to Entra ID failed: weird');
  });

  it('classifies for callers and metrics: OAuth errors, refused certificates, token failures in a few words, bounded outcomes', () => {
    assert.ok(isOAuthError(oauthError('invalid_grant'), 'invalid_grant', 'interaction_required'));
    assert.ok(!isOAuthError(oauthError('invalid_client'), 'invalid_grant'));
    assert.ok(!isOAuthError(new Error('x')));
    assert.ok(certificateRefused(oauthError('invalid_client', 'AADSTS700027: x')));
    assert.ok(!certificateRefused(oauthError('invalid_client', 'AADSTS7000215: x')));
    assert.equal(describeTokenFailure(oauthError('invalid_grant', 'secret details', 400)), '400 invalid_grant');
    assert.equal(
      describeTokenFailure(Object.assign(new Error('x'), { cause: new Response('', { status: 503, statusText: 'Service Unavailable' }) })),
      'HTTP 503 Service Unavailable from the token endpoint',
    );
    assert.equal(describeTokenFailure(networkError('ECONNREFUSED')), 'ECONNREFUSED');

    assert.equal(entraOutcome(oauthError('invalid_grant')), 'invalid_grant');
    assert.equal(entraOutcome(oauthError('made_up_by_a_proxy')), 'oauth_error');
    assert.equal(entraOutcome(redirectError('access_denied')), 'access_denied');
    assert.equal(entraOutcome(new EntraDiscoveryError(400, 'invalid_tenant', undefined)), 'invalid_tenant');
    assert.equal(entraOutcome(networkError('ECONNREFUSED')), 'network');
    assert.equal(entraOutcome(Object.assign(new Error('x'), { cause: new Response('', { status: 502 }) })), 'http_5xx');
    assert.equal(entraOutcome(clientError('unexpected')), 'invalid_response');
    assert.equal(entraOutcome(new Error('x')), 'error');
  });
});
