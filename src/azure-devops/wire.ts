// What the transport and the probes share on the wire: the headers that keep Azure DevOps from
// answering with its sign-in page, network-error codes, and bounded body reads.

import { guardedFetch, HOST_REFUSED } from './guarded-fetch.ts';
import type { FetchLike } from './guarded-fetch.ts';
import type { AzureDevOpsEndpoints, AzureDevOpsTarget } from './endpoints.ts';

export const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\b/i;

/**
 * Bad credentials answer 401 instead of a 203 sign-in page or a 302
 * (docs/azure-devops.md, "Refused tokens").
 */
export const SUPPRESS_SIGN_IN = { 'X-TFS-FedAuthRedirect': 'Suppress', 'X-VSS-ReauthenticationAction': 'Suppress' } as const;

/** Internal: a failure that happened before an HTTP answer (or while reading its body). */
export class TransportFailure extends Error {
  constructor(
    readonly code: string,
    readonly timedOut: boolean,
  ) {
    super(code);
  }
}

/**
 * Walks `cause` chains and AggregateErrors for a Node/undici error code (`ECONNREFUSED`,
 * `ENOTFOUND`, `UND_ERR_SOCKET`…); without one, the innermost message (undici's "bad port").
 */
export function networkCode(err: unknown): string {
  const seen = new Set<unknown>();
  let cur: unknown = err;
  let innermost: string | undefined;
  while (cur && typeof cur === 'object' && !seen.has(cur)) {
    seen.add(cur);
    const code = (cur as { code?: unknown }).code;
    // Keyway's own refusal (guarded-fetch.ts) says which address and why; its text holds no secret.
    if (code === HOST_REFUSED) return `${HOST_REFUSED}: ${(cur as Error).message}`;
    if (typeof code === 'string' && code) return code;
    const errors = (cur as { errors?: unknown }).errors;
    if (Array.isArray(errors) && errors.length > 0) {
      const inner = networkCode(errors[0]);
      if (inner !== 'network-error') return inner;
    }
    const message = (cur as { message?: unknown }).message;
    if (typeof message === 'string' && message && message !== 'fetch failed') innermost = message.slice(0, 80);
    cur = (cur as { cause?: unknown }).cause;
  }
  return innermost ?? 'network-error';
}

export function looksLikeHtml(bytes: Uint8Array): boolean {
  const head = new TextDecoder().decode(bytes.subarray(0, 512)).trimStart().toLowerCase();
  return head.startsWith('<!doctype html') || head.startsWith('<html') || head.startsWith('<head') || head.startsWith('<body');
}

export function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}

/** Server hosts are an admin's input: their addresses are checked as the runner connects. */
export function defaultFetch(target: AzureDevOpsTarget, endpoints: AzureDevOpsEndpoints): FetchLike {
  return target.kind === 'server'
    ? guardedFetch(endpoints.allowInsecureServerHosts, endpoints.serverHostLookup)
    : (url, init) => fetch(url, init);
}

export async function readLimited(res: Response, limit: number): Promise<string> {
  if (!res.body) return '';
  return new TextDecoder().decode(await readAtMost(res.body.getReader(), limit, () => new Error('too large')));
}

/** A body's bytes, at most `limit` of them: one more and the stream is cancelled and `tooLarge()` thrown. */
export async function readAtMost(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  limit: number,
  tooLarge: () => Error,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}
