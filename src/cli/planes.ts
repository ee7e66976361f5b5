import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { KeywayConfig } from '../config/config.ts';
import { openDatabase } from '../db/database.ts';
import type { Database, OpenOptions } from '../db/database.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { managementMigrations } from '../db/migrations/management/index.ts';
import { runnerMigrations } from '../db/migrations/runner/index.ts';
import type { ManagementDB } from '../db/management-schema.ts';
import type { RunnerDB } from '../db/runner-schema.ts';
import type { Logger } from '../logging/logger.ts';
import { buildManagementApp } from '../management/app.ts';
import type { ManagementAppOptions } from '../management/app.ts';
import type { SsoProviders } from '../management/sso/service.ts';
import { checkKeysAgainstStore, openKeyringSource } from '../runner/keys/keyring-source.ts';
import type { KeyringSource } from '../runner/keys/keyring-source.ts';
import { VERSION } from '../version.ts';

export function ensureDataDir(dir: string): void {
  // 0700: the directory holds the key file and the runner's credential store.
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

export function managementDatabaseUrl(config: KeywayConfig): string {
  return config.databaseUrl ?? `sqlite:${join(config.dataDir, 'management.db')}`;
}

export function runnerDatabaseUrl(config: KeywayConfig): string {
  return config.runnerDatabaseUrl ?? `sqlite:${join(config.dataDir, 'runner.db')}`;
}

export async function openManagementDatabase(url: string): Promise<Database<ManagementDB>> {
  const database = await openDatabase<ManagementDB>(url);
  await migrateToLatest(database.db, managementMigrations);
  return database;
}

export interface RunnerStore {
  database: Database<RunnerDB>;
  keys: KeyringSource;
}

/** Opens and migrates the runner store and checks the data keys against it: a wrong key stops here. */
export async function openRunnerStore(config: KeywayConfig, url = runnerDatabaseUrl(config), options: OpenOptions = {}): Promise<RunnerStore> {
  const database = await openDatabase<RunnerDB>(url, options);
  try {
    await migrateToLatest(database.db, runnerMigrations);
    const keys = await openKeyringSource({ dataDir: config.dataDir, encryptionKeys: config.encryptionKeys, encryptionKeyFile: config.encryptionKeyFile });
    await checkKeysAgainstStore(database.db, keys.current());
    return { database, keys };
  } catch (err) {
    await database.close();
    throw err;
  }
}

/** The sign-in providers KEYWAY_SSO_* configure; the secrets stay in process memory only. */
export function ssoProvidersFromConfig(config: KeywayConfig): SsoProviders {
  return {
    ...(config.ssoEntraClientId && config.ssoEntraClientSecret
      ? { entra: { clientId: config.ssoEntraClientId, clientSecret: config.ssoEntraClientSecret, authorityOrigin: config.entraAuthorityUrl } }
      : {}),
    ...(config.ssoOidcIssuer && config.ssoOidcClientId && config.ssoOidcClientSecret
      ? { oidc: { issuer: config.ssoOidcIssuer, clientId: config.ssoOidcClientId, clientSecret: config.ssoOidcClientSecret, name: config.ssoOidcName } }
      : {}),
  };
}

export async function buildManagementPlane(
  config: KeywayConfig,
  logger: Logger,
  database: Database<ManagementDB>,
  publicUrl: string,
  extra: Partial<ManagementAppOptions> = {},
) {
  return buildManagementApp({
    database,
    logger,
    publicUrl,
    trustProxy: config.trustProxy,
    version: VERSION,
    allowInsecureHosts: config.allowInsecureHosts,
    entraAuthorityUrl: config.entraAuthorityUrl,
    azureDevOpsServicesUrl: config.azureDevOpsServicesUrl,
    azureDevOpsVsspsUrl: config.azureDevOpsVsspsUrl,
    azureDevOpsApp: { clientId: config.azureDevOpsClientId, clientSecret: config.azureDevOpsClientSecret },
    environmentLimits: { environmentsPerUser: config.environments.perUser, clonesPerUser: config.environments.clonesPerUser },
    identity: {
      sessionTtlHours: config.sessionTtlHours,
      signInMaxFailures: config.signInMaxFailures,
      signInWindowMinutes: config.signInWindowMinutes,
      organizationCreation: config.organizationCreation,
    },
    sso: ssoProvidersFromConfig(config),
    ...extra,
  });
}
