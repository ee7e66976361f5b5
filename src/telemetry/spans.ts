import { SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import type { Attributes, Context, Span, Tracer } from '@opentelemetry/api';
import { VERSION } from '../version.ts';

// Keyway's own spans, through the OpenTelemetry API only (no SDK here: importing this costs nothing
// when tracing is off, and every span is then the API's no-op). tracing.ts starts the SDK.

const TRACER = 'keyway';
let enabled = false;

export function tracer(): Tracer {
  return trace.getTracer(TRACER, VERSION);
}

export function tracingEnabled(): boolean {
  return enabled;
}

let flush: (() => Promise<void>) | undefined;

export function markTracingEnabled(shutdown: () => Promise<void>): void {
  enabled = true;
  flush = shutdown;
}

/** Sends the spans still pending (at shutdown); nothing when tracing is off. */
export async function flushTracing(): Promise<void> {
  await flush?.().catch(() => undefined);
}

/** The current trace context as W3C headers (traceparent, tracestate): empty when tracing is off. */
export function currentTraceHeaders(ctx: Context = context.active()): Record<string, string> {
  if (!enabled) return {};
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

/** Runs `fn` in a span whose parent is the context in `headers` (a control request's, say). */
export function withRemoteParent<T>(
  headers: Record<string, string> | undefined,
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = headers ? propagation.extract(context.active(), headers) : context.active();
  return tracer().startActiveSpan(name, { kind: SpanKind.CONSUMER, attributes }, parent, (span) => finish(span, fn));
}

/** Runs `fn` in a child span of the active one. */
export function inSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
  kind: SpanKind = SpanKind.INTERNAL,
): Promise<T> {
  return tracer().startActiveSpan(name, { kind, attributes }, (span) => finish(span, fn));
}

async function finish<T>(span: Span, fn: (span: Span) => Promise<T>): Promise<T> {
  try {
    return await fn(span);
  } catch (err) {
    // The error's class only: messages may say more than a trace should keep.
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).name ?? 'Error' });
    throw err;
  } finally {
    span.end();
  }
}

/** Kysely's query log as database spans (start time from the measured duration). */
export function databaseQuerySpan(system: 'sqlite' | 'postgresql') {
  return (event: { level: 'query' | 'error'; query: { sql: string }; queryDurationMillis: number }) => {
    const sqlText = event.query.sql;
    const operation = /^\s*(\w+)/.exec(sqlText)?.[1]?.toUpperCase() ?? 'QUERY';
    const table = /\b(?:from|into|update|join)\s+"?(\w+)"?/i.exec(sqlText)?.[1];
    const span = tracer().startSpan(`${operation}${table ? ` ${table}` : ''}`, {
      kind: SpanKind.CLIENT,
      startTime: Date.now() - event.queryDurationMillis,
      // Parameterized text only: values (ciphertexts, hashes) are bound separately and never recorded.
      attributes: {
        'db.system': system,
        'db.operation.name': operation,
        ...(table ? { 'db.collection.name': table } : {}),
        'db.query.text': sqlText.slice(0, 500),
      },
    });
    if (event.level === 'error') span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  };
}
