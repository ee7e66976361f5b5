import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCli } from '../../test/support/cli.ts';
import { startTestPlane } from '../../test/support/plane.ts';

const RUNNER_METRICS = [
  'keyway_runner_credential_requests_total',
  'keyway_runner_token_refreshes_total',
  'keyway_runner_azure_devops_requests_total',
  'keyway_runner_azure_devops_retry_delay_seconds_total',
];

describe('keyway runner --metrics-port', () => {
  it("serves the runner's metrics on GET /metrics of its own listener, and nothing else there", async (t) => {
    const plane = await startTestPlane('sqlite');
    const dataDir = mkdtempSync(join(tmpdir(), 'keyway-runner-metrics-'));
    t.after(async () => {
      await plane.close();
      rmSync(dataDir, { recursive: true, force: true });
    });
    const created = await plane.adminBrowser.request({ method: 'POST', url: '/api/v1/runners', payload: { name: 'metered' } });
    assert.equal(created.statusCode, 201, created.body);
    // The plane allows insecure hosts (it listens on plain HTTP): the runner must say the same.
    const runner = startCli(
      [
        'runner',
        '--server',
        plane.url,
        '--exchange-token',
        created.json().exchangeToken as string,
        '--data-dir',
        dataDir,
        '--metrics-port',
        '0',
      ],
      {
        KEYWAY_LOG_LEVEL: 'warn',
        KEYWAY_ALLOW_INSECURE_HOSTS: 'true',
        KEYWAY_HOST: '127.0.0.1',
      },
    );
    try {
      const [, url] = await runner.waitFor(/Metrics: (http:\/\/\S+)/);
      assert.match(url!, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const res = await fetch(url!);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      for (const name of RUNNER_METRICS) {
        assert.match(text, new RegExp(`^# TYPE ${name} counter$`, 'm'), name);
      }
      const other = await fetch(url!.replace(/\/metrics$/, '/healthz'));
      assert.equal(other.status, 404);
      assert.equal((await fetch(url!, { method: 'POST' })).status, 404);
    } finally {
      assert.equal(await runner.stop(), 0, runner.output());
    }
  });
});
