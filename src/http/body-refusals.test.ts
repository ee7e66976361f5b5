// Fastify's refusals of a request body answer in Keyway's error shape, with Keyway's codes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { installErrorHandling } from './errors.ts';

describe('request bodies Fastify refuses', () => {
  async function app() {
    const a = Fastify({ bodyLimit: 1024 });
    installErrorHandling(a);
    a.post('/echo', async (req) => ({ got: req.body }));
    await a.ready();
    return a;
  }

  it('too large: 413 body_too_large', async () => {
    const a = await app();
    const res = await a.inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ x: 'y'.repeat(2048) }),
    });
    assert.equal(res.statusCode, 413);
    assert.equal(res.json().error.code, 'body_too_large');
    await a.close();
  });

  it('not JSON: 415 unsupported_media_type', async () => {
    const a = await app();
    const res = await a.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/xml' }, payload: '<x/>' });
    assert.equal(res.statusCode, 415);
    assert.equal(res.json().error.code, 'unsupported_media_type');
    await a.close();
  });

  it('empty JSON body: 400 invalid_request', async () => {
    const a = await app();
    const res = await a.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '' });
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json().error, { code: 'invalid_request', message: 'the JSON body is empty; send a JSON object' });
    await a.close();
  });

  it('broken JSON: 400 invalid_json, the body not echoed', async () => {
    const a = await app();
    const res = await a.inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': 'application/json' },
      payload: '{"secret": "s3cr',
    });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().error.code, 'invalid_json');
    assert.ok(!res.body.includes('s3cr'));
    await a.close();
  });
});
