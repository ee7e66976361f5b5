// Reads one Azure DevOps answer: a success for the plan's parser, or the failure it means — the
// 203 sign-in page and sign-in redirects, bodies over their limit, HTML or malformed JSON where JSON
// belongs, and Azure DevOps's error body mapped into an AzureDevOpsError (errors.ts).

import {
  AzureDevOpsError,
  isSignInRedirect,
  kindForStatus,
  parseAdoErrorBody,
  parseTfCode,
  readTenantHints,
  type AzureDevOpsErrorInit,
} from './errors.ts';
import type { Plan } from './plan.ts';
import { readRateLimit, throttleSeconds } from './retry.ts';
import type { Conditional } from './types.ts';
import { JSON_TYPE, looksLikeHtml, networkCode, pathOf, readAtMost, TransportFailure } from './wire.ts';

/** A failed answer: the error to throw, and what the retry decision needs. */
export interface AnswerFailure {
  status: number;
  error: AzureDevOpsError;
  /** Seconds a 429 asked to wait. */
  throttle?: number;
}

export type Judged<T> = { done: true; value: T | Conditional<T> } | { done: false; failure: AnswerFailure };

export interface ResponseReaderOptions {
  /** Builds an error from redacted text. */
  fail: (init: AzureDevOpsErrorInit) => AzureDevOpsError;
  /** Larger successful answers fail with `unexpected-response`. */
  maxResponseBytes: number;
  now: () => number;
}

export function createResponseReader({ fail, maxResponseBytes, now }: ResponseReaderOptions) {
  async function readBody(res: Response, limit: number, where: { plan: Plan<unknown>; attempts: number }): Promise<Uint8Array> {
    const declared = Number(res.headers.get('content-length') ?? '');
    const tooLarge = (): AzureDevOpsError =>
      fail({
        kind: 'unexpected-response',
        message: `${where.plan.operation}: answer larger than ${limit} bytes`,
        status: res.status,
        method: where.plan.method,
        url: where.plan.url,
        operation: where.plan.operation,
        attempts: where.attempts,
      });
    if (Number.isFinite(declared) && declared > limit) {
      await res.body?.cancel().catch(() => undefined);
      throw tooLarge();
    }
    if (!res.body) return new Uint8Array(0);
    const reader = res.body.getReader();
    try {
      return await readAtMost(reader, limit, tooLarge);
    } catch (e) {
      if (e instanceof AzureDevOpsError) throw e;
      throw new TransportFailure(networkCode(e), false);
    }
  }

  async function judge<T>(
    res: Response,
    plan: Plan<T>,
    conditional: { etag: string | null } | undefined,
    attempts: number,
  ): Promise<Judged<T>> {
    const status = res.status;
    const common = { status, method: plan.method, url: plan.url, operation: plan.operation, attempts };
    const discard = async (): Promise<void> => {
      await res.body?.cancel().catch(() => undefined);
    };

    if (status === 304 && conditional?.etag) {
      await discard();
      return { done: true, value: { notModified: true, etag: res.headers.get('etag') ?? conditional.etag } };
    }

    // 203 Non-Authoritative Information is how Azure DevOps serves its HTML sign-in page to a
    // rejected credential when the suppress header is ignored; it is never a REST success.
    if (status === 203 || isSignInRedirect(status, res.headers)) {
      await discard();
      return {
        done: false,
        failure: {
          status,
          error: fail({
            kind: 'unauthenticated',
            message: `${plan.operation}: ${plan.method} ${pathOf(plan.url)} → HTTP ${status} (${status === 203 ? 'sign-in page' : 'redirect to sign-in'})`,
            ...common,
            ...readTenantHints(res.headers),
          }),
        },
      };
    }

    if (status >= 200 && status < 300) {
      if (plan.expect === 'none') {
        await discard();
        return { done: true, value: wrap(plan.parse({ status, headers: res.headers }), res, conditional) };
      }
      const bytes = await readBody(res, maxResponseBytes, { plan, attempts });
      const contentType = res.headers.get('content-type') ?? '';
      if (plan.expect === 'bytes') {
        return { done: true, value: wrap(plan.parse({ status, headers: res.headers, bytes }), res, conditional) };
      }
      const unexpected = (what: string): Judged<T> => {
        throw fail({
          kind: 'unexpected-response',
          message: `${plan.operation}: ${plan.method} ${pathOf(plan.url)} → HTTP ${status} ${what}`,
          ...common,
        });
      };
      if (looksLikeHtml(bytes) || /html/i.test(contentType)) return unexpected('with an HTML page instead of JSON');
      if (!JSON_TYPE.test(contentType))
        return unexpected(`with ${contentType ? `content type ${contentType.split(';')[0]}` : 'no content type'} instead of JSON`);
      let json: unknown;
      try {
        json = JSON.parse(new TextDecoder().decode(bytes));
      } catch {
        return unexpected('with a body that is not valid JSON');
      }
      let value: T;
      try {
        value = plan.parse({ status, headers: res.headers, json });
      } catch (e) {
        if (e instanceof AzureDevOpsError) throw e;
        return unexpected(`with JSON of an unexpected shape (${e instanceof Error ? e.message : 'parse failed'})`);
      }
      return { done: true, value: wrap(value, res, conditional) };
    }

    if (status >= 300 && status < 400) {
      await discard();
      throw fail({
        kind: 'unexpected-response',
        message: `${plan.operation}: ${plan.method} ${pathOf(plan.url)} → HTTP ${status} redirect${status === 304 ? ' (not asked for)' : ''}; Keyway does not follow redirects from Azure DevOps`,
        ...common,
      });
    }

    // 4xx / 5xx: Azure DevOps error body when there is one.
    let body: ReturnType<typeof parseAdoErrorBody>;
    try {
      const bytes = await readBody(res, 64 * 1024, { plan, attempts });
      body = parseAdoErrorBody(new TextDecoder().decode(bytes));
    } catch {
      body = undefined;
    }
    const kind = kindForStatus(status);
    const rate = readRateLimit(res.headers, now());
    const throttle = status === 429 ? throttleSeconds(rate) : undefined;
    const tfCode = parseTfCode(body?.message);
    const tenant = status === 401 || status === 403 ? readTenantHints(res.headers) : {};
    const error = fail({
      kind,
      message: `${plan.operation}: ${plan.method} ${pathOf(plan.url)} → HTTP ${status}${body?.message ? `: ${body.message}` : ''}`,
      ...common,
      ...(tfCode ? { tfCode } : {}),
      ...(body?.typeKey ? { typeKey: body.typeKey } : {}),
      ...(body?.message ? { adoMessage: body.message } : {}),
      ...(throttle !== undefined ? { retryAfterSeconds: throttle } : {}),
      ...tenant,
      ...(plan.refusalHint && (kind === 'unauthenticated' || kind === 'forbidden') ? { hint: plan.refusalHint } : {}),
    });
    return { done: false, failure: { status, error, ...(throttle !== undefined ? { throttle } : {}) } };
  }

  function wrap<T>(value: T, res: Response, conditional: { etag: string | null } | undefined): T | Conditional<T> {
    if (!conditional) return value;
    const etag = res.headers.get('etag');
    return etag ? { notModified: false, value, etag } : { notModified: false, value };
  }

  return { judge };
}
