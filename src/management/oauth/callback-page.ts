import type { CallbackOutcome } from './service.ts';

// The page the browser lands on after Entra. It loads nothing from elsewhere and sends no Referer
// (the URL held the code and state). A popup tells its opener the outcome and closes; a full-page
// flow goes back to returnTo, a same-origin path.

export const CALLBACK_HEADERS = {
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
} as const;

const escape = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

export function callbackPage(outcome: Pick<CallbackOutcome, 'ok' | 'code' | 'message' | 'display' | 'returnTo'>): string {
  const title = outcome.ok ? 'Connected' : 'Connection failed';
  const back = `${outcome.returnTo}${outcome.returnTo.includes('?') ? '&' : '?'}keyway_authorization=${outcome.ok ? 'connected' : 'failed'}${outcome.ok ? '' : `&keyway_error=${encodeURIComponent(outcome.code)}`}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title} — Keyway</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color-scheme:light dark}</style>
</head><body><main id="result" data-ok="${outcome.ok}" data-code="${escape(outcome.code)}" data-message="${escape(outcome.message)}" data-display="${outcome.display}" data-return-to="${escape(back)}">
<h1>${title}</h1><p role="status">${escape(outcome.message.charAt(0).toUpperCase() + outcome.message.slice(1))}.</p>
<p><a href="${escape(back)}">Back to Keyway</a></p></main>
<script src="/oauth/callback.js"></script></body></html>`;
}

export const CALLBACK_SCRIPT = `(() => {
  const el = document.getElementById('result');
  if (!el) return;
  const result = { type: 'keyway:authorization', ok: el.dataset.ok === 'true', code: el.dataset.code, message: el.dataset.message };
  if (el.dataset.display === 'popup' && window.opener && !window.opener.closed) {
    window.opener.postMessage(result, location.origin);
    window.close();
    return;
  }
  location.replace(el.dataset.returnTo || '/');
})();`;
