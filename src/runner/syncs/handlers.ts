import { open, UnsealError } from '../../crypto/sealing.ts';
import { SYNC_REQUESTS } from '../../control/app-connections.ts';
import { sealingContext } from '../../control/sealing-context.ts';
import type { StoreVariablesPayload, StoreVariablesResult } from '../../control/app-connections.ts';
import type { HandlerSet } from '../agent.ts';
import { HandlerError } from '../agent.ts';
import type { SyncExecutor } from './executor.ts';
import type { SyncStore, SyncVariable } from './store.ts';

export interface SyncHandlerDeps {
  privateKey: string;
  store: SyncStore;
  executor: SyncExecutor;
}

async function openValues(privateKey: string, payload: StoreVariablesPayload): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await open(privateKey, payload.sealedValues, sealingContext.syncVariables(payload.syncId));
  } catch (err) {
    if (err instanceof UnsealError && err.reason === 'wrong-recipient')
      throw new HandlerError(
        'sealed_for_another_key',
        'the values were sealed for another runner key: reload and enter them again',
        'sealedValues',
      );
    throw new HandlerError(
      'sealed_values_unusable',
      'the sealed values cannot be opened by this runner (they belong to another sync, or were altered)',
      'sealedValues',
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new HandlerError('invalid_values', 'the sealed values must be a JSON object of name → value', 'sealedValues');
  return parsed as Record<string, unknown>;
}

/** Variable sets and runs of variable group syncs, on the runner that holds the sync's connection. */
export function createSyncHandlers(deps: SyncHandlerDeps): HandlerSet<(typeof SYNC_REQUESTS)[keyof typeof SYNC_REQUESTS]> {
  return {
    [SYNC_REQUESTS.storeVariables]: async (payload): Promise<StoreVariablesResult> => {
      const values = await openValues(deps.privateKey, payload);
      // The sealed object must hold exactly the declared names: the flags the management plane keeps
      // and the values only the runner sees describe the same set.
      const declared = new Set(payload.variables.map((v) => v.name));
      const extra = Object.keys(values).filter((name) => !declared.has(name));
      if (extra.length > 0 || Object.keys(values).length !== declared.size) {
        throw new HandlerError(
          'variables_mismatch',
          'the sealed values do not match the declared variable names; send one value per declared variable',
        );
      }
      const set: SyncVariable[] = payload.variables.map((v) => {
        const value = values[v.name];
        if (typeof value !== 'string') throw new HandlerError('invalid_values', `the value of "${v.name}" must be a string`, 'variables');
        return { name: v.name, isSecret: v.isSecret === true, value };
      });
      if (payload.mode === 'replace') await deps.store.replace(payload.syncId, set);
      else await deps.store.merge(payload.syncId, set, payload.remove ?? []);
      return { variables: await deps.store.declared(payload.syncId) };
    },

    [SYNC_REQUESTS.run]: async (payload) => deps.executor.run(payload),

    [SYNC_REQUESTS.delete]: async ({ syncId }) => {
      await deps.store.forget(syncId);
      return { deleted: true };
    },
  };
}
