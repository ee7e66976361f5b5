import { ConfigError } from '../config/config.ts';
import { KeywayApiError } from '../control/api-error.ts';

export interface ApiClientOptions {
  server?: string;
  env?: Record<string, string | undefined>;
  fetch?: typeof fetch;
}

/**
 * The management plane's HTTP API as command-line tools (`keyway seal`, `apply`, `export`) use it:
 * a personal API token from KEYWAY_API_TOKEN (never a flag, so it stays out of shell history and
 * process lists) and the server from --server, KEYWAY_SERVER_URL or KEYWAY_PUBLIC_URL.
 */
export function createApiClient(options: ApiClientOptions = {}) {
  const env = options.env ?? process.env;
  const server = (options.server ?? env.KEYWAY_SERVER_URL ?? env.KEYWAY_PUBLIC_URL ?? '').trim().replace(/\/+$/, '');
  if (!server) throw new ConfigError('KEYWAY_SERVER_URL', 'is not set: pass --server https://keyway.example.com or set KEYWAY_SERVER_URL');
  const token = env.KEYWAY_API_TOKEN?.trim();
  if (!token)
    throw new ConfigError(
      'KEYWAY_API_TOKEN',
      'is not set: create a personal API token in Keyway (Settings → API tokens) and export it as KEYWAY_API_TOKEN',
    );
  const doFetch = options.fetch ?? fetch;

  async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await doFetch(`${server}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (err) {
      throw new KeywayApiError(0, 'unreachable', `cannot reach ${server}: ${(err as Error).message}`);
    }
    const text = await res.text();
    let parsed: unknown = undefined;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    if (!res.ok) {
      const error = (parsed as { error?: { code?: string; message?: string; field?: string } } | undefined)?.error;
      throw new KeywayApiError(
        res.status,
        error?.code ?? 'http_error',
        `${method} ${path}: ${error?.message ?? `the server answered ${res.status}`}`,
        error?.field,
      );
    }
    return parsed as T;
  }

  return {
    server,
    get: <T>(path: string) => request<T>('GET', path),
    post: <T>(path: string, body: unknown) => request<T>('POST', path, body),
    patch: <T>(path: string, body: unknown) => request<T>('PATCH', path, body),
    put: <T>(path: string, body: unknown) => request<T>('PUT', path, body),
    delete: (path: string) => request<unknown>('DELETE', path),
  };
}

export type ApiClient = ReturnType<typeof createApiClient>;
