// HTML the emulator serves: sign-in/consent, error, form_post, sign-out. Plain HTML with inline
// CSS, nothing loaded from elsewhere, stable `id`s and `data-testid`s for Playwright.
import type { AuthorizeParams } from './store.ts';

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const CSS = `
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 "Segoe UI",system-ui,-apple-system,sans-serif;background:#f2f2f2;color:#1b1b1b}
main{max-width:440px;margin:48px auto;background:#fff;padding:36px 44px;box-shadow:0 2px 6px rgba(0,0,0,.2)}
.brand{font-weight:600;color:#5e5e5e;font-size:13px;letter-spacing:.02em;margin-bottom:16px}
h1{font-size:24px;font-weight:600;margin:0 0 12px}
.scopes{margin:8px 0 16px;padding-left:20px;font-family:ui-monospace,Consolas,monospace;font-size:13px;word-break:break-all}
fieldset{border:0;padding:0;margin:0 0 16px}
legend{font-weight:600;margin-bottom:6px}
.user{display:flex;align-items:center;gap:10px;padding:8px;border:1px solid #ddd;margin-bottom:6px}
.user:focus-within{outline:2px solid #0067b8}
.user label{display:flex;flex-direction:column;cursor:pointer;flex:1}
.upn{color:#5e5e5e;font-size:13px}
.field{display:flex;flex-direction:column;gap:4px;margin-bottom:16px}
input[type=password]{padding:6px 8px;border:1px solid #666;font:inherit}
.buttons{display:flex;flex-direction:row-reverse;gap:8px;justify-content:flex-start}
button{font:inherit;padding:6px 20px;min-width:108px;border:1px solid #666;background:#fff;cursor:pointer}
button#accept{background:#0067b8;border-color:#0067b8;color:#fff}
button:focus-visible{outline:2px solid #1b1b1b;outline-offset:2px}
.error{color:#a4262c;background:#fde7e9;padding:8px 12px;white-space:pre-wrap;word-break:break-word}
.meta{color:#5e5e5e;font-size:12px;word-break:break-all}
`;

function layout(title: string, body: string, extraHead = ''): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${CSS}</style>${extraHead}</head>
<body><main>${body}</main></body></html>`;
}

/** Hidden fields: the authorize request travels with the form, bound to the flow token. */
export const CARRIED_PARAMS = [
  'client_id',
  'redirect_uri',
  'response_type',
  'response_mode',
  'scope',
  'state',
  'nonce',
  'prompt',
  'login_hint',
  'code_challenge',
  'code_challenge_method',
] as const satisfies readonly (keyof AuthorizeParams)[];

export interface SignInPageInput {
  action: string;
  flowToken: string;
  params: AuthorizeParams;
  appName: string;
  tenantName: string;
  scopes: string[];
  users: { upn: string; displayName: string; hasPassword: boolean }[];
  selectedUpn?: string;
  error?: string;
}

export function signInPage(p: SignInPageInput): string {
  const hidden = CARRIED_PARAMS.map((k) => {
    const v = p.params[k];
    return v === undefined ? '' : `<input type="hidden" name="${k}" value="${esc(v)}">`;
  }).join('');
  const users = p.users
    .map((u, i) => {
      const checked = p.selectedUpn === u.upn || (p.selectedUpn === undefined && p.users.length === 1) ? ' checked' : '';
      return `<div class="user"><input type="radio" name="login" id="user-${i}" value="${esc(u.upn)}" data-testid="user-${esc(u.upn)}" required${checked}><label for="user-${i}"><span class="name">${esc(u.displayName)}</span><span class="upn">${esc(u.upn)}</span></label></div>`;
    })
    .join('');
  const anyPassword = p.users.some((u) => u.hasPassword);
  const password = anyPassword
    ? `<div class="field"><label for="password">Password (if the account has one)</label><input type="password" id="password" name="passwd" data-testid="password" autocomplete="current-password"></div>`
    : '';
  const body = `<div class="brand">Microsoft Entra ID · emulator</div>
<h1 id="title">Sign in and consent</h1>
<p><strong data-testid="app-name">${esc(p.appName)}</strong> wants to sign you in to <strong>${esc(p.tenantName)}</strong> and access:</p>
<ul class="scopes" data-testid="scopes">${p.scopes.map((s) => `<li>${esc(s)}</li>`).join('')}</ul>
${p.error ? `<p class="error" role="alert" data-testid="error">${esc(p.error)}</p>` : ''}
<form method="post" action="${esc(p.action)}" aria-labelledby="title">
<input type="hidden" name="flowToken" value="${esc(p.flowToken)}">${hidden}
<fieldset><legend>Pick an account</legend>${users || '<p data-testid="no-users">This tenant has no users.</p>'}</fieldset>
${password}
<div class="buttons"><button type="submit" name="action" value="accept" id="accept" data-testid="accept">Accept</button><button type="submit" name="action" value="cancel" id="cancel" data-testid="cancel" formnovalidate>Cancel</button></div>
</form>`;
  return layout('Sign in to your account', body);
}

export function errorPage(p: { description: string; code: number; errorUri: string }): string {
  const [first, ...trailer] = p.description.split('\r\n');
  const body = `<div class="brand">Microsoft Entra ID · emulator</div>
<h1>Sorry, but we're having trouble signing you in.</h1>
<p class="error" role="alert" data-testid="error" data-code="${p.code}">${esc(first ?? '')}</p>
<p class="meta">${trailer.map(esc).join('<br>')}</p>
<p class="meta"><a href="${esc(p.errorUri)}">More about AADSTS${p.code}</a></p>`;
  return layout('Sign in to your account', body);
}

export function errorCodePage(code: string, summary: string | undefined): string {
  const body = `<div class="brand">Microsoft Entra ID · emulator</div>
<h1>Error code lookup</h1>
<p data-testid="error-code">${code ? `AADSTS${esc(code)}` : 'No code given.'}</p>
<p>${esc(summary ?? (code ? 'This emulator has no description for this code.' : 'Add ?code=nnnn to the address.'))}</p>`;
  return layout('Error code lookup', body);
}

/** response_mode=form_post: Entra answers a page that posts the result to the redirect URI. */
export function formPostPage(action: string, fields: Record<string, string>, nonce: string): string {
  const inputs = Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`)
    .join('');
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Working...</title></head><body>
<form method="POST" name="hiddenform" action="${esc(action)}">${inputs}<noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit"></noscript></form>
<script nonce="${esc(nonce)}">document.forms[0].submit();</script></body></html>`;
}

export function signedOutPage(): string {
  const body = `<div class="brand">Microsoft Entra ID · emulator</div>
<h1 data-testid="signed-out">You signed out of your account</h1>
<p>It's a good idea to close all browser windows.</p>`;
  return layout('Sign out', body);
}
