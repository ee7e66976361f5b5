// A runner's token machinery without a management plane: a runner store (SQLite or a PostgreSQL
// schema), an integration whose client secret is sealed to a fresh runner key, and users connected
// through the runner's real OAuth flow against the emulator. Shared by the benchmarks, the soak and
// the resilience suites; child processes rebuild the same pieces from `RunnerFixtureConfig`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { loadConfig } from '../../src/config/config.ts';
import { openRunnerStore } from '../../src/runner/store.ts';
import type { RunnerStore } from '../../src/runner/store.ts';
import { generateRunnerKeyPair, seal } from '../../src/crypto/sealing.ts';
import { sealingContext } from '../../src/control/sealing-context.ts';
import type { RunnerIntegration } from '../../src/control/integration.ts';
import { createCredentialStore } from '../../src/runner/credentials/store.ts';
import type { CredentialStore, NewCredential } from '../../src/runner/credentials/store.ts';
import type { EnvironmentStore } from '../../src/runner/environments/store.ts';
import { hashSecret } from '../../src/runner/environments/credential-server.ts';
import { createFieldCrypto } from '../../src/runner/keys/field-crypto.ts';
import { createOidcConfigs, integrationConfigForRecord } from '../../src/runner/oauth/integration-config.ts';
import { createRunnerClientCredentials } from '../../src/runner/client-credentials/index.ts';
import type { IntegrationSource, OidcConfigs } from '../../src/runner/oauth/integration-config.ts';
import { createOAuthFlow } from '../../src/runner/oauth/flow.ts';
import { createTokenService } from '../../src/runner/oauth/tokens.ts';
import type { TokenService, TokenServiceOptions } from '../../src/runner/oauth/tokens.ts';
import type { EmulatorHandle } from '../../emulator/index.ts';
import { consentAtEntra } from '../../test/support/oauth.ts';

/** Everything another process needs to act as a replica of this runner. */
export interface RunnerFixtureConfig {
  storeUrl: string;
  schema?: string;
  encryptionKeys: string;
  privateKey: string;
  integration: RunnerIntegration;
}

export interface RunnerPieces {
  store: RunnerStore;
  credentials: CredentialStore;
  integrations: IntegrationSource;
  configFor: OidcConfigs;
  tokens(options?: Partial<TokenServiceOptions>): TokenService;
  close(): Promise<void>;
}

export function randomEncryptionKeys(): string {
  return `primary=k1,k1:${randomBytes(32).toString('base64')}`;
}

/** Azure DevOps Services (dev.azure.com) with no OAuth app: the runner reaches it with a PAT. */
export function servicesIntegration(id: string): RunnerIntegration {
  return {
    id,
    scmId: 'azure-devops',
    kind: 'services',
    host: 'dev.azure.com',
    origin: 'https://dev.azure.com',
    virtualDirectory: '',
    oauth: null,
    patEnabled: true,
  };
}

/** A runner store in the SQLite file `runner.db` of `dir` (fresh encryption keys, no runner key) serving `integration`. */
export function openSqliteRunnerPieces(dir: string, integration: RunnerIntegration): Promise<RunnerPieces> {
  return openRunnerPieces({
    storeUrl: `sqlite:${join(dir, 'runner.db')}`,
    encryptionKeys: randomEncryptionKeys(),
    privateKey: '',
    integration,
  });
}

/** Stores `pat` as user `userId`'s credential for `integration`, scoped to `organization`. */
export async function storePat(
  pieces: RunnerPieces,
  userId: string,
  integration: RunnerIntegration,
  pat: string,
  organization: string,
): Promise<void> {
  await pieces.credentials.insert({
    subject: { type: 'user', id: userId },
    integrationId: integration.id,
    host: integration.host,
    method: 'pat',
    secret: pat,
    metadata: { organization },
  });
}

/** A cached Entra token set valid for `validForMs` (generated: fixtures carry nothing that looks like a secret). */
export function cachedOAuthTokens(validForMs: number): Pick<NewCredential, 'method' | 'secret' | 'metadata'> {
  return {
    method: 'oauth',
    secret: JSON.stringify({
      access_token: `eyJ0eXAi.${randomBytes(900).toString('base64url')}`,
      refresh_token: randomBytes(600).toString('base64url'),
    }),
    metadata: {
      issuer: 'https://login.microsoftonline.com/t/v2.0',
      clientId: 'c',
      scopes: ['openid'],
      accessTokenExpiresAt: new Date(Date.now() + validForMs).toISOString(),
    },
  };
}

/** A ready environment of contoso/Web/web-app on dev.azure.com whose git helper authenticates with `secret`. */
export function webAppEnvironment(
  id: string,
  owner: { userId: string; integrationId: string },
  secret: string,
  dataDir: string,
): Parameters<EnvironmentStore['insert']>[0] {
  return {
    id,
    ...owner,
    repository: {
      kind: 'services',
      host: 'dev.azure.com',
      origin: 'https://dev.azure.com',
      organization: 'contoso',
      project: 'Web',
      repository: 'web-app',
    },
    remoteUrl: 'https://dev.azure.com/contoso/Web/_git/web-app',
    secretHash: hashSecret(secret),
    workspace: join(dataDir, 'workspaces', id),
    status: 'ready',
    createdAt: new Date().toISOString(),
  };
}

/** Opens (and migrates) the runner store named by `config` and wires the token service to it. */
export async function openRunnerPieces(config: RunnerFixtureConfig, options: { maxConnections?: number } = {}): Promise<RunnerPieces> {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyway-bench-runner-'));
  const keywayConfig = loadConfig({ KEYWAY_DATA_DIR: dataDir, KEYWAY_ENCRYPTION_KEYS: config.encryptionKeys });
  const store = await openRunnerStore(keywayConfig, config.storeUrl, {
    ...(config.schema ? { schema: config.schema } : {}),
    ...(options.maxConnections ? { maxConnections: options.maxConnections } : {}),
  });
  const credentials = createCredentialStore(store.database.db, createFieldCrypto(store.keys));
  const integrations: IntegrationSource = { get: async () => config.integration, remember: () => undefined };
  const configFor = createOidcConfigs({
    privateKey: config.privateKey,
    allowInsecure: true,
    credentials: createRunnerClientCredentials({ db: store.database.db, crypto: createFieldCrypto(store.keys) }),
  });
  return {
    store,
    credentials,
    integrations,
    configFor,
    tokens: (extra = {}) =>
      createTokenService({ credentials, configForRecord: integrationConfigForRecord(integrations, configFor), ...extra }),
    async close() {
      await store.database.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface RunnerFixture extends RunnerPieces {
  config: RunnerFixtureConfig;
  emu: EmulatorHandle;
  /** Connects a new emulator user as Keyway user `userId` through the runner's OAuth flow; returns the credential id. */
  connect(userId: string, options?: { organizations?: string[] }): Promise<string>;
  /** The emulator user behind Keyway user `userId` (after connect). */
  adoUser(userId: string): { id: string; oid: string } | undefined;
  /** Makes the stored access token look expired, so the next request refreshes it. */
  expire(credentialId: string): Promise<void>;
  /** Refresh-token grants the emulator's Entra has answered so far. */
  refreshRequests(): number;
  /** Drops the PostgreSQL schema (when there is one) and closes. */
  destroy(): Promise<void>;
}

/**
 * A runner store on `storeUrl` (a `postgres://` URL gets a fresh schema) with one OAuth
 * integration against the emulator's Entra.
 */
export async function createRunnerFixture(emu: EmulatorHandle, storeUrl: string): Promise<RunnerFixture> {
  const keyPair = await generateRunnerKeyPair();
  const registered = emu.entra.addApp(emu.defaultTenant.id, {
    displayName: 'Keyway bench',
    redirectUris: ['http://127.0.0.1:9/api/v1/oauth/callback/int_bench'],
  });
  const integrationId = `int_${randomBytes(6).toString('hex')}`;
  const callbackUrl = `http://127.0.0.1:9/api/v1/oauth/callback/${integrationId}`;
  registered.app.redirectUris.push(callbackUrl);
  const integration: RunnerIntegration = {
    ...servicesIntegration(integrationId),
    oauth: {
      clientId: registered.app.clientId,
      issuerUrl: `${emu.urls.login}/${emu.defaultTenant.id}/v2.0`,
      sealedClientSecret: await seal(keyPair.publicKey, registered.clientSecret, sealingContext.integrationClientSecret(integrationId)),
      callbackUrl,
    },
  };
  const schema = storeUrl.startsWith('postgres') ? `bench_${randomBytes(5).toString('hex')}` : undefined;
  const config: RunnerFixtureConfig = {
    storeUrl,
    ...(schema ? { schema } : {}),
    encryptionKeys: randomEncryptionKeys(),
    privateKey: keyPair.privateKey,
    integration,
  };
  const pieces = await openRunnerPieces(config);
  const flow = createOAuthFlow({
    db: pieces.store.database.db,
    crypto: createFieldCrypto(pieces.store.keys),
    credentials: pieces.credentials,
    configFor: pieces.configFor,
  });
  let users = 0;
  const adoUsers = new Map<string, { id: string; oid: string }>();

  return {
    ...pieces,
    config,
    emu,
    adoUser: (userId) => adoUsers.get(userId),
    async connect(userId, options = {}) {
      const adoUser = emu.world.addUser({ upn: `bench${++users}-${randomBytes(3).toString('hex')}@${emu.defaultTenant.domain}` });
      for (const org of options.organizations ?? []) emu.world.addMember(org, adoUser.id);
      adoUsers.set(userId, { id: adoUser.id, oid: adoUser.oid });
      const begun = await flow.begin({ userId, integration, redirectUri: callbackUrl });
      const { callback } = await consentAtEntra(emu, begun.authorizationUrl, adoUser.upn);
      const params = Object.fromEntries(new URL(callback).searchParams);
      const done = await flow.complete({ userId, integration, callbackUrl: callback, params });
      return done.authorizationId;
    },
    async expire(credentialId) {
      const db = pieces.store.database.db;
      const row = await db.selectFrom('credentials').select('metadata').where('id', '=', credentialId).executeTakeFirstOrThrow();
      const meta = JSON.parse(row.metadata) as Record<string, unknown>;
      await db
        .updateTable('credentials')
        .set({ metadata: JSON.stringify({ ...meta, accessTokenExpiresAt: new Date(Date.now() - 1000).toISOString() }) })
        .where('id', '=', credentialId)
        .execute();
    },
    refreshRequests: () => emu.entra.counters().byGrant.refresh_token ?? 0,
    async destroy() {
      if (schema) await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(pieces.store.database.db).catch(() => undefined);
      await pieces.close();
    },
  };
}
