import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { trace } from '@opentelemetry/api';
import { startTracing } from './tracing.ts';

// Whether an OTLP exporter is set up depends on OTEL_EXPORTER_OTLP_ENDPOINT alone. The provider is
// one per process, so the order matters: first unset (nothing may be set up), then set.

describe('Traces are exported only when an OTLP endpoint is configured', () => {
  it('without OTEL_EXPORTER_OTLP_ENDPOINT (or _TRACES_ENDPOINT): no provider, spans are the no-op kind', async () => {
    for (const env of [{}, { OTEL_EXPORTER_OTLP_ENDPOINT: '  ' }, { OTEL_SERVICE_NAME: 'keyway' }]) {
      const shutdown = startTracing({ serviceName: 'keyway-test', env });
      const span = trace.getTracer('test').startSpan('probe');
      assert.equal(span.isRecording(), false, JSON.stringify(env));
      assert.equal(span.spanContext().traceId, '0'.repeat(32), 'an invalid (no-op) span context: nothing is exported');
      span.end();
      await shutdown();
    }
  });

  it('with OTEL_EXPORTER_OTLP_ENDPOINT: spans record and reach that endpoint by OTLP over HTTP', async (t) => {
    const received: { method?: string; url?: string; contentType?: string }[] = [];
    const collector = createServer((req, res) => {
      received.push({ method: req.method, url: req.url, contentType: req.headers['content-type'] });
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    t.after(() => collector.close());
    const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    // The OTLP exporter reads the standard variables from the process environment itself.
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = endpoint;
    t.after(() => delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT);
    const shutdown = startTracing({ serviceName: 'keyway-test', env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint } });
    const span = trace.getTracer('test').startSpan('probe');
    assert.equal(span.isRecording(), true);
    span.end();
    // Shutdown flushes the batch.
    await shutdown();
    assert.ok(
      received.some((r) => r.method === 'POST' && r.url === '/v1/traces'),
      JSON.stringify(received),
    );
  });
});
