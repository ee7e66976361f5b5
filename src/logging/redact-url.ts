/**
 * Keeps a URL's path and the names of its query parameters, drops every value and the fragment.
 * Paths under /sign-in/ and /api/v1/runners/exchange never carry secrets by design (tokens
 * travel in bodies or fragments), but a path segment that looks like a Keyway token is masked too.
 */
export function redactUrl(url: string): string {
  const hashAt = url.indexOf('#');
  const withoutHash = hashAt === -1 ? url : url.slice(0, hashAt);
  const queryAt = withoutHash.indexOf('?');
  const path = (queryAt === -1 ? withoutHash : withoutHash.slice(0, queryAt)).replace(TOKEN_LIKE, '[redacted]');
  if (queryAt === -1) return path;
  const names = withoutHash
    .slice(queryAt + 1)
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const name = pair.split('=')[0] ?? '';
      return `${name.slice(0, 40)}=[redacted]`;
    });
  return names.length ? `${path}?${names.join('&')}` : path;
}

const TOKEN_LIKE = /\bkw[a-z]?_[A-Za-z0-9_-]{16,}/g;
