// The one way the UI talks to Keyway: same-origin JSON under /api/v1 with the session cookie.
// Every write carries X-CSRF-Token (from GET /api/v1/me). Errors arrive as
// {"error":{"code","message","field"}} and become ApiError.

import { KeywayApiError as ApiError } from '../../src/control/api-error.ts';

/** The UI's name for an API answer that was not 2xx. */
export { ApiError };

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

let csrfToken: string | null = null;
let sessionLost: (() => void) | undefined;
let organizationRequired: (() => void) | undefined;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called when an API call answers 401: the session expired or was signed out elsewhere. */
export function onSessionLost(callback: () => void): void {
  sessionLost = callback;
}

/** Called when an API call answers 409 organization_required: the session is in no organization (any more). */
export function onOrganizationRequired(callback: () => void): void {
  organizationRequired = callback;
}

async function send(method: Method, path: string, body: unknown, signal: AbortSignal | undefined): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  // No content-type without a body: Fastify rejects an empty JSON body.
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  try {
    return await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal,
    });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ApiError(0, 'network', 'Keyway could not be reached. Check your connection and try again.');
  }
}

async function parse(res: Response): Promise<unknown> {
  if (res.status === 204) return undefined;
  const text = await res.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export async function request<T>(method: Method, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  let res = await send(method, path, body, signal);
  let data = await parse(res);
  if (res.status === 403 && errorOf(data)?.code === 'csrf_failed' && method !== 'GET') {
    // The token rotates with the session (another tab signed in again): fetch it and retry once.
    const me = await send('GET', '/me', undefined, signal);
    const token = (await parse(me)) as { csrfToken?: string | null } | undefined;
    if (me.ok && token?.csrfToken) {
      csrfToken = token.csrfToken;
      res = await send(method, path, body, signal);
      data = await parse(res);
    }
  }
  if (!res.ok) {
    const error = errorOf(data);
    if (res.status === 401 && !path.startsWith('/auth/')) sessionLost?.();
    if (res.status === 409 && error?.code === 'organization_required') organizationRequired?.();
    throw new ApiError(
      res.status,
      error?.code ?? `http_${res.status}`,
      error?.message ?? `Keyway answered ${res.status} ${res.statusText}`.trim(),
      error?.field,
    );
  }
  return data as T;
}

function errorOf(data: unknown): { code?: string; message?: string; field?: string } | undefined {
  if (data && typeof data === 'object' && 'error' in data) {
    const error = (data as { error: unknown }).error;
    if (error && typeof error === 'object') return error as { code?: string; message?: string; field?: string };
  }
  return undefined;
}

export const api = {
  get: <T>(path: string, signal?: AbortSignal) => request<T>('GET', path, undefined, signal),
  post: <T>(path: string, body?: unknown) => request<T>('POST', path, body),
  put: <T>(path: string, body?: unknown) => request<T>('PUT', path, body),
  patch: <T>(path: string, body?: unknown) => request<T>('PATCH', path, body),
  delete: <T = void>(path: string) => request<T>('DELETE', path),
};

export function messageOf(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return 'Something went wrong.';
}
