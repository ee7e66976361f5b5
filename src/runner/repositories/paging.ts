import { HandlerError } from '../agent.ts';
import type { Page } from '../../azure-devops/types.ts';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

export function pageSize(top: unknown): number {
  if (top === undefined || top === null) return DEFAULT_PAGE_SIZE;
  if (typeof top !== 'number' || !Number.isInteger(top) || top < 1 || top > MAX_PAGE_SIZE) {
    throw new HandlerError('invalid_request', `top must be a whole number from 1 to ${MAX_PAGE_SIZE}`, 'top');
  }
  return top;
}

/**
 * Listings the service does not page with continuation tokens (accounts, repositories) or pages by
 * `$skip` only (commits, pull requests) get an emulated token: the offset of the next item, as a
 * decimal string. Items added or removed between two pages can shift an offset; the 30 s list cache
 * keeps repository and organization pages consistent while a user pages through them.
 */
export function offsetFrom(token: unknown): number {
  if (token === undefined || token === null || token === '') return 0;
  if (typeof token !== 'string' || !/^\d{1,9}$/.test(token)) {
    throw new HandlerError(
      'invalid_continuation_token',
      'continuationToken is not one this listing handed out; start again without it',
      'continuationToken',
    );
  }
  return Number(token);
}

export function offsetPage<T>(all: readonly T[], top: number, token: unknown): Page<T> {
  const start = offsetFrom(token);
  const items = all.slice(start, start + top);
  return start + top < all.length ? { items, continuationToken: String(start + top) } : { items };
}

/**
 * For `$top`/`$skip` APIs: ask for one item more than the page, so whether another page exists is
 * known without a further (possibly empty) request.
 */
export async function skipPage<T>(top: number, token: unknown, fetch: (skip: number, top: number) => Promise<Page<T>>): Promise<Page<T>> {
  const skip = offsetFrom(token);
  const page = await fetch(skip, top + 1);
  const items = page.items.slice(0, top);
  return page.items.length > top ? { items, continuationToken: String(skip + top) } : { items };
}
