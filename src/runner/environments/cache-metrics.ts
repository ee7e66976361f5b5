// The repository cache's Prometheus metrics, in prom-client's default registry (the runner's own
// metrics live there; the management plane of `keyway start` serves that registry on /metrics too).
// Labels are bounded: outcomes and sources, never repository names or ids.
import { Counter, Gauge, register } from 'prom-client';

function gauge(name: string, help: string): Gauge {
  // Tests start several runners in one process: one metric per name.
  return (register.getSingleMetric(name) as Gauge | undefined) ?? new Gauge({ name, help });
}

function counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
  return (register.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter({ name, help, labelNames });
}

export const cacheMetrics = {
  bytes: gauge('keyway_runner_repository_cache_bytes', "Bytes the runner's repository caches take on disk, as last measured"),
  limitBytes: gauge(
    'keyway_runner_repository_cache_limit_bytes',
    'The most the repository caches may take (KEYWAY_REPOSITORY_CACHE_MB); least recently used caches are evicted past it',
  ),
  repositories: gauge('keyway_runner_repository_cache_repositories', 'Repositories the runner holds a cache of'),
  refreshes: counter(
    'keyway_runner_repository_cache_refreshes_total',
    'Fetches into a repository cache (each with the credential of the user creating an environment)',
  ),
  evictions: counter('keyway_runner_repository_cache_evictions_total', 'Repository caches removed to stay under the size limit'),
  workspaces: counter(
    'keyway_runner_repository_cache_workspaces_total',
    'Environments by where their objects came from: cache (the repository cache, then the user fetch), fallback (the cache failed: a full clone), clone (no cache: disabled, shallow, or unavailable)',
    ['source'] as const,
  ),
};
