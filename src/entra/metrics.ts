import { Counter, Histogram, register } from 'prom-client';
import { entraOutcome } from './errors.ts';

// Calls to Entra ID (and, for sign-in, another OpenID provider), counted where they are made:
// src/entra is the one place that makes them. In prom-client's default registry, as the runner's
// metrics (src/telemetry/runner-metrics.ts) are, so both the runner's /metrics and the management
// plane's show them. Labels are bounded: operation names and outcomes (success, an OAuth error
// code from a fixed list, network, …), never an issuer, a tenant or a message.

/** What src/entra does at Entra ID (and, for managed identity, at the machine's Instance Metadata Service). */
export type EntraOperation =
  'discovery' | 'authorization_code' | 'refresh_token' | 'client_credentials' | 'redirect_probe' | 'tenant_lookup' | 'managed_identity';

function single<T>(name: string, make: () => T): T {
  // Tests start several runtimes in one process: one metric per name.
  return (register.getSingleMetric(name) as T | undefined) ?? make();
}

export const entraMetrics = {
  requests: single(
    'keyway_entra_requests_total',
    () =>
      new Counter({
        name: 'keyway_entra_requests_total',
        help: 'Calls to Entra ID by operation (discovery, authorization_code, refresh_token, client_credentials, redirect_probe, tenant_lookup, managed_identity) and outcome (success, an OAuth error code, network, …)',
        labelNames: ['operation', 'outcome'] as const,
      }),
  ),
  duration: single(
    'keyway_entra_request_duration_seconds',
    () =>
      new Histogram({
        name: 'keyway_entra_request_duration_seconds',
        help: 'Duration of calls to Entra ID by operation and outcome',
        labelNames: ['operation', 'outcome'] as const,
        buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      }),
  ),
};

/**
 * Runs one call to Entra ID and records it: its operation, outcome and duration. `outcomeOf` names
 * the outcome of an answer that is not a success; `failureOf` that of an error entraOutcome does not know.
 */
export async function measured<T>(
  operation: EntraOperation,
  call: () => Promise<T>,
  outcomeOf?: (result: T) => string,
  failureOf?: (err: unknown) => string | undefined,
): Promise<T> {
  const started = performance.now();
  let outcome = 'success';
  try {
    const result = await call();
    if (outcomeOf) outcome = outcomeOf(result);
    return result;
  } catch (err) {
    outcome = failureOf?.(err) ?? entraOutcome(err);
    throw err;
  } finally {
    entraMetrics.requests.inc({ operation, outcome });
    entraMetrics.duration.observe({ operation, outcome }, (performance.now() - started) / 1000);
  }
}
