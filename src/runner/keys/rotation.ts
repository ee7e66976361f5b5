import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { needsReencryption, reencrypt } from '../../crypto/index.ts';
import type { Keyring } from '../../crypto/index.ts';
import { ENCRYPTED_COLUMNS } from '../../db/runner-schema.ts';
import type { RunnerDB } from '../../db/runner-schema.ts';

export interface RotationProgress {
  table: string;
  column: string;
  reencrypted: number;
  skipped: number;
}

/**
 * Re-encrypts every value not under the keyring's primary key, in batches, while the service keeps
 * serving. Each row is rewritten with a compare-and-set on its old ciphertext: if the service
 * rewrote the row meanwhile (it encrypts under the primary key already), the update matches
 * nothing and the row is left as the service wrote it.
 */
export async function reencryptAll(
  db: Kysely<RunnerDB>,
  keyring: Keyring,
  options: { batchSize?: number; onBatch?: (p: RotationProgress) => void } = {},
): Promise<RotationProgress[]> {
  const batchSize = options.batchSize ?? 500;
  const results: RotationProgress[] = [];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- table and column names come from ENCRYPTED_COLUMNS, not from input
  const anyDb = db as unknown as Kysely<any>;
  for (const { table, idColumn, column } of ENCRYPTED_COLUMNS) {
    const progress: RotationProgress = { table, column, reencrypted: 0, skipped: 0 };
    const primaryPrefix = `kw1.${keyring.primaryId}.`;
    let after = '';
    for (;;) {
      const rows: { id: string; value: string }[] = await anyDb
        .selectFrom(table)
        .select([sql<string>`${sql.ref(idColumn)}`.as('id'), sql<string>`${sql.ref(column)}`.as('value')])
        .where(sql.ref(idColumn), '>', after)
        .where(sql.ref(column), 'not like', `${primaryPrefix}%`)
        .orderBy(sql.ref(idColumn))
        .limit(batchSize)
        .execute();
      if (rows.length === 0) break;
      for (const row of rows) {
        after = row.id;
        if (!needsReencryption(keyring, row.value)) continue;
        const next = reencrypt(keyring, row.value, { table, column, rowId: row.id });
        const result = await anyDb
          .updateTable(table)
          .set({ [column]: next })
          .where(sql.ref(idColumn), '=', row.id)
          .where(sql.ref(column), '=', row.value)
          .executeTakeFirst();
        if (Number(result.numUpdatedRows) === 1) progress.reencrypted++;
        else progress.skipped++;
      }
      options.onBatch?.({ ...progress });
    }
    results.push(progress);
  }
  return results;
}
