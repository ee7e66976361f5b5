// What the runner holds for an app credential without secret (its certificates, its federated
// token's claims) is asked of the runner each time it is shown, and the answer kept. When the runner
// cannot be asked, the last answer is shown, marked stale; any other refusal stands.
import { ApiError } from '../../http/errors.ts';
import type { ClientCredentialState } from '../../control/client-credentials.ts';

export type DescribedCredential = ClientCredentialState & { stale?: boolean; staleReason?: string };

export async function describeOrLast(
  ask: () => Promise<ClientCredentialState>,
  last: string | null | undefined,
  keep: (state: string) => Promise<void>,
): Promise<DescribedCredential> {
  try {
    const state = await ask();
    await keep(JSON.stringify(state));
    return state;
  } catch (err) {
    if (!last || !(err instanceof ApiError) || !err.code.startsWith('runner_')) throw err;
    return {
      ...(JSON.parse(last) as ClientCredentialState),
      stale: true,
      staleReason: `${err.message}; this is what the runner said last`,
    };
  }
}
