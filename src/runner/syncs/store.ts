import { createHmac, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { RunnerDB } from '../../db/runner-schema.ts';
import type { DeclaredVariable, SyncTarget } from '../../control/app-connections.ts';
import type { FieldCrypto } from '../keys/field-crypto.ts';
import { nameKey } from './plan.ts';

export interface SyncVariable {
  name: string;
  isSecret: boolean;
  value: string;
}

export interface SyncState {
  syncId: string;
  target: Pick<SyncTarget, 'organization' | 'project' | 'groupName'>;
  projectId: string | null;
  groupId: number | null;
  /** Lower-cased names the sync created. */
  owned: string[];
  /** name_key → digest of the secret value last written. */
  digests: Record<string, string>;
  /**
   * How the sync came to write into `groupId`: it created the group, or a project owner let it adopt
   * an existing one; null for a state recorded before this was tracked.
   */
  groupOrigin: 'created' | 'adopted' | null;
  /** Lower-cased names Keyway wrote into the group (created or taken over); it changes no other. */
  written: string[];
}

const VALUE = { table: 'sync_variables', column: 'value' } as const;
const RUNNER_SECRET = { table: 'runner_secrets', column: 'value' } as const;
const DIGEST_KEY_ID = 'sync-digest-key';
const BATCH = 400;

/**
 * The runner's half of variable group syncs: variable values (encrypted per row, bound to the row)
 * and the sync's memory of its group. Every change of a variable set is one transaction, so a
 * failure leaves the previous set whole.
 */
export function createSyncStore(db: Kysely<RunnerDB>, crypto: FieldCrypto, now: () => Date = () => new Date()) {
  let digestKey: Promise<Buffer> | undefined;

  function rows(syncId: string, variables: readonly SyncVariable[], at: string): RunnerDB['sync_variables'][] {
    return variables.map((v) => {
      const id = `svar_${randomBytes(12).toString('base64url')}`;
      return {
        id,
        sync_id: syncId,
        name: v.name,
        name_key: nameKey(v.name),
        is_secret: v.isSecret ? 1 : 0,
        value: crypto.encrypt(v.value, { ...VALUE, rowId: id }),
        updated_at: at,
      };
    });
  }

  async function insertAll(trx: Kysely<RunnerDB>, values: RunnerDB['sync_variables'][]) {
    for (let i = 0; i < values.length; i += BATCH)
      await trx
        .insertInto('sync_variables')
        .values(values.slice(i, i + BATCH))
        .execute();
  }

  async function loadDigestKey(): Promise<Buffer> {
    const read = async () => {
      const row = await db.selectFrom('runner_secrets').select(['id', 'value']).where('id', '=', DIGEST_KEY_ID).executeTakeFirst();
      return row && Buffer.from(await crypto.decrypt(row.value, { ...RUNNER_SECRET, rowId: row.id }), 'base64url');
    };
    const existing = await read();
    if (existing) return existing;
    const fresh = randomBytes(32).toString('base64url');
    // Two runner replicas may race here: the first insert wins and both read it back.
    await db
      .insertInto('runner_secrets')
      .values({
        id: DIGEST_KEY_ID,
        value: crypto.encrypt(fresh, { ...RUNNER_SECRET, rowId: DIGEST_KEY_ID }),
        created_at: now().toISOString(),
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    const stored = await read();
    if (!stored) throw new Error('the sync digest key could not be stored');
    return stored;
  }

  return {
    async declared(syncId: string): Promise<DeclaredVariable[]> {
      const found = await db
        .selectFrom('sync_variables')
        .select(['name', 'is_secret'])
        .where('sync_id', '=', syncId)
        .orderBy('name_key')
        .execute();
      return found.map((r) => ({ name: r.name, isSecret: r.is_secret === 1 }));
    },

    /** The set with its values, decrypted. */
    async variables(syncId: string): Promise<SyncVariable[]> {
      const found = await db.selectFrom('sync_variables').selectAll().where('sync_id', '=', syncId).orderBy('name_key').execute();
      const out: SyncVariable[] = [];
      for (const r of found)
        out.push({ name: r.name, isSecret: r.is_secret === 1, value: await crypto.decrypt(r.value, { ...VALUE, rowId: r.id }) });
      return out;
    },

    async replace(syncId: string, variables: readonly SyncVariable[]): Promise<void> {
      const values = rows(syncId, variables, now().toISOString());
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('sync_variables').where('sync_id', '=', syncId).execute();
        await insertAll(trx, values);
      });
    },

    async merge(syncId: string, set: readonly SyncVariable[], remove: readonly string[]): Promise<void> {
      const values = rows(syncId, set, now().toISOString());
      const drop = [...new Set([...set.map((v) => nameKey(v.name)), ...remove.map(nameKey)])];
      await db.transaction().execute(async (trx) => {
        for (let i = 0; i < drop.length; i += BATCH) {
          await trx
            .deleteFrom('sync_variables')
            .where('sync_id', '=', syncId)
            .where('name_key', 'in', drop.slice(i, i + BATCH))
            .execute();
        }
        await insertAll(trx, values);
      });
    },

    async state(syncId: string): Promise<SyncState | undefined> {
      const row = await db.selectFrom('sync_states').selectAll().where('sync_id', '=', syncId).executeTakeFirst();
      if (!row) return undefined;
      return {
        syncId,
        target: JSON.parse(row.target) as SyncState['target'],
        projectId: row.project_id,
        groupId: row.group_id,
        owned: JSON.parse(row.owned) as string[],
        digests: JSON.parse(row.digests) as Record<string, string>,
        groupOrigin: row.group_origin === 'created' || row.group_origin === 'adopted' ? row.group_origin : null,
        written: JSON.parse(row.written) as string[],
      };
    },

    async saveState(state: SyncState): Promise<void> {
      const values = {
        target: JSON.stringify(state.target),
        project_id: state.projectId,
        group_id: state.groupId,
        owned: JSON.stringify(state.owned),
        digests: JSON.stringify(state.digests),
        group_origin: state.groupOrigin,
        written: JSON.stringify(state.written),
        updated_at: now().toISOString(),
      };
      await db
        .insertInto('sync_states')
        .values({ sync_id: state.syncId, ...values })
        .onConflict((oc) => oc.column('sync_id').doUpdateSet(values))
        .execute();
    },

    async forget(syncId: string): Promise<void> {
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('sync_variables').where('sync_id', '=', syncId).execute();
        await trx.deleteFrom('sync_states').where('sync_id', '=', syncId).execute();
      });
    },

    /**
     * HMAC-SHA256 of a secret value under a key only this runner holds, bound to the sync and the
     * name: Azure DevOps never returns secret values, so "unchanged" means "same digest as written".
     */
    async digest(syncId: string, name: string, value: string): Promise<string> {
      digestKey ??= loadDigestKey().catch((err: unknown) => {
        digestKey = undefined;
        throw err;
      });
      const key = await digestKey;
      return createHmac('sha256', key)
        .update(`${syncId}\u0000${nameKey(name)}\u0000${value}`, 'utf8')
        .digest('base64url');
    },
  };
}

export type SyncStore = ReturnType<typeof createSyncStore>;
