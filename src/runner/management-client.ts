import { CONTROL_PATHS } from '../control/protocol.ts';
import type { ControlAnswer, ControlRequest } from '../control/protocol.ts';
import { environmentProgressPath } from '../control/environments.ts';
import type { EnvironmentProgressReport } from '../control/environments.ts';
import { VERSION } from '../version.ts';
import { RUNNER_REPLICAS_PATH, RUNNER_SETTINGS_PATH } from '../control/runner-settings.ts';
import type { SharedSettings } from '../control/runner-settings.ts';
import type { RunnerIntegration } from '../control/integration.ts';
import { RUNNER_EVENTS_PATH, RUNNER_REVOCATION_PURGE_PATH } from '../control/runner-events.ts';
import type { RevocationPurgeReport, RunnerEvent } from '../control/runner-events.ts';
import { REPOSITORY_CACHE_REPORT_PATH } from '../control/environments.ts';
import type { RepositoryCacheReport } from '../control/environments.ts';

export class ManagementApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ManagementApiError';
  }
}

async function failure(res: Response): Promise<ManagementApiError> {
  const body = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
  return new ManagementApiError(
    res.status,
    body.error?.code ?? 'http_error',
    body.error?.message ?? `management plane answered ${res.status}`,
  );
}

/** The runner's HTTP client for the management plane: the only way it talks to it. */
export function createManagementClient(serverUrl: string, runnerToken?: string, replicaId?: string) {
  const base = serverUrl.replace(/\/+$/, '');
  const headers = (json = false): Record<string, string> => ({
    ...(runnerToken ? { authorization: `Bearer ${runnerToken}` } : {}),
    ...(json ? { 'content-type': 'application/json' } : {}),
    'x-keyway-runner-version': VERSION,
  });
  /** Sends `body` as JSON; an answer other than 2xx is thrown as a ManagementApiError. */
  async function send(method: 'POST' | 'PUT', path: string, body: unknown): Promise<Response> {
    const res = await fetch(`${base}${path}`, { method, headers: headers(true), body: JSON.stringify(body) });
    if (!res.ok) throw await failure(res);
    return res;
  }

  return {
    async exchange(exchangeToken: string, publicKey: string) {
      const res = await send('POST', CONTROL_PATHS.exchange, { exchangeToken, publicKey, version: VERSION });
      return (await res.json()) as { runnerId: string; runnerToken: string; organizationId: string; name: string };
    },
    async self() {
      const res = await fetch(`${base}${CONTROL_PATHS.self}`, { headers: headers() });
      if (!res.ok) throw await failure(res);
      return (await res.json()) as { id: string; publicKey: string | null; name: string };
    },
    async publishPublicKey(publicKey: string) {
      const res = await send('PUT', '/api/v1/runner/public-key', { publicKey });
      return (await res.json()) as { clearedSecrets: number; message: string };
    },
    async integration(id: string) {
      const res = await fetch(`${base}/api/v1/runner/integrations/${encodeURIComponent(id)}`, { headers: headers() });
      if (!res.ok) throw await failure(res);
      return (await res.json()) as RunnerIntegration;
    },
    /** The runner's replicas as the management plane sees them (empty when it predates replicas). */
    async replicas(): Promise<{ replicaId: string; lastSeenAt: string; live: boolean }[]> {
      const res = await fetch(`${base}${RUNNER_REPLICAS_PATH}`, { headers: headers() });
      if (res.status === 404) return [];
      if (!res.ok) throw await failure(res);
      return ((await res.json()) as { replicas: { replicaId: string; lastSeenAt: string; live: boolean }[] }).replicas;
    },
    /** undefined when the management plane predates the settings check. */
    async settings(): Promise<Partial<SharedSettings> | undefined> {
      const res = await fetch(`${base}${RUNNER_SETTINGS_PATH}`, { headers: headers() });
      if (res.status === 404) return undefined;
      if (!res.ok) throw await failure(res);
      return (await res.json()) as Partial<SharedSettings>;
    },
    async environmentProgress(environmentId: string, report: EnvironmentProgressReport): Promise<void> {
      await send('POST', environmentProgressPath(environmentId), report);
    },
    async sendEvents(events: RunnerEvent[]): Promise<void> {
      await send('POST', RUNNER_EVENTS_PATH, { events });
    },
    async reportRevocationPurge(report: RevocationPurgeReport): Promise<void> {
      await send('POST', RUNNER_REVOCATION_PURGE_PATH, report);
    },
    async repositoryCacheUsage(report: RepositoryCacheReport): Promise<void> {
      await send('PUT', REPOSITORY_CACHE_REPORT_PATH, report);
    },
    async poll(waitSeconds: number, signal: AbortSignal): Promise<ControlRequest[]> {
      const replica = replicaId ? `&replica=${encodeURIComponent(replicaId)}` : '';
      const res = await fetch(`${base}${CONTROL_PATHS.poll}?wait=${waitSeconds}${replica}`, { headers: headers(), signal });
      if (!res.ok) throw await failure(res);
      return ((await res.json()) as { requests: ControlRequest[] }).requests;
    },
    async answer(requestId: string, answer: ControlAnswer): Promise<void> {
      const res = await fetch(`${base}${CONTROL_PATHS.answer(requestId)}`, {
        method: 'POST',
        headers: headers(true),
        body: JSON.stringify(answer),
      });
      // 409: the request expired or was answered by another replica; nothing left to do.
      if (!res.ok && res.status !== 409) throw await failure(res);
    },
  };
}

export type ManagementClient = ReturnType<typeof createManagementClient>;
