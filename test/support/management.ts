import { Writable } from 'node:stream';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { createLogger } from '../../src/logging/logger.ts';
import type { LogLevel } from '../../src/config/config.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { managementMigrations } from '../../src/db/migrations/management/index.ts';
import type { ManagementDB } from '../../src/db/management-schema.ts';
import type { DatabaseKind } from '../../src/db/database.ts';
import { buildManagementApp } from '../../src/management/app.ts';
import type { ManagementAppOptions, ManagementCore } from '../../src/management/app.ts';
import { openTestDatabase } from './databases.ts';
import type { TestDatabase } from './databases.ts';

/** Cheap scrypt for tests only; production uses the defaults in password.ts. */
export const TEST_PASSWORD_PARAMS = { N: 1024, r: 8, p: 1 };

export class LogCapture extends Writable {
  lines: string[] = [];
  override _write(chunk: Buffer, _enc: string, done: () => void) {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }
  get text(): string {
    return this.lines.join('\n');
  }
}

export interface TestManagement {
  app: FastifyInstance;
  core: ManagementCore;
  database: TestDatabase<ManagementDB>;
  logs: LogCapture;
  organizationId: string;
  admin: { id: string; email: string; password: string };
  member: { id: string; email: string; password: string };
  close(): Promise<void>;
}

export async function startTestManagement(
  kind: DatabaseKind,
  extra: Partial<ManagementAppOptions> = {},
  level: LogLevel = 'info',
): Promise<TestManagement> {
  const database = await openTestDatabase<ManagementDB>(kind);
  await migrateToLatest(database.db, managementMigrations);
  const logs = new LogCapture();
  const { app, core } = await buildManagementApp({
    database,
    logger: createLogger(level, logs),
    publicUrl: 'http://keyway.test',
    trustProxy: false,
    version: 'test',
    identity: { sessionTtlHours: 1, signInMaxFailures: 5, signInWindowMinutes: 15, passwordParams: TEST_PASSWORD_PARAMS },
    ...extra,
  });
  await app.ready();
  const boot = await core.identity.bootstrap({ organizationName: 'Acme', adminEmail: 'admin@acme.test' });
  if (!boot) throw new Error('bootstrap did nothing on an empty database');
  const admin = { id: boot.userId, email: 'admin@acme.test', password: 'admin-password-long' };
  await core.identity.setPassword(admin.id, admin.password);
  const memberPassword = 'member-password-long';
  const created = await core.identity.createUser({
    email: 'member@acme.test',
    password: memberPassword,
    organizationId: boot.organizationId,
    role: 'member',
  });
  return {
    app,
    core,
    database,
    logs,
    organizationId: boot.organizationId,
    admin,
    member: { id: created.id, email: 'member@acme.test', password: memberPassword },
    async close() {
      await app.close();
      await database.close();
    },
  };
}

/** A signed-in browser: keeps the session cookie and sends the CSRF token on writes. */
/**
 * A person whose one organization is a new one they founded: created in `t`'s organization (where
 * users are made) and then taken out of it.
 */
export async function founderOfNewOrganization(t: TestManagement, person: { email: string; password: string }, organizationName: string) {
  const user = await t.core.identity.createUser({ ...person, organizationId: t.organizationId, role: 'member' });
  const organization = await t.core.identity.createOrganization(organizationName, user.id);
  await t.database.db.deleteFrom('memberships').where('organization_id', '=', t.organizationId).where('user_id', '=', user.id).execute();
  return { user, organization };
}

/** A browser of its own, signed in as `person` (the admin, the member, or anyone with a password). */
export async function signedInBrowser(app: FastifyInstance, person: { email: string; password: string }): Promise<Browser> {
  const browser = new Browser(app);
  await browser.signIn(person.email, person.password);
  return browser;
}

export class Browser {
  cookie = '';
  csrfToken = '';
  constructor(private readonly app: FastifyInstance) {}

  async signIn(email: string, password: string): Promise<LightMyRequestResponse> {
    const res = await this.app.inject({ method: 'POST', url: '/api/v1/auth/sign-in', payload: { email, password } });
    this.absorb(res);
    return res;
  }

  absorb(res: LightMyRequestResponse) {
    const setCookie = res.cookies.find((c) => c.name === 'keyway_session');
    if (setCookie) this.cookie = `keyway_session=${setCookie.value}`;
    if (res.statusCode === 200) {
      const body = res.json() as { csrfToken?: string };
      if (body.csrfToken) this.csrfToken = body.csrfToken;
    }
  }

  request(options: InjectOptions & { csrf?: boolean }): Promise<LightMyRequestResponse> {
    const { csrf = true, ...rest } = options;
    const headers: Record<string, string> = { ...(rest.headers as Record<string, string> | undefined) };
    if (this.cookie) headers.cookie = this.cookie;
    if (csrf && this.csrfToken && rest.method && rest.method !== 'GET') headers['x-csrf-token'] = this.csrfToken;
    return this.app.inject({ ...rest, headers });
  }
}
