// Paging: how a list answer names its next page, and following continuation tokens across pages.
// Lists page by continuation token (in the `x-ms-continuationtoken` header, or in the body for the
// PAT API) or by `$top`/`$skip` (commits, pull requests: the caller passes `skip`).

import { AzureDevOpsError } from './errors.ts';
import { jsonObject, type Fresh } from './plan.ts';
import type { Page } from './types.ts';

function optionalToken(v: string | null | undefined): string | undefined {
  return v ? v : undefined;
}

/**
 * `{"count": n, "value": [...]}` (the specs type lists as arrays; the service wraps them:
 * docs/azure-devops.md, "REST calls"), with the continuation token of its header.
 */
export const listOf =
  <T>() =>
  (res: Fresh): Page<T> => {
    const value = Array.isArray(res.json) ? res.json : jsonObject(res).value;
    if (!Array.isArray(value)) throw new Error('expected {"value": [...]}');
    const token = optionalToken(res.headers.get('x-ms-continuationtoken'));
    return token ? { items: value as T[], continuationToken: token } : { items: value as T[] };
  };

/** A page whose continuation token is in the body (`{"<key>": [...], "continuationToken": "…"}`; "" means no more). */
export const pageInBody =
  <T>(key: string) =>
  (res: Fresh): Page<T> => {
    const o = jsonObject(res);
    const items = o[key];
    if (!Array.isArray(items)) throw new Error(`expected {"${key}": [...]}`);
    const token = typeof o.continuationToken === 'string' ? optionalToken(o.continuationToken) : undefined;
    return token ? { items: items as T[], continuationToken: token } : { items: items as T[] };
  };

/**
 * Follows continuation tokens: `for await (const ref of pages((token) => client.listRefs(p, r, { continuationToken: token })))`.
 * Stops when the service sends no token; fails when it repeats one (a loop) or after `maxPages`.
 */
export async function* pages<T>(
  fetchPage: (continuationToken: string | undefined) => Promise<Page<T>>,
  opts: { maxPages?: number } = {},
): AsyncGenerator<T, void, undefined> {
  const seen = new Set<string>();
  let token: string | undefined;
  const maxPages = opts.maxPages ?? 1000;
  for (let n = 0; ; n++) {
    if (n >= maxPages) {
      throw new AzureDevOpsError({
        kind: 'unexpected-response',
        message: `more than ${maxPages} pages; stopped following continuation tokens`,
      });
    }
    const page = await fetchPage(token);
    yield* page.items;
    if (!page.continuationToken) return;
    if (seen.has(page.continuationToken)) {
      throw new AzureDevOpsError({
        kind: 'unexpected-response',
        message: 'Azure DevOps repeated a continuation token; stopped to avoid a loop',
      });
    }
    seen.add(page.continuationToken);
    token = page.continuationToken;
  }
}
