import type { FastifyInstance } from 'fastify';

// The one-time sign-in link carries its token in the URL fragment (#token=...), which browsers
// never send to servers, proxies or Referer headers; this page posts it to the API and moves on.
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Signing in to Keyway</title><meta name="referrer" content="no-referrer">
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color-scheme:light dark}</style>
</head><body><main><h1>Keyway</h1><p id="status" role="status">Signing you in…</p></main>
<script src="/sign-in/link.js"></script></body></html>`;

const SCRIPT = `(async () => {
  const status = document.getElementById('status');
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  history.replaceState(null, '', location.pathname);
  if (!token) { status.textContent = 'This link has no sign-in token. Run keyway start again for a new link.'; return; }
  const res = await fetch('/api/v1/auth/link', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
  if (res.ok) { location.replace('/'); return; }
  const body = await res.json().catch(() => ({}));
  status.textContent = (body.error && body.error.message) || 'Sign-in failed.';
})();`;

export function registerSignInPage(app: FastifyInstance): void {
  const headers = {
    'content-security-policy':
      "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  };
  app.get('/sign-in/link', { schema: { hide: true } }, async (_request, reply) =>
    reply.headers(headers).type('text/html; charset=utf-8').send(PAGE),
  );
  app.get('/sign-in/link.js', { schema: { hide: true } }, async (_request, reply) =>
    reply.headers(headers).type('text/javascript; charset=utf-8').send(SCRIPT),
  );
}
