import { Detail } from '../components/details.tsx';
import type { RepositoryCacheUsage } from '../types.ts';
import { useApi } from '../use-api.ts';
import { formatBytes } from './EnvironmentsPage.tsx';

/**
 * The runner's repository cache on its page: disk use against the limit and how many repositories
 * it holds (totals only: which ones is not reported). Environments take their objects from it, so
 * the second environment of a repository costs Azure DevOps almost nothing.
 */
export function RepositoryCacheDetail({ runnerId }: { runnerId: string }) {
  const usage = useApi<RepositoryCacheUsage>(`/runners/${encodeURIComponent(runnerId)}/repository-cache`);
  const cache = usage.data;
  let text: string;
  if (usage.error) text = 'not available';
  else if (!cache) text = '…';
  else if (cache.updatedAt === null) text = 'not reported yet (the runner reports it after its first environment)';
  else if (cache.limitBytes === 0) text = 'off (KEYWAY_REPOSITORY_CACHE_MB=0): every environment is a full clone';
  else
    text = `${formatBytes(cache.bytes)} of ${formatBytes(cache.limitBytes)}, ${cache.repositories} ${cache.repositories === 1 ? 'repository' : 'repositories'}${cache.replicas > 1 ? ` on ${cache.replicas} replicas` : ''}`;
  return <Detail term="Repository cache">{text}</Detail>;
}
