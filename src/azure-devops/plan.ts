// One REST call as data: what the transport sends and how it reads a successful answer.

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

export interface Fresh {
  status: number;
  headers: Headers;
  /** Parsed JSON when the plan expects JSON. */
  json?: unknown;
  bytes?: Uint8Array;
}

/** One REST call: where, how, and how to read a successful answer. */
export interface Plan<T> {
  operation: string;
  method: Method;
  url: string;
  body?: unknown;
  /** POST/PATCH that may be retried after a 5xx or network failure. */
  idempotent?: boolean;
  expect: 'json' | 'bytes' | 'none';
  accept?: string;
  signal?: AbortSignal;
  parse: (res: Fresh) => T;
  /** Why the call cannot work; thrown before any request. */
  unsupported?: { message: string; hint?: string };
  /** Said with a 401 or 403 answer: what kind of credential the API takes. */
  refusalHint?: string;
}

export function asObject(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** The answer's JSON object; anything else fails the parse. */
export function jsonObject(res: Fresh): Record<string, unknown> {
  const o = asObject(res.json);
  if (!o) throw new Error('expected a JSON object');
  return o;
}
