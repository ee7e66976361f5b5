// Scope parsing and policy (pure). Entra v2 takes resource-qualified scopes
// (`{resource}/{permission}`); one access token serves exactly one resource.
import { aadsts } from './errors.ts';

export const AZURE_DEVOPS_APP_ID = '499b84ac-1321-427f-aa17-267ca6975798';
export const MICROSOFT_GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';

export const OIDC_SCOPES = ['openid', 'profile', 'email', 'offline_access'] as const;
export type OidcScope = (typeof OIDC_SCOPES)[number];

export interface KnownResource {
  key: 'ado' | 'graph';
  appId: string;
  uri: string;
  /** Delegated permissions the resource exposes (not exhaustive for Graph). */
  permissions: string[];
  /**
   * What `{resource}/.default` yields in a delegated flow: the permissions statically configured on
   * the app registration. Apps here carry no permission list, so assume the usual registration
   * (Azure DevOps `user_impersonation`, Graph `User.Read`).
   */
  defaultDelegated: string[];
}

// Azure DevOps delegated scopes (from Microsoft's OAuth scope list; not exhaustive).
const ADO_PERMISSIONS = [
  'user_impersonation',
  'vso.agentpools',
  'vso.agentpools_manage',
  'vso.analytics',
  'vso.auditlog',
  'vso.build',
  'vso.build_execute',
  'vso.code',
  'vso.code_write',
  'vso.code_manage',
  'vso.code_full',
  'vso.code_status',
  'vso.connected_server',
  'vso.entitlements',
  'vso.environment_manage',
  'vso.extension',
  'vso.extension_manage',
  'vso.extension.data',
  'vso.extension.data_write',
  'vso.graph',
  'vso.graph_manage',
  'vso.identity',
  'vso.identity_manage',
  'vso.machinegroup_manage',
  'vso.memberentitlementmanagement',
  'vso.memberentitlementmanagement_write',
  'vso.notification',
  'vso.notification_write',
  'vso.notification_manage',
  'vso.notification_diagnostics',
  'vso.packaging',
  'vso.packaging_write',
  'vso.packaging_manage',
  'vso.pipelineresources_use',
  'vso.pipelineresources_manage',
  'vso.profile',
  'vso.profile_write',
  'vso.project',
  'vso.project_write',
  'vso.project_manage',
  'vso.release',
  'vso.release_execute',
  'vso.release_manage',
  'vso.securefiles_read',
  'vso.securefiles_write',
  'vso.securefiles_manage',
  'vso.security_manage',
  'vso.serviceendpoint',
  'vso.serviceendpoint_query',
  'vso.serviceendpoint_manage',
  'vso.symbols',
  'vso.symbols_write',
  'vso.symbols_manage',
  'vso.taskgroups_read',
  'vso.taskgroups_write',
  'vso.taskgroups_manage',
  'vso.test',
  'vso.test_write',
  'vso.threads_full',
  'vso.tokenadministration',
  'vso.tokens',
  'vso.variablegroups_read',
  'vso.variablegroups_write',
  'vso.variablegroups_manage',
  'vso.wiki',
  'vso.wiki_write',
  'vso.work',
  'vso.work_write',
  'vso.work_full',
];

export const RESOURCES: readonly KnownResource[] = [
  {
    key: 'ado',
    appId: AZURE_DEVOPS_APP_ID,
    uri: 'https://app.vssps.visualstudio.com',
    permissions: ADO_PERMISSIONS,
    defaultDelegated: ['user_impersonation'],
  },
  {
    key: 'graph',
    appId: MICROSOFT_GRAPH_APP_ID,
    uri: 'https://graph.microsoft.com',
    permissions: ['User.Read', 'User.ReadBasic.All', 'email', 'openid', 'profile', 'offline_access'],
    defaultDelegated: ['User.Read'],
  },
];

export interface GrantScope {
  resource: KnownResource;
  /**
   * How the client named the resource: the app id GUID, the URI, or '' for bare Graph scopes.
   * v1 access tokens carry it as `aud` ("the client ID or the resource URI used in the request").
   */
  prefix: string;
  /** Canonical permission names, in request order, without duplicates. */
  permissions: string[];
  /** The resource was only implied by OIDC scopes (Entra then issues a Microsoft Graph token). */
  implicit: boolean;
  oidc: OidcScope[];
}

export function splitScope(raw: string): string[] {
  return raw.split(/[\s]+/).filter(Boolean);
}

function findResource(id: string): KnownResource | undefined {
  const norm = id.replace(/\/+$/, '').toLowerCase();
  return RESOURCES.find((r) => r.appId === norm || r.uri.toLowerCase() === norm);
}

function canonicalPermission(r: KnownResource, perm: string): string | undefined {
  const lower = perm.toLowerCase();
  return r.permissions.find((p) => p.toLowerCase() === lower);
}

interface SplitScope {
  resourceId: string; // '' when bare
  permission: string;
}

function splitOne(token: string): SplitScope {
  const i = token.lastIndexOf('/');
  if (i === -1) return { resourceId: '', permission: token };
  return { resourceId: token.slice(0, i), permission: token.slice(i + 1) };
}

/** Delegated (authorization code / refresh) scope request. Throws EntraOAuthError. */
export function parseDelegatedScope(raw: string | undefined, tenantName: string): GrantScope {
  const tokens = splitScope(raw ?? '');
  if (tokens.length === 0) throw aadsts.scopeMissing();
  const oidc = new Set<OidcScope>();
  let resource: KnownResource | undefined;
  let prefix = '';
  const permissions: string[] = [];
  let sawDefault = false;
  for (const token of tokens) {
    const lower = token.toLowerCase();
    if ((OIDC_SCOPES as readonly string[]).includes(lower)) {
      oidc.add(lower as OidcScope);
      continue;
    }
    const { resourceId, permission } = splitOne(token);
    if (permission === '' || (resourceId === '' && token.includes('/'))) throw aadsts.scopeInvalid(token);
    // Bare names belong to Microsoft Graph, as in Entra.
    const r = resourceId === '' ? RESOURCES.find((x) => x.key === 'graph') : findResource(resourceId);
    if (!r) throw aadsts.resourceNotFound(resourceId, tenantName);
    if (resource && resource.key !== r.key) throw aadsts.scopeMultipleResources(raw ?? '');
    resource = r;
    prefix = resourceId === '' ? '' : r.appId === resourceId.toLowerCase() ? r.appId : r.uri;
    if (permission === '.default') {
      sawDefault = true;
      continue;
    }
    // Real Entra may answer an unknown permission of a known resource with AADSTS650053; this
    // emulator answers the more generic invalid_scope/70011 (choice).
    const canon = canonicalPermission(r, permission);
    if (!canon) throw aadsts.scopeInvalid(token, `The permission '${permission}' does not exist on the resource '${r.appId}'.`);
    if (!permissions.includes(canon)) permissions.push(canon);
  }
  if (sawDefault && permissions.length > 0) {
    throw aadsts.scopeInvalid(raw ?? '', "The '.default' scope can't be combined with resource-specific scopes.");
  }
  const oidcList = OIDC_SCOPES.filter((s) => oidc.has(s));
  if (!resource) {
    if (!oidc.has('openid') && !oidc.has('profile') && !oidc.has('email')) throw aadsts.scopeInvalid(raw ?? '');
    const graph = RESOURCES.find((x) => x.key === 'graph')!;
    return { resource: graph, prefix: '', permissions: [], implicit: true, oidc: oidcList };
  }
  return {
    resource,
    prefix,
    permissions: sawDefault ? [...resource.defaultDelegated] : permissions,
    implicit: false,
    oidc: oidcList,
  };
}

export interface AppOnlyScope {
  resource: KnownResource;
  prefix: string;
}

/** Client credentials: exactly one `{resource}/.default`. Throws EntraOAuthError. */
export function parseClientCredentialsScope(raw: string | undefined, tenantName: string): AppOnlyScope {
  const tokens = splitScope(raw ?? '');
  if (tokens.length === 0) throw aadsts.missingParameter('scope');
  for (const t of tokens) if (!t.endsWith('/.default')) throw aadsts.clientCredentialsScope(t);
  let found: AppOnlyScope | undefined;
  for (const t of tokens) {
    const { resourceId } = splitOne(t);
    const r = findResource(resourceId);
    if (!r) throw aadsts.resourceNotFound(resourceId, tenantName);
    if (found && found.resource.key !== r.key) throw aadsts.scopeMultipleResources(raw ?? '');
    found = { resource: r, prefix: r.appId === resourceId.toLowerCase() ? r.appId : r.uri };
  }
  return found!;
}

/**
 * Scope for a refresh. With no `scope`, the original grant is kept (Entra's documented
 * behaviour narrows in some cases; peers were bitten, so Keyway sends the scope again anyway).
 * Asking for more than was granted (another resource, more permissions) is a consent problem in
 * Entra: `invalid_grant` with AADSTS65001 and suberror `consent_required`.
 */
export function scopeForRefresh(
  original: GrantScope,
  raw: string | undefined,
  ctx: { tenantName: string; clientId: string; appName: string },
): GrantScope {
  if (raw === undefined || splitScope(raw).length === 0) return original;
  const asked = parseDelegatedScope(raw, ctx.tenantName);
  if (asked.implicit && original.implicit) return asked;
  if (asked.implicit || asked.resource.key !== original.resource.key) {
    throw aadsts.consentRequired(ctx.clientId, ctx.appName);
  }
  for (const p of asked.permissions) {
    if (!original.permissions.includes(p)) throw aadsts.consentRequired(ctx.clientId, ctx.appName);
  }
  // `offline_access` cannot be added later: a refresh token exists only if it was granted.
  return asked;
}

/** `aud` of the v1 access token: the resource as the client named it, its app id when unnamed. */
export function audience(g: { resource: KnownResource; prefix: string }): string {
  return g.prefix || g.resource.appId;
}

/** `scp` claim: bare permission names. For an implicit Graph token, the OIDC scopes. */
export function scpClaim(g: GrantScope): string {
  if (g.implicit) return g.oidc.filter((s) => s !== 'offline_access').join(' ');
  return g.permissions.join(' ');
}

/**
 * The `scope` member of the token response. Microsoft's own sample answers only the resource
 * permissions, qualified as requested (no OIDC scopes), which is what this emulator does.
 */
export function responseScope(g: GrantScope): string {
  if (g.implicit) return g.oidc.filter((s) => s !== 'offline_access').join(' ');
  return g.permissions.map((p) => (g.prefix ? `${g.prefix}/${p}` : p)).join(' ');
}

/** Requested scopes rendered for the consent page. */
export function describeForConsent(g: GrantScope): string[] {
  const out = g.permissions.map((p) => (g.prefix ? `${g.prefix}/${p}` : p));
  return [...out, ...g.oidc];
}
