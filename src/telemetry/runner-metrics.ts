import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { Counter, register } from 'prom-client';

// The runner's Prometheus metrics. They live in prom-client's default registry: `keyway runner`
// serves them on its own /metrics listener (--metrics-port), and `keyway start`'s management plane
// adds them to its /metrics. Labels are bounded: statuses, outcomes and operation names, never ids.

function counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
  // Tests start several runtimes in one process: one metric per name.
  return (register.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter({ name, help, labelNames });
}

export const runnerMetrics = {
  credentialRequests: counter(
    'keyway_runner_credential_requests_total',
    "git credential requests answered by the runner's sockets, by HTTP-like status (200 served, 4xx refused, 503 refresh unavailable)",
    ['status'] as const,
  ),
  tokenRefreshes: counter(
    'keyway_runner_token_refreshes_total',
    'OAuth token refreshes at Entra ID by outcome (success, reauthorization_required, unavailable)',
    ['outcome'] as const,
  ),
  azureDevOpsRequests: counter(
    'keyway_runner_azure_devops_requests_total',
    'Requests to Azure DevOps by operation and HTTP status (network: no answer)',
    ['operation', 'status'] as const,
  ),
  retryDelaySeconds: counter(
    'keyway_runner_azure_devops_retry_delay_seconds_total',
    'Seconds spent waiting before retrying Azure DevOps, by operation and reason (throttled: 429 or Retry-After; error: 5xx or network)',
    ['operation', 'reason'] as const,
  ),
};

/** `keyway runner --metrics-port N`: a plain listener for Prometheus (the runner has no other HTTP port). */
export async function serveRunnerMetrics(port: number, host: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    register.metrics().then(
      (text) => res.writeHead(200, { 'content-type': register.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  return { server, url: `http://${host}:${bound}/metrics` };
}
