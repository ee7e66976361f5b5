import { createRequire } from 'node:module';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { VERSION } from '../version.ts';
import { markTracingEnabled } from './spans.ts';

/**
 * OpenTelemetry traces, on only when OTEL_EXPORTER_OTLP_ENDPOINT (or _TRACES_ENDPOINT) is set (the
 * exporter reads the standard OTEL_* variables) or a test passes its own exporter. Off, every
 * span of spans.ts is the API's no-op. HTTP servers and clients (fetch) are instrumented by the
 * OpenTelemetry instrumentations; database queries, control requests, credential requests and git
 * commands get theirs from spans.ts.
 */

let provider: NodeTracerProvider | undefined;

// Query strings can carry an OAuth code or state (callbacks): their values never reach a span.
const QUERY_VALUE = /(^|[?&])([^=&#?\s]+=)[^&#\s]*/g;

/** Strips query values from URL-like attributes before any exporter sees the span. */
class RedactingProcessor implements SpanProcessor {
  onStart(): void {}
  onEnd(span: ReadableSpan): void {
    const attributes = span.attributes as Record<string, unknown>;
    for (const [key, value] of Object.entries(attributes)) {
      if (typeof value === 'string' && value.includes('=') && /url|target|query|path/i.test(key))
        attributes[key] = value.replace(QUERY_VALUE, '$1$2REDACTED');
    }
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

export interface TracingOptions {
  serviceName: string;
  env?: Record<string, string | undefined>;
  /** Tests: an in-memory exporter, exported synchronously. */
  exporter?: SpanExporter;
}

/** Starts tracing when configured; returns a shutdown that flushes what is pending. */
export function startTracing(options: TracingOptions): () => Promise<void> {
  const env = options.env ?? process.env;
  const configured = Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
  if (provider || (!configured && !options.exporter)) return async () => undefined;
  const exporter = options.exporter ?? new OTLPTraceExporter();
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME?.trim() || options.serviceName, 'service.version': VERSION }),
    spanProcessors: [new RedactingProcessor(), options.exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter)],
  });
  provider.register();
  registerInstrumentations({
    instrumentations: [
      new HttpInstrumentation({
        // Long-polls and probes would drown the traces that matter.
        ignoreIncomingRequestHook: (request) => /^\/(healthz|readyz|metrics)\b|^\/api\/v1\/runner\/control\?/.test(request.url ?? ''),
      }),
      new UndiciInstrumentation({
        ignoreRequestHook: (request) => request.method === 'GET' && request.path.startsWith('/api/v1/runner/control?'),
      }),
    ],
  });
  // The http instrumentation patches the module when it is required; Keyway imports it as ES
  // modules (already loaded by now), so require it once more to have it patched.
  const require = createRequire(import.meta.url);
  require('node:http');
  require('node:https');
  const shutdown = async () => {
    await provider?.shutdown();
  };
  markTracingEnabled(shutdown);
  return shutdown;
}
