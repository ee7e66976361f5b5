import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CONFIG_VARIABLES, ConfigError, loadConfig } from './config.ts';
import { environmentOptionsFromConfig } from '../runner/environments/options.ts';

/** Each environment is refused with a ConfigError whose message matches its pattern. */
function assertRefused(cases: readonly (readonly [Record<string, string>, RegExp])[]): void {
  for (const [env, pattern] of cases) {
    assert.throws(
      () => loadConfig(env),
      (err: unknown) => err instanceof ConfigError && pattern.test(err.message),
      JSON.stringify(env),
    );
  }
}

describe('configuration', () => {
  it('has working defaults', () => {
    const config = loadConfig({});
    assert.equal(config.port, 8080);
    assert.equal(config.logLevel, 'info');
    assert.equal(config.databaseUrl, undefined);
    assert.equal(config.entraAuthorityUrl, 'https://login.microsoftonline.com');
    assert.equal(config.allowInsecureHosts, false);
  });

  it('names the variable and says what is accepted', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ KEYWAY_PORT: 'eighty' }, /^KEYWAY_PORT: "eighty" is not a whole number/],
      [{ KEYWAY_PORT: '70000' }, /^KEYWAY_PORT: 70000 is out of range/],
      [{ KEYWAY_LOG_LEVEL: 'loud' }, /^KEYWAY_LOG_LEVEL: "loud" is not one of fatal, error/],
      [{ KEYWAY_PUBLIC_URL: 'keyway.example.com' }, /^KEYWAY_PUBLIC_URL: "keyway.example.com" is not a URL/],
      [{ KEYWAY_PUBLIC_URL: 'ftp://x' }, /must be an http or https URL/],
      [{ KEYWAY_DATABASE_URL: 'mysql://x' }, /^KEYWAY_DATABASE_URL: must be a postgres/],
      [{ KEYWAY_TRUST_PROXY: 'maybe' }, /^KEYWAY_TRUST_PROXY: "maybe" is not an IP address or CIDR range/],
      [
        { KEYWAY_TRUST_PROXY: 'true' },
        /^KEYWAY_TRUST_PROXY: "true" would believe X-Forwarded-For from any client; give the number of proxies/,
      ],
      [{ KEYWAY_TRUST_PROXY: '10.0.0.1/40' }, /^KEYWAY_TRUST_PROXY: "10.0.0.1\/40" is not an IP address or CIDR range/],
      [{ KEYWAY_SSO_ENTRA_CLIENT_ID: 'not-a-guid' }, /^KEYWAY_SSO_ENTRA_CLIENT_ID: must be the Application \(client\) ID, a GUID/],
      [
        { KEYWAY_SSO_ENTRA_CLIENT_ID: '11111111-2222-4333-8444-555555555555' },
        /^KEYWAY_SSO_ENTRA_CLIENT_SECRET: is required with KEYWAY_SSO_ENTRA_CLIENT_ID/,
      ],
      [{ KEYWAY_SSO_OIDC_ISSUER: 'https://idp.example.com' }, /^KEYWAY_SSO_OIDC_CLIENT_ID: is required/],
      [{ KEYWAY_ORGANIZATION_CREATION: 'everyone' }, /^KEYWAY_ORGANIZATION_CREATION: "everyone" is not one of operators, users/],
      [{ KEYWAY_ENTRA_AUTHORITY_URL: 'https://login.microsoftonline.com/tenant' }, /must be an origin without a path/],
      [{ KEYWAY_ENCRYPTION_KEYS: 'k1:x', KEYWAY_ENCRYPTION_KEY_FILE: '/k' }, /either KEYWAY_ENCRYPTION_KEYS or KEYWAY_ENCRYPTION_KEY_FILE/],
    ];
    assertRefused(cases);
  });

  it('environment limits, git timeouts and workspace isolation: defaults, values and refusals', () => {
    assert.deepEqual(loadConfig({}).environments, {
      perUser: 20,
      clonesPerUser: 3,
      runnerMax: 200,
      runnerMaxClones: 8,
      gitStallTimeoutSeconds: 120,
      gitCloneTimeoutMinutes: 60,
      idleHours: 168,
      workspacesDir: undefined,
      workspaceUids: undefined,
      repositoryCacheDir: undefined,
      repositoryCacheMb: 10240,
      repositoryCacheFreshSeconds: 30,
    });
    const set = loadConfig({
      KEYWAY_ENVIRONMENTS_PER_USER: '0',
      KEYWAY_ENVIRONMENT_IDLE_HOURS: '0',
      KEYWAY_WORKSPACE_UIDS: '200000-200999',
      KEYWAY_WORKSPACES_DIR: 'ws',
    }).environments;
    assert.equal(set.perUser, 0, '0 turns the limit off');
    assert.equal(set.idleHours, 0);
    assert.deepEqual(set.workspaceUids, { first: 200000, last: 200999 });
    assert.ok(set.workspacesDir?.endsWith('/ws') && set.workspacesDir.startsWith('/'));
    assertRefused([
      [{ KEYWAY_GIT_STALL_TIMEOUT_SECONDS: '1' }, /^KEYWAY_GIT_STALL_TIMEOUT_SECONDS: 1 is out of range 5–3600/],
      [{ KEYWAY_CLONES_PER_USER: 'many' }, /^KEYWAY_CLONES_PER_USER: "many" is not a whole number/],
      [{ KEYWAY_WORKSPACE_UIDS: '0-10' }, /^KEYWAY_WORKSPACE_UIDS: "0-10" must be a range of Unix user ids like 200000-200999/],
      [{ KEYWAY_WORKSPACE_UIDS: '300000-200000' }, /^KEYWAY_WORKSPACE_UIDS: /],
    ]);
  });

  it('the repository cache: where, how large (0: off) and how fresh, handed to the runner in its own units', () => {
    const set = loadConfig({
      KEYWAY_REPOSITORY_CACHE_DIR: 'cache',
      KEYWAY_REPOSITORY_CACHE_MB: '0',
      KEYWAY_REPOSITORY_CACHE_FRESH_SECONDS: '0',
    }).environments;
    assert.ok(set.repositoryCacheDir?.endsWith('/cache') && set.repositoryCacheDir.startsWith('/'));
    assert.deepEqual(environmentOptionsFromConfig(set).repositoryCache, { dir: set.repositoryCacheDir, maxBytes: 0, freshMs: 0 });
    assert.deepEqual(environmentOptionsFromConfig(loadConfig({}).environments).repositoryCache, {
      maxBytes: 10240 * 1024 * 1024,
      freshMs: 30_000,
    });
    assertRefused([
      [{ KEYWAY_REPOSITORY_CACHE_MB: '-1' }, /^KEYWAY_REPOSITORY_CACHE_MB: "-1" is not a whole number/],
      [{ KEYWAY_REPOSITORY_CACHE_FRESH_SECONDS: '100000' }, /^KEYWAY_REPOSITORY_CACHE_FRESH_SECONDS: 100000 is out of range 0–86400/],
    ]);
  });

  it("every variable is in the README's configuration table", () => {
    const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
    const documented = new Set([...readme.matchAll(/^\| `(KEYWAY_[A-Z_]+)` \|/gm)].map((m) => m[1]));
    assert.deepEqual(
      CONFIG_VARIABLES.filter((v) => !documented.has(v)),
      [],
    );
  });

  it('does not echo a database password in its error', () => {
    assert.throws(
      () => loadConfig({ KEYWAY_DATABASE_URL: 'postgres://u:hunter2secret@[bad' }),
      (err: unknown) => err instanceof ConfigError && !err.message.includes('hunter2secret'),
    );
  });

  it('reads an optional JSON file, with the environment winning', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyway-config-'));
    const file = join(dir, 'keyway.json');
    writeFileSync(file, JSON.stringify({ KEYWAY_PORT: 9000, KEYWAY_LOG_LEVEL: 'debug' }));
    const config = loadConfig({ KEYWAY_CONFIG_FILE: file, KEYWAY_LOG_LEVEL: 'warn' });
    assert.equal(config.port, 9000);
    assert.equal(config.logLevel, 'warn');
    writeFileSync(file, JSON.stringify({ KEYWAY_PROT: 1 }));
    assert.throws(() => loadConfig({ KEYWAY_CONFIG_FILE: file }), /unknown key "KEYWAY_PROT"/);
    assert.throws(() => loadConfig({ KEYWAY_CONFIG_FILE: join(dir, 'missing.json') }), /file not found/);
  });

  it('trusts proxies by hop count or address, never all of them', () => {
    assert.equal(loadConfig({}).trustProxy, false);
    assert.equal(loadConfig({ KEYWAY_TRUST_PROXY: 'false' }).trustProxy, false);
    assert.equal(loadConfig({ KEYWAY_TRUST_PROXY: '1' }).trustProxy, 1);
    assert.equal(loadConfig({ KEYWAY_TRUST_PROXY: '2' }).trustProxy, 2);
    assert.deepEqual(loadConfig({ KEYWAY_TRUST_PROXY: '10.0.0.5, 10.0.1.0/24,::1' }).trustProxy, ['10.0.0.5', '10.0.1.0/24', '::1']);
  });

  it('resolves a SQLite path to a sqlite: URL', () => {
    assert.match(loadConfig({ KEYWAY_DATABASE_URL: 'data/k.db' }).databaseUrl ?? '', /^sqlite:\/.*data\/k\.db$/);
    assert.equal(loadConfig({ KEYWAY_DATABASE_URL: 'postgres://u@h/db' }).databaseUrl, 'postgres://u@h/db');
  });
});
