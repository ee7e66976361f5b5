import { probeAzureDevOpsHost, probeServerPrefixes } from '../azure-devops/client.ts';
import type { FetchLike } from '../azure-devops/guarded-fetch.ts';
import type { AzureDevOpsEndpoints, AzureDevOpsTarget } from '../azure-devops/endpoints.ts';
import type { RunnerIntegration } from '../control/integration.ts';
import type { HostProbeResult } from './handlers/validate-integration.ts';

// An integration names a host, not an organization or collection. Azure DevOps challenges an
// unauthenticated request (401 with X-TFS-*/X-VSS-* headers) before it looks the collection up —
// the same behaviour git-credential-manager relies on to discover a tenant — so a placeholder name
// is enough to tell "this is Azure DevOps" from "this is some other web server".
const PLACEHOLDER_COLLECTION = 'DefaultCollection';

export function createHostProbe(deps: { endpoints: AzureDevOpsEndpoints; timeoutMs?: number; fetch?: FetchLike }) {
  return async (integration: RunnerIntegration): Promise<HostProbeResult> => {
    if (integration.kind === 'server') return probeServer(integration, deps);
    const target: AzureDevOpsTarget = { kind: 'services', organization: PLACEHOLDER_COLLECTION };
    const probe = await probeAzureDevOpsHost({
      target,
      endpoints: deps.endpoints,
      timeoutMs: deps.timeoutMs ?? 10_000,
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
    });
    if (probe.isAzureDevOps) return { ok: true };
    if (probe.status === undefined) return { ok: false, message: `dev.azure.com is unreachable from the runner: ${probe.reason}` };
    return { ok: false, message: `dev.azure.com answered, but it is not Azure DevOps (${probe.reason})` };
  };
}

/**
 * Azure DevOps Server: where does the server end and a collection begin? `_apis/connectionData`
 * answers at the server's own root (its virtual directory) and at each collection, so the prefixes
 * of the configured path are asked from the origin down. A configured path that goes past the
 * server's root by one segment named a collection: the answer says to split it. One that goes
 * further is refused with the form to use. (docs/azure-devops.md, "Where a collection starts".)
 */
async function probeServer(
  integration: RunnerIntegration,
  deps: { endpoints: AzureDevOpsEndpoints; timeoutMs?: number; fetch?: FetchLike },
): Promise<HostProbeResult> {
  const segments = integration.virtualDirectory.split('/').filter(Boolean);
  const where = `${integration.origin}${integration.virtualDirectory}`;
  const answers = await probeServerPrefixes({
    origin: integration.origin,
    segments,
    timeoutMs: deps.timeoutMs ?? 10_000,
    allowInsecure: deps.endpoints.allowInsecureServerHosts,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  });
  const unreachable = answers.find((a) => a.unreachable);
  if (unreachable) return { ok: false, message: `${where} is unreachable from the runner: ${unreachable.reason}` };
  const first = answers.findIndex((a) => a.answers);
  if (first === -1) {
    return {
      ok: false,
      message: `${where} answered, but it is not Azure DevOps: no Azure DevOps Server answers at ${where}/_apis/connectionData (${answers[answers.length - 1]?.reason ?? 'no answer'}); check the host, and the virtual directory (such as /tfs) if the server has one`,
    };
  }
  // A connectionData body that says "collection" at the first answering prefix: its last segment
  // is the collection (the server's root itself did not answer, a proxy in front of it may hide it).
  const serverEnd = answers[first]!.level === 'collection' ? first - 1 : first;
  if (serverEnd < 0)
    return { ok: false, message: `${integration.origin} answers as a collection, not as a server; enter the server's address` };
  const virtualDirectory = segments
    .slice(0, serverEnd)
    .map((s) => `/${s}`)
    .join('');
  const rest = segments.slice(serverEnd);
  if (rest.length === 0) return { ok: true };
  if (rest.length === 1) {
    return {
      ok: true,
      layout: { virtualDirectory, collection: rest[0]! },
      note: `${where} names collection "${rest[0]}" of the server at ${integration.origin}${virtualDirectory}: the integration serves the server (virtual directory ${virtualDirectory || 'none'}), and each repository URL names its collection`,
    };
  }
  return {
    ok: false,
    message: `${where} goes past the server at ${integration.origin}${virtualDirectory} (${rest.map((s) => `/${s}`).join('')} looks like a collection and a project): enter host ${integration.origin} with virtual directory ${virtualDirectory || '(empty)'}; collections and projects come from each repository URL`,
  };
}
