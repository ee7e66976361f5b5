import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { isIP } from 'node:net';
import { DEFAULT_IMDS_URL, parseImdsUrl } from '../entra/managed-identity.ts';

/**
 * Keyway's configuration: environment variables, optionally backed by a JSON file named in
 * KEYWAY_CONFIG_FILE whose keys are the same variable names. The environment wins over the file.
 * Every problem names the variable and says what would be accepted.
 */
export interface KeywayConfig {
  publicUrl: string | undefined;
  /** `sqlite:` path or `postgres://` URL; undefined means "the embedded SQLite under dataDir". */
  databaseUrl: string | undefined;
  /** The runner's credential store; undefined means `{dataDir}/runner.db`. PostgreSQL lets runner replicas share it. */
  runnerDatabaseUrl: string | undefined;
  dataDir: string;
  logLevel: LogLevel;
  host: string;
  port: number;
  /** Encryption keys in the key-file format; undefined means "use the key file under dataDir". */
  encryptionKeys: string | undefined;
  encryptionKeyFile: string | undefined;
  /**
   * Which X-Forwarded-* to believe: false (none), a number of proxy hops in front of Keyway, or the
   * proxies' addresses and CIDR ranges. Never "any": then every client could forge its address and
   * walk around sign-in limits and the audit log.
   */
  trustProxy: TrustProxy;
  sessionTtlHours: number;
  signInMaxFailures: number;
  signInWindowMinutes: number;
  /** Overrides for the Microsoft endpoints, for sovereign clouds and the bundled emulator. */
  azureDevOpsServicesUrl: string;
  azureDevOpsVsspsUrl: string;
  entraAuthorityUrl: string;
  azureDevOpsClientId: string | undefined;
  azureDevOpsClientSecret: string | undefined;
  /**
   * Allow http:// and loopback or private-network addresses for Azure DevOps Server hosts and
   * issuers. For demos and tests against the bundled emulator only; link-local and cloud metadata
   * addresses stay refused.
   */
  allowInsecureHosts: boolean;
  /** Sign in with Microsoft: the instance's Entra app (multi-tenant when organizations bind several tenants). */
  ssoEntraClientId: string | undefined;
  ssoEntraClientSecret: string | undefined;
  /** Sign in with another OpenID Connect provider. */
  ssoOidcIssuer: string | undefined;
  ssoOidcClientId: string | undefined;
  ssoOidcClientSecret: string | undefined;
  ssoOidcName: string;
  /** Who may create organizations: instance operators (default) or any signed-in user. */
  organizationCreation: 'operators' | 'users';
  /** Containment of environments (issue 15): limits, timeouts and workspace isolation. */
  environments: EnvironmentConfig;
  /**
   * Runner: the Azure Instance Metadata Service for managed identity (default http://169.254.169.254;
   * scheme, host and port only). The one place the metadata address is reached (docs/client-credentials.md).
   */
  imdsUrl: string;
}

export interface EnvironmentConfig {
  /** Management plane: environments one user keeps in an organization (0: no limit). */
  perUser: number;
  /** Management plane: clones one user runs at once (0: no limit). */
  clonesPerUser: number;
  /** Runner: environments one runner process keeps (0: no limit). */
  runnerMax: number;
  /** Runner: clones one runner process runs at once (0: no limit). */
  runnerMaxClones: number;
  gitStallTimeoutSeconds: number;
  gitCloneTimeoutMinutes: number;
  /** 0: never removed. */
  idleHours: number;
  /** Undefined: `{dataDir}/workspaces`. */
  workspacesDir: string | undefined;
  /** `first-last`, e.g. 200000-200999: each environment's git runs as a user of its own. */
  workspaceUids: { first: number; last: number } | undefined;
  /** Runner: where repository caches live; undefined: `{dataDir}/repository-cache`. */
  repositoryCacheDir: string | undefined;
  /** Runner: the most the repository caches take, in MiB; 0 turns the cache off. */
  repositoryCacheMb: number;
  /** Runner: a cache refreshed this recently is used without a refresh (the user's fetch brings the rest). */
  repositoryCacheFreshSeconds: number;
}

export type TrustProxy = false | number | string[];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** Documented in the README's configuration table; keep the two in step. */
export const CONFIG_VARIABLES = [
  'KEYWAY_CONFIG_FILE',
  'KEYWAY_PUBLIC_URL',
  'KEYWAY_DATABASE_URL',
  'KEYWAY_RUNNER_DATABASE_URL',
  'KEYWAY_DATA_DIR',
  'KEYWAY_LOG_LEVEL',
  'KEYWAY_HOST',
  'KEYWAY_PORT',
  'KEYWAY_ENCRYPTION_KEYS',
  'KEYWAY_ENCRYPTION_KEY_FILE',
  'KEYWAY_TRUST_PROXY',
  'KEYWAY_SESSION_TTL_HOURS',
  'KEYWAY_SIGN_IN_MAX_FAILURES',
  'KEYWAY_SIGN_IN_WINDOW_MINUTES',
  'KEYWAY_AZURE_DEVOPS_SERVICES_URL',
  'KEYWAY_AZURE_DEVOPS_VSSPS_URL',
  'KEYWAY_ENTRA_AUTHORITY_URL',
  'KEYWAY_AZURE_DEVOPS_CLIENT_ID',
  'KEYWAY_AZURE_DEVOPS_CLIENT_SECRET',
  'KEYWAY_ALLOW_INSECURE_HOSTS',
  'KEYWAY_SSO_ENTRA_CLIENT_ID',
  'KEYWAY_SSO_ENTRA_CLIENT_SECRET',
  'KEYWAY_SSO_OIDC_ISSUER',
  'KEYWAY_SSO_OIDC_CLIENT_ID',
  'KEYWAY_SSO_OIDC_CLIENT_SECRET',
  'KEYWAY_SSO_OIDC_NAME',
  'KEYWAY_ORGANIZATION_CREATION',
  'KEYWAY_ENVIRONMENTS_PER_USER',
  'KEYWAY_CLONES_PER_USER',
  'KEYWAY_RUNNER_MAX_ENVIRONMENTS',
  'KEYWAY_RUNNER_MAX_CLONES',
  'KEYWAY_GIT_STALL_TIMEOUT_SECONDS',
  'KEYWAY_GIT_CLONE_TIMEOUT_MINUTES',
  'KEYWAY_ENVIRONMENT_IDLE_HOURS',
  'KEYWAY_WORKSPACES_DIR',
  'KEYWAY_WORKSPACE_UIDS',
  'KEYWAY_IMDS_URL',
  'KEYWAY_REPOSITORY_CACHE_DIR',
  'KEYWAY_REPOSITORY_CACHE_MB',
  'KEYWAY_REPOSITORY_CACHE_FRESH_SECONDS',
] as const;

type Source = Record<string, string | undefined>;

export function loadConfig(env: Source = process.env, overrides: Partial<KeywayConfig> = {}): KeywayConfig {
  const source = withConfigFile(env);
  const get = (name: string): string | undefined => {
    const value = source[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  const dataDir = resolve(get('KEYWAY_DATA_DIR') ?? '.keyway-data');
  const config: KeywayConfig = {
    publicUrl: optionalUrl('KEYWAY_PUBLIC_URL', get('KEYWAY_PUBLIC_URL')),
    databaseUrl: databaseUrl('KEYWAY_DATABASE_URL', get('KEYWAY_DATABASE_URL')),
    runnerDatabaseUrl: databaseUrl('KEYWAY_RUNNER_DATABASE_URL', get('KEYWAY_RUNNER_DATABASE_URL')),
    dataDir,
    logLevel: oneOf('KEYWAY_LOG_LEVEL', get('KEYWAY_LOG_LEVEL') ?? 'info', LOG_LEVELS),
    host: get('KEYWAY_HOST') ?? '127.0.0.1',
    port: integer('KEYWAY_PORT', get('KEYWAY_PORT') ?? '8080', 0, 65535),
    encryptionKeys: get('KEYWAY_ENCRYPTION_KEYS'),
    encryptionKeyFile: get('KEYWAY_ENCRYPTION_KEY_FILE'),
    trustProxy: trustProxy('KEYWAY_TRUST_PROXY', get('KEYWAY_TRUST_PROXY')),
    sessionTtlHours: integer('KEYWAY_SESSION_TTL_HOURS', get('KEYWAY_SESSION_TTL_HOURS') ?? '12', 1, 24 * 30),
    signInMaxFailures: integer('KEYWAY_SIGN_IN_MAX_FAILURES', get('KEYWAY_SIGN_IN_MAX_FAILURES') ?? '5', 1, 1000),
    signInWindowMinutes: integer('KEYWAY_SIGN_IN_WINDOW_MINUTES', get('KEYWAY_SIGN_IN_WINDOW_MINUTES') ?? '15', 1, 24 * 60),
    azureDevOpsServicesUrl: requiredUrl(
      'KEYWAY_AZURE_DEVOPS_SERVICES_URL',
      get('KEYWAY_AZURE_DEVOPS_SERVICES_URL') ?? 'https://dev.azure.com',
    ),
    azureDevOpsVsspsUrl: requiredUrl(
      'KEYWAY_AZURE_DEVOPS_VSSPS_URL',
      get('KEYWAY_AZURE_DEVOPS_VSSPS_URL') ?? 'https://app.vssps.visualstudio.com',
    ),
    entraAuthorityUrl: requiredOrigin(
      'KEYWAY_ENTRA_AUTHORITY_URL',
      get('KEYWAY_ENTRA_AUTHORITY_URL') ?? 'https://login.microsoftonline.com',
    ),
    azureDevOpsClientId: get('KEYWAY_AZURE_DEVOPS_CLIENT_ID'),
    azureDevOpsClientSecret: get('KEYWAY_AZURE_DEVOPS_CLIENT_SECRET'),
    allowInsecureHosts: boolean('KEYWAY_ALLOW_INSECURE_HOSTS', get('KEYWAY_ALLOW_INSECURE_HOSTS') ?? 'false'),
    ssoEntraClientId: optionalGuid('KEYWAY_SSO_ENTRA_CLIENT_ID', get('KEYWAY_SSO_ENTRA_CLIENT_ID')),
    ssoEntraClientSecret: get('KEYWAY_SSO_ENTRA_CLIENT_SECRET'),
    ssoOidcIssuer: optionalUrl('KEYWAY_SSO_OIDC_ISSUER', get('KEYWAY_SSO_OIDC_ISSUER')),
    ssoOidcClientId: get('KEYWAY_SSO_OIDC_CLIENT_ID'),
    ssoOidcClientSecret: get('KEYWAY_SSO_OIDC_CLIENT_SECRET'),
    ssoOidcName: get('KEYWAY_SSO_OIDC_NAME') ?? 'single sign-on',
    organizationCreation: oneOf('KEYWAY_ORGANIZATION_CREATION', get('KEYWAY_ORGANIZATION_CREATION') ?? 'operators', [
      'operators',
      'users',
    ] as const),
    environments: {
      perUser: integer('KEYWAY_ENVIRONMENTS_PER_USER', get('KEYWAY_ENVIRONMENTS_PER_USER') ?? '20', 0, 100_000),
      clonesPerUser: integer('KEYWAY_CLONES_PER_USER', get('KEYWAY_CLONES_PER_USER') ?? '3', 0, 10_000),
      runnerMax: integer('KEYWAY_RUNNER_MAX_ENVIRONMENTS', get('KEYWAY_RUNNER_MAX_ENVIRONMENTS') ?? '200', 0, 1_000_000),
      runnerMaxClones: integer('KEYWAY_RUNNER_MAX_CLONES', get('KEYWAY_RUNNER_MAX_CLONES') ?? '8', 0, 10_000),
      gitStallTimeoutSeconds: integer('KEYWAY_GIT_STALL_TIMEOUT_SECONDS', get('KEYWAY_GIT_STALL_TIMEOUT_SECONDS') ?? '120', 5, 3600),
      gitCloneTimeoutMinutes: integer('KEYWAY_GIT_CLONE_TIMEOUT_MINUTES', get('KEYWAY_GIT_CLONE_TIMEOUT_MINUTES') ?? '60', 1, 24 * 60),
      idleHours: integer('KEYWAY_ENVIRONMENT_IDLE_HOURS', get('KEYWAY_ENVIRONMENT_IDLE_HOURS') ?? '168', 0, 24 * 3650),
      workspacesDir: optionalDirectory(get('KEYWAY_WORKSPACES_DIR')),
      workspaceUids: uidRange('KEYWAY_WORKSPACE_UIDS', get('KEYWAY_WORKSPACE_UIDS')),
      repositoryCacheDir: optionalDirectory(get('KEYWAY_REPOSITORY_CACHE_DIR')),
      repositoryCacheMb: integer('KEYWAY_REPOSITORY_CACHE_MB', get('KEYWAY_REPOSITORY_CACHE_MB') ?? '10240', 0, 100 * 1024 * 1024),
      repositoryCacheFreshSeconds: integer(
        'KEYWAY_REPOSITORY_CACHE_FRESH_SECONDS',
        get('KEYWAY_REPOSITORY_CACHE_FRESH_SECONDS') ?? '30',
        0,
        24 * 3600,
      ),
    },
    imdsUrl: imdsUrl(get('KEYWAY_IMDS_URL') ?? DEFAULT_IMDS_URL),
  };
  if (config.ssoEntraClientId && !config.ssoEntraClientSecret) {
    throw new ConfigError(
      'KEYWAY_SSO_ENTRA_CLIENT_SECRET',
      'is required with KEYWAY_SSO_ENTRA_CLIENT_ID: the Value of a client secret of that app registration',
    );
  }
  if (!config.ssoEntraClientId && config.ssoEntraClientSecret)
    throw new ConfigError('KEYWAY_SSO_ENTRA_CLIENT_ID', 'is required with KEYWAY_SSO_ENTRA_CLIENT_SECRET');
  const oidcSet = [config.ssoOidcIssuer, config.ssoOidcClientId, config.ssoOidcClientSecret].filter((v) => v !== undefined).length;
  if (oidcSet > 0 && oidcSet < 3) {
    const missing = !config.ssoOidcIssuer
      ? 'KEYWAY_SSO_OIDC_ISSUER'
      : !config.ssoOidcClientId
        ? 'KEYWAY_SSO_OIDC_CLIENT_ID'
        : 'KEYWAY_SSO_OIDC_CLIENT_SECRET';
    throw new ConfigError(
      missing,
      'is required: single sign-on with an OpenID Connect provider needs KEYWAY_SSO_OIDC_ISSUER, KEYWAY_SSO_OIDC_CLIENT_ID and KEYWAY_SSO_OIDC_CLIENT_SECRET together',
    );
  }
  if (config.encryptionKeys && config.encryptionKeyFile) {
    throw new ConfigError('KEYWAY_ENCRYPTION_KEYS', 'set either KEYWAY_ENCRYPTION_KEYS or KEYWAY_ENCRYPTION_KEY_FILE, not both');
  }
  return { ...config, ...stripUndefined(overrides) };
}

function imdsUrl(value: string): string {
  try {
    return parseImdsUrl(value);
  } catch (err) {
    throw new ConfigError('KEYWAY_IMDS_URL', `${(err as Error).message} (the Azure Instance Metadata Service for managed identity)`);
  }
}

function withConfigFile(env: Source): Source {
  const file = env.KEYWAY_CONFIG_FILE?.trim();
  if (!file) return env;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : 'not valid JSON';
    throw new ConfigError('KEYWAY_CONFIG_FILE', `cannot read ${file}: ${reason}; expected a JSON object of KEYWAY_* variables`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError('KEYWAY_CONFIG_FILE', `${file} must hold a JSON object of KEYWAY_* variables`);
  }
  const fromFile: Source = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!(CONFIG_VARIABLES as readonly string[]).includes(key) || key === 'KEYWAY_CONFIG_FILE') {
      throw new ConfigError('KEYWAY_CONFIG_FILE', `${file} has unknown key "${key}"; known keys: ${CONFIG_VARIABLES.slice(1).join(', ')}`);
    }
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new ConfigError(key, `in ${file} must be a string, number or boolean`);
    }
    fromFile[key] = String(value);
  }
  return { ...fromFile, ...definedOnly(env) };
}

function definedOnly(env: Source): Source {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function optionalUrl(name: string, value: string | undefined): string | undefined {
  return value === undefined ? undefined : requiredUrl(name, value);
}

function requiredUrl(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(name, `"${value}" is not a URL; expected e.g. https://keyway.example.com`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(name, `must be an http or https URL, got ${url.protocol}`);
  }
  if (url.username || url.password) throw new ConfigError(name, 'must not contain credentials');
  if (url.search || url.hash) throw new ConfigError(name, 'must not contain a query or fragment');
  return url.href.replace(/\/+$/, '');
}

/** An origin only (scheme, host, port): Entra authorities carry the tenant in the first path segment. */
function requiredOrigin(name: string, value: string): string {
  const url = requiredUrl(name, value);
  if (new URL(url).pathname !== '/')
    throw new ConfigError(name, `must be an origin without a path, e.g. https://login.microsoftonline.com`);
  return new URL(url).origin;
}

function databaseUrl(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (/^postgres(ql)?:\/\//.test(value)) {
    try {
      new URL(value);
    } catch {
      throw new ConfigError(name, 'is not a valid postgres:// URL');
    }
    return value;
  }
  if (value.startsWith('sqlite:')) return value;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    throw new ConfigError(name, 'must be a postgres:// URL or a SQLite file path (optionally prefixed sqlite:)');
  }
  return `sqlite:${isAbsolute(value) ? value : resolve(value)}`;
}

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(name, `"${value}" is not one of ${allowed.join(', ')}`);
  }
  return value as T;
}

function integer(name: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value)) throw new ConfigError(name, `"${value}" is not a whole number`);
  const n = Number(value);
  if (n < min || n > max) throw new ConfigError(name, `${n} is out of range ${min}–${max}`);
  return n;
}

function optionalGuid(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value))
    throw new ConfigError(name, 'must be the Application (client) ID, a GUID');
  return value.toLowerCase();
}

/**
 * KEYWAY_TRUST_PROXY: unset/false, a hop count (1 = one proxy in front), or a comma-separated list
 * of proxy addresses or CIDR ranges. `true` is refused: it believes X-Forwarded-For from anyone.
 */
function trustProxy(name: string, value: string | undefined): TrustProxy {
  if (value === undefined || /^(0|false|no|off)$/i.test(value)) return false;
  if (/^(1|true|yes|on)$/i.test(value) && !/^1$/.test(value)) {
    throw new ConfigError(
      name,
      `"${value}" would believe X-Forwarded-For from any client; give the number of proxies in front of Keyway (e.g. 1) or their addresses (e.g. 10.0.0.5,10.0.1.0/24)`,
    );
  }
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops < 1 || hops > 10) throw new ConfigError(name, `${hops} is out of range 1–10 proxy hops`);
    return hops;
  }
  const entries = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const entry of entries) {
    const [address, bits, extra] = entry.split('/');
    const family = isIP(address ?? '');
    if (!family || extra !== undefined || (bits !== undefined && (!/^\d+$/.test(bits) || Number(bits) > (family === 4 ? 32 : 128)))) {
      throw new ConfigError(
        name,
        `"${entry}" is not an IP address or CIDR range; give the number of proxies (e.g. 1) or their addresses (e.g. 10.0.0.5,10.0.1.0/24)`,
      );
    }
  }
  return entries;
}

function optionalDirectory(value: string | undefined): string | undefined {
  return value === undefined ? undefined : resolve(value);
}

/** `first-last`: a range avoiding root and system users, within 32-bit user ids. */
function uidRange(name: string, value: string | undefined): { first: number; last: number } | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d{1,10})\s*-\s*(\d{1,10})$/.exec(value);
  const first = m ? Number(m[1]) : NaN;
  const last = m ? Number(m[2]) : NaN;
  if (!m || first < 1000 || last < first || last > 2 ** 31 - 2) {
    throw new ConfigError(
      name,
      `"${value}" must be a range of Unix user ids like 200000-200999 (from 1000, first ≤ last) that no real account uses`,
    );
  }
  return { first, last };
}

function boolean(name: string, value: string): boolean {
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new ConfigError(name, `"${value}" is not a boolean; use true or false`);
}
