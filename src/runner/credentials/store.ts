import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { RunnerDB } from '../../db/runner-schema.ts';
import type { FieldCrypto } from '../keys/field-crypto.ts';

export type CredentialSubject = { type: 'user' | 'app-connection'; id: string };

export interface NewCredential {
  subject: CredentialSubject;
  integrationId?: string | null;
  host: string;
  method: string;
  /** The secret material (a token set as JSON, a PAT, a client secret); encrypted before it is stored. */
  secret: string;
  metadata?: Record<string, unknown>;
  status?: string;
  expiresAt?: string | null;
}

export interface CredentialRecord {
  id: string;
  subject: CredentialSubject;
  integrationId: string | null;
  host: string;
  method: string;
  metadata: Record<string, unknown>;
  status: string;
  createdAt: string;
  updatedAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  version: number;
  /** The last real outcome: null while the credential works, else since when it fails and why. */
  failingSince: string | null;
  failureReason: string | null;
  /** When a token refused before its recorded expiry was last refreshed. */
  forcedRefreshAt: string | null;
}

const SECRET = { table: 'credentials', column: 'secret' } as const;

/** The runner's credential rows; secrets go in and out only through FieldCrypto. */
export function createCredentialStore(db: Kysely<RunnerDB>, crypto: FieldCrypto, now: () => Date = () => new Date()) {
  const toRecord = (row: RunnerDB['credentials']): CredentialRecord => ({
    id: row.id,
    subject: { type: row.subject_type as CredentialSubject['type'], id: row.subject_id },
    integrationId: row.integration_id,
    host: row.host,
    method: row.method,
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    status: row.status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    version: row.version,
    failingSince: row.failing_since ?? null,
    failureReason: row.failure_reason ?? null,
    forcedRefreshAt: row.forced_refresh_at ?? null,
  });

  return {
    async insert(input: NewCredential): Promise<CredentialRecord> {
      const id = `cred_${randomBytes(12).toString('base64url')}`;
      const at = now().toISOString();
      const row: RunnerDB['credentials'] = {
        id,
        subject_type: input.subject.type,
        subject_id: input.subject.id,
        integration_id: input.integrationId ?? null,
        host: input.host,
        method: input.method,
        secret: crypto.encrypt(input.secret, { ...SECRET, rowId: id }),
        metadata: JSON.stringify(input.metadata ?? {}),
        status: input.status ?? 'active',
        created_at: at,
        updated_at: at,
        expires_at: input.expiresAt ?? null,
        last_used_at: null,
        version: 1,
        lease_owner: null,
        lease_until: null,
        failing_since: null,
        failure_reason: null,
        forced_refresh_at: null,
      };
      await db.insertInto('credentials').values(row).execute();
      return toRecord(row);
    },

    async get(id: string): Promise<CredentialRecord | undefined> {
      const row = await db.selectFrom('credentials').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toRecord(row);
    },

    async readSecret(id: string): Promise<string | undefined> {
      const row = await db.selectFrom('credentials').select(['id', 'secret']).where('id', '=', id).executeTakeFirst();
      return row && crypto.decrypt(row.secret, { ...SECRET, rowId: row.id });
    },

    /** Replaces the secret when the row is still at `expectedVersion`; false when someone else won. */
    async replaceSecret(
      id: string,
      expectedVersion: number,
      secret: string,
      changes: { metadata?: Record<string, unknown>; status?: string; expiresAt?: string | null } = {},
    ): Promise<boolean> {
      const result = await db
        .updateTable('credentials')
        .set({
          secret: crypto.encrypt(secret, { ...SECRET, rowId: id }),
          updated_at: now().toISOString(),
          version: expectedVersion + 1,
          ...(changes.metadata ? { metadata: JSON.stringify(changes.metadata) } : {}),
          ...(changes.status ? { status: changes.status } : {}),
          ...(changes.expiresAt !== undefined ? { expires_at: changes.expiresAt } : {}),
        })
        .where('id', '=', id)
        .where('version', '=', expectedVersion)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async listForSubject(subject: CredentialSubject): Promise<CredentialRecord[]> {
      const rows = await db
        .selectFrom('credentials')
        .selectAll()
        .where('subject_type', '=', subject.type)
        .where('subject_id', '=', subject.id)
        .orderBy('created_at')
        .execute();
      return rows.map(toRecord);
    },

    /** The credential a subject holds through an integration (the newest, when a method has several). */
    async findForIntegration(subject: CredentialSubject, integrationId: string): Promise<CredentialRecord | undefined> {
      const row = await db
        .selectFrom('credentials')
        .selectAll()
        .where('subject_type', '=', subject.type)
        .where('subject_id', '=', subject.id)
        .where('integration_id', '=', integrationId)
        .orderBy('created_at', 'desc')
        .executeTakeFirst();
      return row && toRecord(row);
    },

    /** The row with its ciphertext opened, as one consistent read. */
    async readWithSecret(id: string): Promise<{ record: CredentialRecord; secret: string; leaseUntil: string | null } | undefined> {
      const row = await db.selectFrom('credentials').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) return undefined;
      return { record: toRecord(row), secret: await crypto.decrypt(row.secret, { ...SECRET, rowId: row.id }), leaseUntil: row.lease_until };
    },

    /**
     * Takes the refresh lease when nobody holds a live one and the row is still at `version`. The
     * lease is what makes one refresh happen across runner replicas sharing a database; it expires
     * on its own, so a replica that dies mid-refresh does not block the others for long.
     */
    async acquireLease(id: string, version: number, owner: string, ttlMs: number): Promise<boolean> {
      const at = now();
      const result = await db
        .updateTable('credentials')
        .set({ lease_owner: owner, lease_until: new Date(at.getTime() + ttlMs).toISOString() })
        .where('id', '=', id)
        .where('version', '=', version)
        .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', at.toISOString())]))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    /** Extends a lease its holder still holds: a holder that is alive keeps it, a dead one loses it within one TTL. */
    async renewLease(id: string, owner: string, ttlMs: number): Promise<boolean> {
      const result = await db
        .updateTable('credentials')
        .set({ lease_until: new Date(now().getTime() + ttlMs).toISOString() })
        .where('id', '=', id)
        .where('lease_owner', '=', owner)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async releaseLease(id: string, owner: string): Promise<void> {
      await db
        .updateTable('credentials')
        .set({ lease_owner: null, lease_until: null })
        .where('id', '=', id)
        .where('lease_owner', '=', owner)
        .execute();
    },

    /**
     * Commits a refreshed secret: only the lease holder, only from the version it read. Clears the
     * lease in the same write.
     */
    async commitRefresh(
      id: string,
      owner: string,
      expectedVersion: number,
      secret: string,
      changes: { metadata: Record<string, unknown>; expiresAt?: string | null; forced?: boolean },
    ): Promise<boolean> {
      const result = await db
        .updateTable('credentials')
        .set({
          secret: crypto.encrypt(secret, { ...SECRET, rowId: id }),
          metadata: JSON.stringify(changes.metadata),
          ...(changes.expiresAt !== undefined ? { expires_at: changes.expiresAt } : {}),
          status: 'active',
          version: expectedVersion + 1,
          updated_at: now().toISOString(),
          lease_owner: null,
          lease_until: null,
          // An early refresh is recorded: replicas read it to refresh once per rejection.
          ...(changes.forced ? { forced_refresh_at: now().toISOString() } : {}),
        })
        .where('id', '=', id)
        .where('version', '=', expectedVersion)
        .where('lease_owner', '=', owner)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async setStatus(id: string, status: string, metadata?: Record<string, unknown>): Promise<void> {
      await db
        .updateTable('credentials')
        .set({
          status,
          updated_at: now().toISOString(),
          lease_owner: null,
          lease_until: null,
          ...(metadata ? { metadata: JSON.stringify(metadata) } : {}),
        })
        .where('id', '=', id)
        .execute();
    },

    /**
     * Records that the credential fails. True only for the call that turned a working credential
     * into a failing one (one conditional write), so the event is reported once per episode.
     */
    async markFailing(id: string, reason: string): Promise<boolean> {
      const at = now().toISOString();
      const started = await db
        .updateTable('credentials')
        .set({ failing_since: at, failure_reason: reason.slice(0, 500) })
        .where('id', '=', id)
        .where('failing_since', 'is', null)
        .executeTakeFirst();
      if (Number(started.numUpdatedRows) === 1) return true;
      await db
        .updateTable('credentials')
        .set({ failure_reason: reason.slice(0, 500) })
        .where('id', '=', id)
        .execute();
      return false;
    },

    /** The credential worked again: writes only when it was failing. */
    async markWorking(id: string): Promise<boolean> {
      const result = await db
        .updateTable('credentials')
        .set({ failing_since: null, failure_reason: null })
        .where('id', '=', id)
        .where('failing_since', 'is not', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async touchLastUsed(id: string): Promise<void> {
      await db.updateTable('credentials').set({ last_used_at: now().toISOString() }).where('id', '=', id).execute();
    },

    async delete(id: string): Promise<boolean> {
      const result = await db.deleteFrom('credentials').where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },

    async deleteForSubject(subject: CredentialSubject): Promise<number> {
      const result = await db
        .deleteFrom('credentials')
        .where('subject_type', '=', subject.type)
        .where('subject_id', '=', subject.id)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    async countForIntegration(integrationId: string): Promise<{ oauth: number; pat: number }> {
      const rows = await db
        .selectFrom('credentials')
        .select(['method', (eb) => eb.fn.countAll<number>().as('n')])
        .where('integration_id', '=', integrationId)
        .groupBy('method')
        .execute();
      const of = (method: string) => Number(rows.find((r) => r.method === method)?.n ?? 0);
      return { oauth: of('oauth'), pat: of('pat') };
    },

    async deleteForIntegration(integrationId: string, method?: string): Promise<number> {
      let query = db.deleteFrom('credentials').where('integration_id', '=', integrationId);
      if (method) query = query.where('method', '=', method);
      const result = await query.executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}

export type CredentialStore = ReturnType<typeof createCredentialStore>;
