// Benchmark 1's server process: either the runner's credential endpoint (KEYWAY_BENCH_MODE=runner)
// or a bare Fastify route answering a constant on a Unix socket of its own (=bare). Alone in its
// process, so the load generator in the parent does not share its event loop.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { workerFailed } from '../lib.ts';
import { startCredentialRunner } from '../support/credential-runner.ts';

try {
  const mode = process.env.KEYWAY_BENCH_MODE;
  if (mode === 'bare') {
    const socketPath = join(mkdtempSync(join(tmpdir(), 'kw-bare-')), 'bare.sock');
    const app = Fastify({ logger: false });
    // The same answer size as the real endpoint's, without any of its work.
    const body = `username=oauth2\npassword=${'x'.repeat(1220)}\npassword_expiry_utc=1900000000\n`;
    app.addContentTypeParser('*', { parseAs: 'string' }, (_req, payload, done) => done(null, payload));
    app.post('/v1/git-credential', async (_request, reply) => reply.type('text/plain; charset=utf-8').send(body));
    await app.listen({ path: socketPath });
    process.on('SIGTERM', () => void app.close().finally(() => process.exit(0)));
    process.send?.({ type: 'ready', socketPath, secret: '' });
  } else {
    const runner = await startCredentialRunner(process.env.KEYWAY_BENCH_STORE ?? 'sqlite');
    process.on('SIGTERM', () => void runner.close().finally(() => process.exit(0)));
    process.send?.({ type: 'ready', socketPath: runner.socketPath, secret: runner.secret });
  }
} catch (err) {
  workerFailed(err);
}
