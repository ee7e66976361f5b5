import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { KeywayConfig } from '../config/config.ts';
import { openDatabase } from '../db/database.ts';
import type { Database } from '../db/database.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { managementMigrations } from '../db/migrations/management/index.ts';
import type { ManagementDB } from '../db/management-schema.ts';
import type { Logger } from '../logging/logger.ts';
import { buildManagementApp } from '../management/app.ts';
import type { ManagementAppOptions } from '../management/app.ts';
import type { SsoProviders } from '../management/sso/service.ts';
import { VERSION } from '../version.ts';

export function ensureDataDir(dir: string): void {
  // 0700: the directory holds the key file and the runner's credential store.
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

export function managementDatabaseUrl(config: KeywayConfig): string {
  return config.databaseUrl ?? `sqlite:${join(config.dataDir, 'management.db')}`;
}

export async function openManagementDatabase(url: string): Promise<Database<ManagementDB>> {
  const database = await openDatabase<ManagementDB>(url);
  await migrateToLatest(database.db, managementMigrations);
  return database;
}

/** The sign-in providers KEYWAY_SSO_* configure; the secrets stay in process memory only. */
export function ssoProvidersFromConfig(config: KeywayConfig): SsoProviders {
  return {
    ...(config.ssoEntraClientId && config.ssoEntraClientSecret
      ? {
          entra: {
            clientId: config.ssoEntraClientId,
            clientSecret: config.ssoEntraClientSecret,
            authorityOrigin: config.entraAuthorityUrl,
          },
        }
      : {}),
    ...(config.ssoOidcIssuer && config.ssoOidcClientId && config.ssoOidcClientSecret
      ? {
          oidc: {
            issuer: config.ssoOidcIssuer,
            clientId: config.ssoOidcClientId,
            clientSecret: config.ssoOidcClientSecret,
            name: config.ssoOidcName,
          },
        }
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
