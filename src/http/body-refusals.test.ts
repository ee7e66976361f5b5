// Fastify's refusals of a request body answer in Keyway's error shape, with Keyway's codes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { installErrorHandling } from './errors.ts';

const JSON_TYPE = 'application/json';

describe('request bodies Fastify refuses', () => {
  const cases = [
    { what: 'too large', type: JSON_TYPE, payload: JSON.stringify({ x: 'y'.repeat(2048) }), status: 413, code: 'body_too_large' },
    { what: 'not JSON', type: 'application/xml', payload: '<x/>', status: 415, code: 'unsupported_media_type' },
    { what: 'empty JSON', type: JSON_TYPE, payload: '', status: 400, code: 'invalid_request' },
    { what: 'broken JSON', type: JSON_TYPE, payload: '{"secret": "s3cr', status: 400, code: 'invalid_json' },
  ];
  for (const c of cases) {
    it(`${c.what}: ${c.status} ${c.code}, the body not echoed`, async () => {
      const app = Fastify({ bodyLimit: 1024 });
      installErrorHandling(app);
      app.post('/echo', async (req) => ({ got: req.body }));
      try {
        const res = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': c.type }, payload: c.payload });
        assert.equal(res.statusCode, c.status);
        assert.equal((res.json() as { error: { code: string } }).error.code, c.code);
        assert.ok(!res.body.includes('s3cr'));
      } finally {
        await app.close();
      }
    });
  }
});
