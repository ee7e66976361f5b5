// Test harness for the Entra emulator: a real Fastify listener on 127.0.0.1, a movable clock,
// one seeded tenant/app/user, and a plain-fetch driver for the sign-in page.
import Fastify, { type FastifyInstance } from 'fastify';
import * as client from 'openid-client';
import type { AddressInfo } from 'node:net';
import {
  AZURE_DEVOPS_RESOURCE_ID,
  createEntraEmulator,
  type EntraApp,
  type EntraEmulator,
  type EntraEmulatorOptions,
  type EntraTenant,
  type EntraUser,
} from './index.ts';
import { started } from '../testkit-hooks.ts';

export interface Harness {
  server: FastifyInstance;
  origin: string;
  entra: EntraEmulator;
  tenant: EntraTenant;
  app: EntraApp;
  clientSecret: string;
  user: EntraUser;
  redirectUri: string;
  clock: { advance(ms: number): void };
  blocked: { on: boolean };
  close(): Promise<void>;
}

export async function startHarness(opts: Partial<EntraEmulatorOptions> & { requirePkce?: boolean } = {}): Promise<Harness> {
  let origin = '';
  let offset = 0;
  const blocked = { on: false };
  const entra = createEntraEmulator({
    origin: () => origin,
    now: () => Date.now() + offset,
    accessTokenLifetimeSeconds: 3600,
    isOAuthBlocked: () => blocked.on,
    ...opts,
  });
  const server = Fastify({ logger: false });
  await entra.register(server);
  await server.listen({ host: '127.0.0.1', port: 0 });
  origin = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  const tenant = entra.addTenant({ displayName: 'Contoso' });
  const redirectUri = 'http://127.0.0.1:5999/oauth/callback';
  const { app, clientSecret } = entra.addApp(tenant.id, {
    displayName: 'Keyway',
    redirectUris: [redirectUri, 'https://keyway.example/oauth/callback'],
    requirePkce: opts.requirePkce ?? true,
  });
  const user = entra.addUser(tenant.id, { upn: 'alice', displayName: 'Alice Example' });
  return {
    server,
    origin,
    entra,
    tenant,
    app,
    clientSecret,
    user,
    redirectUri,
    clock: { advance: (ms) => void (offset += ms) },
    blocked,
    close: () => server.close(),
  };
}

/** For a suite: startHarness(opts) in `before`, closed in `after`; the handle reads through to the harness. */
export function startedEntra(opts: Parameters<typeof startHarness>[0] = {}): Harness {
  return started(
    () => startHarness(opts),
    (h) => h.close(),
  );
}

export async function discover(h: Harness, auth?: client.ClientAuth, clientId = h.app.clientId): Promise<client.Configuration> {
  return client.discovery(
    new URL(`${h.origin}/${h.tenant.id}/v2.0`),
    clientId,
    undefined,
    auth ?? client.ClientSecretPost(h.clientSecret),
    {
      execute: [client.allowInsecureRequests],
    },
  );
}

const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };
export const unescapeHtml = (s: string): string => s.replace(/&(amp|lt|gt|quot|#39);/g, (m) => ENTITIES[m]!);

/** Hidden inputs and the form action of the sign-in page. */
export function parseForm(html: string): { action: string; fields: Record<string, string> } {
  const action = /<form method="post" action="([^"]*)"/.exec(html)?.[1];
  if (action === undefined) throw new Error('no sign-in form in page:\n' + html.slice(0, 500));
  const fields: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[m[1]!] = unescapeHtml(m[2]!);
  return { action: unescapeHtml(action), fields };
}

export interface SignInResult {
  status: number;
  location: string | null;
  html: string;
}

/** GET the authorize URL, then POST the form as a browser would after clicking a button. */
export async function signIn(
  h: Harness,
  authorizeUrl: URL | string,
  choice: { upn?: string; action?: 'accept' | 'cancel'; password?: string; mutate?: (f: Record<string, string>) => void } = {},
): Promise<SignInResult> {
  const page = await fetch(authorizeUrl, { redirect: 'manual' });
  const html = await page.text();
  if (page.status !== 200 || !html.includes('name="flowToken"'))
    return { status: page.status, location: page.headers.get('location'), html };
  const { action, fields } = parseForm(html);
  fields.action = choice.action ?? 'accept';
  fields.login = choice.upn ?? h.user.upn;
  if (choice.password !== undefined) fields.passwd = choice.password;
  choice.mutate?.(fields);
  const res = await fetch(new URL(action, h.origin), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: res.status, location: res.headers.get('location'), html: await res.text() };
}

export interface PkceRequest {
  url: URL;
  verifier: string;
  state: string;
  nonce: string;
}

export async function buildPkceRequest(config: client.Configuration, h: Harness, extra: Record<string, string> = {}): Promise<PkceRequest> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: h.redirectUri,
    scope: `openid profile offline_access ${AZURE_DEVOPS_RESOURCE_ID}/vso.code ${AZURE_DEVOPS_RESOURCE_ID}/vso.code_write`,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  return { url, verifier, state, nonce };
}

/** Full sign-in through openid-client; returns the token response. */
export async function codeFlow(h: Harness, config: client.Configuration, extra: Record<string, string> = {}) {
  const req = await buildPkceRequest(config, h, extra);
  const res = await signIn(h, req.url);
  if (res.status !== 302 || !res.location) throw new Error(`sign-in did not redirect: ${res.status} ${res.html.slice(0, 300)}`);
  return client.authorizationCodeGrant(config, new URL(res.location), {
    pkceCodeVerifier: req.verifier,
    expectedState: req.state,
    expectedNonce: req.nonce,
  });
}

/** Raw token request, for checking exact wire responses. */
export async function postToken(
  h: Harness,
  params: Record<string, string>,
  headers: Record<string, string> = {},
  tenantSegment = h.tenant.id,
) {
  const res = await fetch(`${h.origin}/${tenantSegment}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}
