/**
 * Where the browser may be sent after Connect: a path on this origin, nothing else. Rejects
 * absolute URLs, scheme-relative `//host`, backslash tricks (`/\host`, which browsers treat as
 * `//host`), encoded variants of those, and control characters.
 */
export function safeReturnTo(value: string | undefined, fallback = '/'): string {
  if (!value) return fallback;
  if (value.length > 1000) return fallback;
  let decoded = value;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    return fallback;
  }
  for (const candidate of [value, decoded]) {
    if (!candidate.startsWith('/')) return fallback;
    if (candidate.startsWith('//') || candidate.startsWith('/\\')) return fallback;
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
    if (/[\u0000-\u001f\u007f\\]/.test(candidate)) return fallback;
  }
  // Resolving against a dummy origin must keep the origin: the last line of defence.
  const resolved = new URL(value, 'https://keyway.invalid');
  if (resolved.origin !== 'https://keyway.invalid') return fallback;
  const path = `${resolved.pathname}${resolved.search}${resolved.hash}`;
  // Dot segments resolve away: `/.//evil.test` becomes `//evil.test`, which a browser reads as
  // another host. Judge what is returned, not only what came in.
  if (path.startsWith('//') || path.startsWith('/\\')) return fallback;
  return path;
}
