// The request pipeline every Azure DevOps REST route goes through: resolve the organization,
// authenticate, check `api-version`, check the credential's scope, then run the handler.
import type { FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import type { EntraEmulator } from '../entra/index.ts';
import { checkApiVersion, checkResourceVersion, requestedApiVersion, resourceVersionFor, type ApiVersion } from './api-version.ts';
import {
  authenticate,
  challengeHeaders,
  sendRestAuthFailure,
  unknownOrgHeaders,
  wantsSuppress,
  type HostKind,
  type Principal,
} from './auth.ts';
import { AdoError, errors } from './errors.ts';
import { scopesGrant, type RequiredScope } from './scopes.ts';
import type { Urls } from './urls.ts';
import type { Organization, Project, Repository, World } from './world.ts';
import { costRoute, type Throttle } from '../throttling.ts';
import { issueToken, readToken } from './paging.ts';

export interface AdoEnv {
  world: World;
  entra: EntraEmulator;
  urls: Urls;
  /** The consumption limit (emulator/throttling.ts); off unless switched on. */
  throttle: Throttle;
  /** Counts the bytes of git smart HTTP answers (the emulator's counters). */
  traffic?: { gitBytes(bytes: number): void };
}

export interface RouteSpec {
  /** Scope the credential needs; null = any authenticated caller. */
  scope: RequiredScope | null;
  /** Highest released version of the resource: '7.1' (default) or '0.0' for preview-only resources. */
  released?: string;
  /** The PAT lifecycle API takes an Entra user token only. */
  entraUserOnly?: boolean;
  /** Skip the api-version check (connectionData, OPTIONS, as Microsoft's SDKs call them). */
  noApiVersion?: boolean;
  /** app.vssps global endpoints: all-organization PATs only. */
  requireAllOrgsPat?: boolean;
}

export interface BaseContext {
  env: AdoEnv;
  host: HostKind;
  principal: Principal;
  apiVersion: ApiVersion | undefined;
  /** Set when the request is metered: spend its TSTUs once the answer is known. */
  metered?: Metered;
}

interface Metered {
  identity: string;
  organization: string;
  route: string;
  delayMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Admits a request under the consumption limit: blocked (429 TF400733 with Retry-After), delayed
 * (the wait happens here, the answer says so), or let through with the X-RateLimit-* headers when
 * the identity is past the notice level. Git smart HTTP shares it (git/http-backend.ts).
 */
export async function admitMetered(
  env: AdoEnv,
  req: FastifyRequest,
  reply: FastifyReply,
  principal: Principal,
  org: Organization | undefined,
): Promise<Metered | undefined> {
  if (!env.throttle.enabled) return undefined;
  const identity = principal.identity.id;
  const organization = org?.name ?? '(global)';
  const admission = env.throttle.admit(identity, organization);
  reply.headers(admission.headers);
  if (admission.action === 'block') throw new AdoError(429, admission.message, 'RequestBlockedException', { headers: admission.headers });
  if (admission.delayMs > 0) await sleep(admission.delayMs);
  return {
    identity,
    organization,
    route: costRoute(req.method, req.routeOptions.url ?? req.url.split('?')[0] ?? ''),
    delayMs: admission.delayMs,
  };
}

/** Items a list answer carries (the per-item part of a request's cost). */
function itemsOf(body: unknown): number {
  if (!body || typeof body !== 'object') return 0;
  const o = body as Record<string, unknown>;
  if (Array.isArray(o.value)) return o.value.length;
  if (Array.isArray(o.patTokens)) return o.patTokens.length;
  return 1;
}

/** Spends the TSTUs of a metered request and puts the resulting headers on an answer not yet sent. */
export function chargeMetered(env: AdoEnv, reply: FastifyReply, metered: Metered | undefined, body: unknown): void {
  if (!metered) return;
  const headers = env.throttle.charge(metered.identity, metered.organization, metered.route, itemsOf(body), metered.delayMs);
  if (!reply.sent) reply.headers(headers);
}

export interface OrgContext extends BaseContext {
  org: Organization;
  orgUrl: string;
}

export type Query = Record<string, string | undefined>;

export function query(req: FastifyRequest): Query {
  const out: Query = {};
  for (const [k, v] of Object.entries((req.query ?? {}) as Record<string, unknown>)) {
    out[k] = Array.isArray(v) ? String(v[0]) : v === undefined ? undefined : String(v);
  }
  return out;
}

export function params(req: FastifyRequest): Record<string, string> {
  return (req.params ?? {}) as Record<string, string>;
}

/** Case-insensitive query lookup: the service accepts `$top`, `$Top`, `searchCriteria.Status`… */
export function q(req: FastifyRequest, name: string): string | undefined {
  const all = query(req);
  if (all[name] !== undefined) return all[name];
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(all)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

function fullUrl(req: FastifyRequest): string {
  return `http://${req.headers.host ?? '127.0.0.1'}${req.url}`;
}

function maxVersion(host: HostKind): string {
  return host === 'server' ? '7.1' : '7.2';
}

export function resolveOrg(env: AdoEnv, host: HostKind, name: string | undefined): Organization | undefined {
  if (!name) return undefined;
  return env.world.findOrganization(name, host === 'server' ? 'server' : 'hosted');
}

async function runPipeline(
  env: AdoEnv,
  host: HostKind,
  spec: RouteSpec,
  req: FastifyRequest,
  reply: FastifyReply,
  org: Organization | undefined,
): Promise<BaseContext | null> {
  const outcome = await authenticate(env, req.headers.authorization, {
    host,
    ...(org ? { org } : {}),
    ...(spec.requireAllOrgsPat ? { requireAllOrgsPat: true } : {}),
  });
  if (!outcome.ok) {
    sendRestAuthFailure(reply, outcome.failure, {
      urls: env.urls,
      host,
      ...(org ? { org } : {}),
      suppress: wantsSuppress(req.headers['x-tfs-fedauthredirect']),
      requestUrl: fullUrl(req),
    });
    return null;
  }
  const principal = outcome.principal;
  let apiVersion: ApiVersion | undefined;
  if (!spec.noApiVersion) {
    const released = spec.released ?? '7.1';
    const check = checkApiVersion(requestedApiVersion(query(req), req.headers.accept), req.method, {
      max: maxVersion(host),
      released,
    });
    if (!check.ok) throw new AdoError(400, check.message, check.typeKey);
    const resource = checkResourceVersion(check.version, resourceVersionFor(req.routeOptions.url ?? ''));
    if (!resource.ok) throw new AdoError(400, resource.message, resource.typeKey);
    apiVersion = check.version;
  }
  if (spec.entraUserOnly && !(principal.kind === 'user' && principal.method === 'bearer')) {
    // Unconfirmed status codes: PATs are refused as unauthenticated (401), service principals as
    // forbidden (403), per the PAT lifecycle API documentation that only Entra user tokens work.
    if (principal.kind === 'servicePrincipal') {
      throw new AdoError(403, `VS403456: Service principals cannot manage personal access tokens.`, 'UnauthorizedAccessException');
    }
    reply.headers(challengeHeaders(env.urls, host, org));
    throw errors.notAuthorized(principal.identity.id);
  }
  if (spec.scope && !scopesGrant(principal.scopes, spec.scope)) {
    // A credential whose scopes do not cover the route: 401 TF400813 (unconfirmed; the service does
    // not document the scope-failure answer).
    reply.headers(challengeHeaders(env.urls, host, org));
    throw errors.notAuthorized(principal.identity.id);
  }
  const metered = await admitMetered(env, req, reply, principal, org);
  return { env, host, principal, apiVersion, ...(metered ? { metered } : {}) };
}

async function runHandler<C extends BaseContext>(
  req: FastifyRequest,
  reply: FastifyReply,
  ctx: C,
  handler: (req: FastifyRequest, reply: FastifyReply, ctx: C) => Promise<unknown>,
): Promise<unknown> {
  let body: unknown;
  try {
    body = await handler(req, reply, ctx);
  } finally {
    chargeMetered(ctx.env, reply, ctx.metered, body);
  }
  if (reply.sent) return reply;
  return body;
}

/** A route under `/{org}` (or `/tfs/{collection}`). */
export function orgRoute(
  env: AdoEnv,
  host: HostKind,
  spec: RouteSpec,
  handler: (req: FastifyRequest, reply: FastifyReply, ctx: OrgContext) => Promise<unknown>,
): RouteHandlerMethod {
  return bareOrgRoute(env, host, async (req, reply, org) => {
    const base = await runPipeline(env, host, spec, req, reply, org);
    if (!base) return reply;
    const ctx: OrgContext = { ...base, org, orgUrl: env.urls.orgUrl(org) };
    return runHandler(req, reply, ctx, handler);
  });
}

/**
 * A route under `/{org}` that answers by itself, without the pipeline (authentication, throttling,
 * faults): location data, resource areas, the organization's page. An unknown organization gets
 * the same answer as on any other route.
 */
export function bareOrgRoute(
  env: AdoEnv,
  host: HostKind,
  handler: (req: FastifyRequest, reply: FastifyReply, org: Organization) => Promise<unknown>,
): RouteHandlerMethod {
  return async function (req, reply) {
    const org = resolveOrg(env, host, params(req).org);
    if (!org) return sendUnknownOrg(env, host, req, reply);
    return handler(req, reply, org);
  };
}

/** A route without an organization (app.vssps.visualstudio.com/_apis/...). */
export function globalRoute(
  env: AdoEnv,
  host: HostKind,
  spec: RouteSpec,
  handler: (req: FastifyRequest, reply: FastifyReply, ctx: BaseContext) => Promise<unknown>,
): RouteHandlerMethod {
  return async function (req, reply) {
    const base = await runPipeline(env, host, spec, req, reply, undefined);
    if (!base) return reply;
    return runHandler(req, reply, base, handler);
  };
}

/**
 * An unknown organization answers like an unauthorized one, with no tenant hint at all (auth.ts,
 * unknownOrgHeaders, cites the evidence): the service does not reveal which names exist.
 */
export function sendUnknownOrg(env: AdoEnv, host: HostKind, _req: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply.code(401).headers(unknownOrgHeaders(env.urls, host)).send(errors.anonymous().body());
}

export function requireProject(ctx: OrgContext, nameOrId: string): Project {
  const p = ctx.env.world.findProject(ctx.org, nameOrId);
  if (!p) throw errors.projectNotFound(nameOrId, /^[0-9a-f-]{36}$/i.test(nameOrId));
  return p;
}

export function requireRepository(ctx: OrgContext, project: Project | null, nameOrId: string): Repository {
  const r = ctx.env.world.findRepository(ctx.org, project, nameOrId);
  if (!r) throw errors.repositoryNotFound(nameOrId);
  // Read denied: the same answer as a repository that does not exist (TF401019 says "or you do not
  // have permissions"), so a caller cannot tell the two apart.
  if (!ctx.env.world.canReadRepository(r, ctx.principal.identity.id)) {
    ctx.env.world.recordRepositoryDenial(r, ctx.principal.identity.id, 'rest');
    throw errors.repositoryNotFound(nameOrId);
  }
  return r;
}

/**
 * `$top` / `continuationToken` paging over an ordered list. Tokens are opaque and bound to `scope`
 * (paging.ts): an unknown one is refused, never read as "start from 0".
 */
export function page<T>(
  items: T[],
  top: string | undefined,
  token: string | undefined,
  scope: string,
  defaultTop?: number,
  startAt = 0,
): { items: T[]; next?: string } {
  const start = token !== undefined && token !== '' ? readToken(scope, token) : startAt;
  if (top !== undefined && !/^\d+$/.test(top))
    throw errors.badRequest(`The value '${top}' is not valid for $top: use a non-negative integer.`, 'InvalidArgumentValueException');
  const size = top !== undefined ? Number(top) : defaultTop;
  if (size === undefined) return { items: items.slice(start) };
  const slice = items.slice(start, start + size);
  return start + size < items.length ? { items: slice, next: issueToken(scope, start + size) } : { items: slice };
}

export function list<T>(reply: FastifyReply, items: T[], next?: string): { count: number; value: T[] } {
  if (next !== undefined) reply.header('x-ms-continuationtoken', next);
  return { count: items.length, value: items };
}
