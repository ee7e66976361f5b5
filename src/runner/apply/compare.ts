import { createHash, timingSafeEqual } from 'node:crypto';
import { open } from '../../crypto/sealing.ts';
import { sealingContext } from '../../control/sealing-context.ts';
import { SEALED_COMPARISON_REQUEST } from '../../control/sealed-comparison.ts';
import type { SealedComparisonItem, SealedComparisonResult } from '../../control/sealed-comparison.ts';
import type { HandlerSet } from '../agent.ts';
import type { CredentialStore } from '../credentials/store.ts';
import type { SyncStore } from '../syncs/store.ts';

export interface SealedComparisonDeps {
  privateKey: string;
  credentials: Pick<CredentialStore, 'listForSubject' | 'readSecret'>;
  syncs: Pick<SyncStore, 'variables'>;
}

/** Equal texts, compared through their digests so the time taken says nothing about where they differ. */
function sameText(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

async function openOrUndefined(privateKey: string, sealed: string | null | undefined, aad: string): Promise<string | undefined> {
  if (!sealed) return undefined;
  try {
    return await open(privateKey, sealed, aad);
  } catch {
    return undefined;
  }
}

/**
 * Answers whether sealed candidates equal what this runner holds (an integration's client secret,
 * an app connection's PAT or client secret, a sync's variable values). Only the boolean leaves the
 * runner; a candidate that does not open for its record is "not the same", never an error that
 * could say why.
 */
export function createSealedComparisonHandler(deps: SealedComparisonDeps): HandlerSet<typeof SEALED_COMPARISON_REQUEST> {
  async function compare(item: SealedComparisonItem): Promise<boolean> {
    switch (item.kind) {
      case 'integration-client-secret': {
        const aad = sealingContext.integrationClientSecret(item.id);
        const [candidate, stored] = await Promise.all([
          openOrUndefined(deps.privateKey, item.sealed, aad),
          openOrUndefined(deps.privateKey, item.stored, aad),
        ]);
        return candidate !== undefined && stored !== undefined && sameText(candidate, stored);
      }
      case 'app-connection-secret': {
        const candidate = await openOrUndefined(deps.privateKey, item.sealed, sealingContext.appConnectionSecret(item.id));
        const records = await deps.credentials.listForSubject({ type: 'app-connection', id: item.id });
        const record = records[records.length - 1];
        const stored = record ? await deps.credentials.readSecret(record.id) : undefined;
        return candidate !== undefined && stored !== undefined && sameText(candidate, stored);
      }
      case 'sync-variables': {
        const text = await openOrUndefined(deps.privateKey, item.sealed, sealingContext.syncVariables(item.id));
        if (text === undefined) return false;
        let candidate: unknown;
        try {
          candidate = JSON.parse(text);
        } catch {
          return false;
        }
        if (!candidate || typeof candidate !== 'object' || Array.isArray(candidate)) return false;
        const wanted = candidate as Record<string, unknown>;
        const held = await deps.syncs.variables(item.id);
        if (held.length !== Object.keys(wanted).length) return false;
        // Every comparison runs, so the time taken does not tell which value differs.
        let same = true;
        for (const v of held) {
          const value = wanted[v.name];
          same = typeof value === 'string' && sameText(value, v.value) && same;
        }
        return same;
      }
    }
  }

  return {
    [SEALED_COMPARISON_REQUEST]: async ({ items }): Promise<SealedComparisonResult> => {
      const results: SealedComparisonResult['results'] = [];
      for (const item of items) {
        results.push({ kind: item.kind, id: item.id, same: await compare(item) });
      }
      return { results };
    },
  };
}
