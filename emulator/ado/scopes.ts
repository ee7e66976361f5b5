// Azure DevOps OAuth/PAT scopes and which ones a request needs. Pure functions.
// Hierarchy from Microsoft's scope documentation: each wider scope includes the narrower ones.
export type RequiredScope =
  | 'vso.code'
  | 'vso.code_write'
  | 'vso.project'
  | 'vso.variablegroups_read'
  | 'vso.variablegroups_write'
  | 'vso.variablegroups_manage'
  | 'vso.profile';

const INCLUDES: Record<string, readonly string[]> = {
  'vso.code_write': ['vso.code'],
  'vso.code_manage': ['vso.code_write', 'vso.code'],
  'vso.code_full': ['vso.code_manage', 'vso.code_write', 'vso.code'],
  'vso.project_write': ['vso.project'],
  'vso.project_manage': ['vso.project_write', 'vso.project'],
  'vso.variablegroups_write': ['vso.variablegroups_read'],
  'vso.variablegroups_manage': ['vso.variablegroups_write', 'vso.variablegroups_read'],
  'vso.profile_write': ['vso.profile'],
};

/** Full access: `app_token` for a full-scoped PAT, `user_impersonation`/`.default` for Entra tokens. */
const FULL_ACCESS = new Set(['app_token', 'user_impersonation', '.default']);

const RESOURCE_PREFIXES = ['499b84ac-1321-427f-aa17-267ca6975798/', 'https://app.vssps.visualstudio.com/'];

/** Splits a space-separated scope string and strips the Azure DevOps resource prefix Entra may keep. */
export function normalizeScopes(raw: string | readonly string[] | undefined): string[] {
  const list = typeof raw === 'string' ? raw.split(/\s+/) : [...(raw ?? [])];
  const out: string[] = [];
  for (let s of list) {
    s = s.trim();
    if (!s) continue;
    for (const prefix of RESOURCE_PREFIXES) {
      if (s.toLowerCase().startsWith(prefix)) s = s.slice(prefix.length);
    }
    out.push(s.toLowerCase());
  }
  return [...new Set(out)];
}

export function isFullAccess(scopes: readonly string[]): boolean {
  return scopes.some((s) => FULL_ACCESS.has(s));
}

export function scopesGrant(scopes: readonly string[], need: RequiredScope): boolean {
  if (isFullAccess(scopes)) return true;
  for (const s of scopes) {
    if (s === need || INCLUDES[s]?.includes(need)) return true;
  }
  return false;
}

/** Scopes a PAT may be created with through the emulator: anything `vso.*` or `app_token`. */
export function isKnownScope(scope: string): boolean {
  return scope === 'app_token' || /^vso\.[a-z_]+$/.test(scope);
}
