import { userInfo } from 'node:os';
import { UsageError } from './usage-error.ts';
import { loadConfig } from '../config/config.ts';
import { createAuditLog } from '../management/audit/service.ts';
import type { AuditAction } from '../management/audit/actions.ts';
import { createIdentityService } from '../management/identity/service.ts';
import { createIdentityStore } from '../management/identity/store.ts';
import { ensureDataDir, managementDatabaseUrl, openManagementDatabase } from './planes.ts';

/** Thrown for what an operator must fix; printed as one line with exit code 2. */
export class AdminCommandError extends UsageError {
  override readonly name = 'AdminCommandError';
}

export const PUBLIC_URL_SETTING = 'public_url';

async function withIdentity<T>(options: { dataDir?: string }, work: (tools: Awaited<ReturnType<typeof open>>) => Promise<T>): Promise<T> {
  const tools = await open(options);
  try {
    return await work(tools);
  } finally {
    await tools.close();
  }
}

async function open(options: { dataDir?: string }) {
  const config = loadConfig(process.env, { dataDir: options.dataDir });
  if (!config.databaseUrl) ensureDataDir(config.dataDir);
  const database = await openManagementDatabase(managementDatabaseUrl(config));
  const store = createIdentityStore(database.db);
  const identity = createIdentityService(store, {
    sessionTtlHours: config.sessionTtlHours,
    signInMaxFailures: config.signInMaxFailures,
    signInWindowMinutes: config.signInWindowMinutes,
  });
  const audit = createAuditLog(database.db);
  // Who ran the command, as the machine knows them: the audit log says it was the command line.
  const actor = { kind: 'system' as const, label: `operator command line (${safeUser()})` };
  async function publicUrl(): Promise<string> {
    const url = config.publicUrl ?? (await store.setting(PUBLIC_URL_SETTING));
    if (!url) throw new AdminCommandError('no public URL known: set KEYWAY_PUBLIC_URL (or start Keyway once so it records its URL)');
    return url;
  }
  async function user(email: string | undefined) {
    const found = email ? await identity.findUserByEmail(email) : await store.firstOperator();
    if (!found) throw new AdminCommandError(email ? `no account for ${email}` : 'no instance operator exists yet; start Keyway once');
    return found;
  }
  /** Records in the audit log what this command line did to `userId`'s account. */
  function recordDone(
    action: AuditAction,
    organizationId: string | null,
    userId: string,
    details?: Record<string, unknown>,
  ): Promise<void> {
    return audit.record({
      organizationId,
      actor,
      action,
      target: { type: 'user', id: userId },
      outcome: 'success',
      ...(details ? { details } : {}),
    });
  }
  return { identity, store, recordDone, publicUrl, user, close: () => database.close() };
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/**
 * `keyway admin link [--email E] [--organization SLUG]`: a fresh one-time sign-in link for an
 * account (default: the first instance operator), for whoever holds the database. Audited.
 */
export async function runAdminLink(
  options: { email?: string; organization?: string; dataDir?: string },
  out: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  await withIdentity(options, async ({ identity, store, recordDone, publicUrl, user }) => {
    const person = await user(options.email);
    if (person.disabled_at)
      throw new AdminCommandError(`${person.email} is disabled; enable it first (an operator: PUT /api/v1/users/{id}/disabled)`);
    const requested = options.organization ? (await store.findOrganizationBySlug(options.organization.toLowerCase()))?.id : undefined;
    if (options.organization && !requested) throw new AdminCommandError(`no organization with the slug "${options.organization}"`);
    const organizationId = await identity.linkOrganization(person.id, requested);
    if (!organizationId)
      throw new AdminCommandError(
        `${person.email} belongs to ${options.organization ? `no organization "${options.organization}"` : 'no organization'}`,
      );
    const url = await publicUrl();
    const link = await identity.createSignInLink(person.id, organizationId, 'operator');
    await recordDone('operator.sign_in_link', organizationId, person.id);
    out.write(
      `One-time sign-in link for ${person.email} (valid ${link.expiresInMinutes} minutes):\n  ${url}/sign-in/link#token=${link.token}\n`,
    );
  });
}

/**
 * `keyway admin reset-password EMAIL`: the old password stops working, every session and API token
 * of the account ends, and a one-time link lets the person in to set a new one. Audited.
 */
export async function runAdminResetPassword(
  options: { email: string; dataDir?: string },
  out: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  await withIdentity(options, async ({ identity, store, recordDone, publicUrl, user }) => {
    const person = await user(options.email);
    const organizationId = await identity.linkOrganization(person.id);
    if (!organizationId) throw new AdminCommandError(`${person.email} belongs to no organization`);
    const url = await publicUrl();
    const at = new Date().toISOString();
    await store.updatePassword(person.id, null, at);
    const endedSessions = await store.deleteSessions(person.id);
    const revokedTokens = await store.revokeApiTokens(person.id, at);
    await store.expireSignInLinks(person.id, at);
    const link = await identity.createSignInLink(person.id, organizationId, 'password-reset');
    await recordDone('operator.password_reset', organizationId, person.id, { endedSessions, revokedTokens });
    out.write(
      `The password of ${person.email} no longer works; ${endedSessions} session(s) ended and ${revokedTokens} API token(s) revoked.\n` +
        `Send them this one-time link (valid ${link.expiresInMinutes} minutes); they set a new password under Account:\n  ${url}/sign-in/link#token=${link.token}\n`,
    );
  });
}

/** `keyway admin operator EMAIL [--revoke]`: grants or takes back instance-operator rights. Audited. */
export async function runAdminOperator(
  options: { email: string; revoke?: boolean; dataDir?: string },
  out: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  await withIdentity(options, async ({ store, recordDone, user }) => {
    const person = await user(options.email);
    if (options.revoke) {
      const operators = (await store.listUsers()).filter((u) => u.operator === 1 && !u.disabled_at);
      if (operators.length <= 1 && operators[0]?.id === person.id)
        throw new AdminCommandError(`${person.email} is the last instance operator; make someone else one first`);
    }
    await store.setOperator(person.id, !options.revoke);
    await recordDone(options.revoke ? 'operator.revoke' : 'operator.grant', null, person.id);
    out.write(`${person.email} is ${options.revoke ? 'no longer' : 'now'} an instance operator\n`);
  });
}
