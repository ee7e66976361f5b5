// Where a signed-in person starts: members on "Open a repository" or the page they were last on,
// admins on Runners (what they set up and look after). A `?next=` from the sign-in page wins over
// both. The last page is kept per user in localStorage, and only ever an in-app path.

import type { Role } from './types.ts';

const KEY_PREFIX = 'keyway:last-page:';

/** Pages a member cannot use: never worth landing a member on. */
const ADMIN_PAGES = ['/members', '/audit-log'];

/** The start page of a role: the brand link goes here too. */
export function homeFor(role: Role): string {
  return role === 'admin' ? '/runners' : '/open';
}

/**
 * `path` when it stays inside the app, else null: a path, never another origin (`//evil`,
 * `/\evil`, or a scheme), never the sign-in pages, never the root (which only redirects).
 */
export function safeNext(path: string | null | undefined): string | null {
  if (!path || !path.startsWith('/') || path.startsWith('//') || path.startsWith('/\\')) return null;
  // Control characters and backslashes have no place in Keyway's own paths; browsers treat some as `/`.
  for (const c of path) if (c < ' ' || c === '\u007f' || c === '\\') return null;
  const pathname = path.split(/[?#]/, 1)[0]!;
  if (pathname === '/' || pathname === '/sign-in' || pathname.startsWith('/sign-in/')) return null;
  return path;
}

function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    // Storage can be switched off (private modes, policies): then nobody has a last page.
    return null;
  }
}

/** Keeps `pathname` as the user's last page (not its query, which may hold one-time parameters). */
export function rememberPage(userId: string, pathname: string): void {
  const path = safeNext(pathname);
  if (!path || path.includes('?') || path.includes('#') || ADMIN_PAGES.includes(path)) return;
  try {
    storage()?.setItem(KEY_PREFIX + userId, path);
  } catch {
    // A full or read-only storage only costs the convenience.
  }
}

/** The user's last page, if it is still a safe in-app path. */
export function lastPage(userId: string): string | null {
  let stored: string | null = null;
  try {
    stored = storage()?.getItem(KEY_PREFIX + userId) ?? null;
  } catch {
    return null;
  }
  const path = safeNext(stored);
  return path && !ADMIN_PAGES.includes(path) ? path : null;
}

/** Where to go after signing in (or on `/`): a safe `next`, else the role's landing page. */
export function landingFor(me: { user: { id: string }; role: Role }, next: string | null): string {
  const wanted = safeNext(next);
  if (wanted) return wanted;
  if (me.role === 'admin') return homeFor('admin');
  return lastPage(me.user.id) ?? homeFor('member');
}
