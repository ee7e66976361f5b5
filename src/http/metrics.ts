import type { FastifyInstance } from 'fastify';
import { Histogram, Registry, collectDefaultMetrics, register } from 'prom-client';

/** Prometheus metrics on /metrics: process defaults plus request durations by route template. */
export function installMetrics(app: FastifyInstance, options: { prefix?: string } = {}): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: options.prefix ?? 'keyway_' });
  const duration = new Histogram({
    name: `${options.prefix ?? 'keyway_'}http_request_duration_seconds`,
    help: 'HTTP request duration by method, route template and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    // The route template, never the raw URL: raw URLs carry ids and would explode cardinality.
    const route = request.routeOptions.url ?? 'unmatched';
    duration.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  app.get('/metrics', { schema: { hide: true }, config: { auth: 'public' } }, async (_request, reply) => {
    void reply.type(registry.contentType);
    // Plus what a runner in this process (keyway start) counts in the default registry.
    return Registry.merge([registry, register]).metrics();
  });
  return registry;
}
