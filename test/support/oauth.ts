import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import type { EmulatorHandle } from '../../emulator/index.ts';
import type { EntraApp } from '../../emulator/entra/index.ts';
import { parseForm } from '../../emulator/entra/testkit.ts';
import type { Browser } from './management.ts';

export interface ConsentResult {
  /** Where Entra sent the browser back: the callback URL with code and state. */
  callback: string;
}

/**
 * Follows Connect as a browser would: Keyway → Entra's page → pick the user (with the password when
 * the user has one) and accept → callback URL. Only the emulator's login URL is needed, so a test
 * driving `keyway start --demo` in a child process can pass the URL it printed.
 */
export async function consentAtEntra(
  emu: { urls: Pick<EmulatorHandle['urls'], 'login'> },
  authorizeUrl: string,
  upn: string,
  action: 'accept' | 'cancel' = 'accept',
  password?: string,
): Promise<ConsentResult> {
  const page = await fetch(authorizeUrl, { redirect: 'manual' });
  const html = await page.text();
  if (page.status !== 200) {
    const location = page.headers.get('location');
    if (location) return { callback: location };
    throw new Error(`authorize page answered ${page.status}: ${html.slice(0, 300)}`);
  }
  const { action: formAction, fields } = parseForm(html);
  fields.action = action;
  fields.login = upn;
  if (password !== undefined) fields.passwd = password;
  const res = await fetch(new URL(formAction, emu.urls.login), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
  const location = res.headers.get('location');
  assert.ok(location, `consent POST answered ${res.status} without a redirect`);
  return { callback: location };
}

/** Starts Connect in a signed-in browser session; returns Entra's authorize URL. */
export async function startConnect(browser: Browser, integrationId: string, query = ''): Promise<string> {
  const res = await browser.request({ method: 'GET', url: `/api/v1/oauth/authorize/${integrationId}${query}` });
  assert.equal(res.statusCode, 302, res.body);
  return String(res.headers.location);
}

/**
 * Delivers the callback to Keyway in the given browser session. With `keepHost`, the request
 * carries the callback URL's host, as a browser would (checks that compare it with the public URL).
 */
export async function deliverCallback(browser: Browser, callback: string, options: { keepHost?: boolean } = {}) {
  const url = new URL(callback);
  const res = await browser.request({
    method: 'GET',
    url: `${url.pathname}${url.search}`,
    ...(options.keepHost ? { headers: { host: url.host } } : {}),
  });
  const ok = /data-ok="true"/.exec(res.body) !== null;
  const code = /data-code="([^"]*)"/.exec(res.body)?.[1] ?? '';
  const message = /data-message="([^"]*)"/.exec(res.body)?.[1] ?? '';
  const returnTo = /data-return-to="([^"]*)"/.exec(res.body)?.[1]?.replace(/&amp;/g, '&') ?? '';
  return { status: res.statusCode, ok, code, message, returnTo, headers: res.headers, body: res.body };
}

/**
 * Saves an Azure DevOps integration (dev.azure.com, OAuth through `app`, an Entra app of the
 * emulator's default tenant) on a runner, as an admin does: the callback URL is registered in the
 * app first (Save & Test checks it: AADSTS50011), then the integration is saved, and Save & Test
 * must pass. `pat` also offers personal access tokens; `plane` is the replica the admin uses.
 */
export async function saveOAuthIntegration(
  plane: { url: string; adminBrowser: Browser },
  emu: Pick<EmulatorHandle, 'urls' | 'defaultTenant'>,
  runnerId: string,
  options: { app: { app: EntraApp; clientSecret: string }; pat?: boolean },
): Promise<{ integrationId: string; saved: LightMyRequestResponse }> {
  const id = `int_${randomBytes(9).toString('base64url')}`;
  options.app.app.redirectUris.push(`${plane.url}/api/v1/oauth/callback/${id}`);
  const saved = await plane.adminBrowser.request({
    method: 'POST',
    url: `/api/v1/runners/${runnerId}/scm-integrations`,
    payload: {
      id,
      scmId: 'azure-devops',
      host: 'dev.azure.com',
      oauth: {
        clientId: options.app.app.clientId,
        clientSecret: options.app.clientSecret,
        issuerUrl: `${emu.urls.login}/${emu.defaultTenant.id}/v2.0`,
      },
      pat: { enabled: options.pat ?? false },
    },
  });
  assert.equal(saved.statusCode, 201, saved.body);
  assert.equal(saved.json().test.valid, true, saved.body);
  return { integrationId: saved.json().integration.id as string, saved };
}
