import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateRunnerKeyPair, seal } from '../../crypto/sealing.ts';
import { sealingContext } from '../../control/sealing-context.ts';
import { SEALED_COMPARISON_REQUEST } from '../../control/sealed-comparison.ts';
import type { SealedComparisonItem, SealedComparisonResult } from '../../control/sealed-comparison.ts';
import type { ControlRequest } from '../../control/protocol.ts';
import { checkControlPayload } from '../../control/payload-check.ts';
import { createSealedComparisonHandler } from './compare.ts';

// The runner's answer to "is this sealed value what you hold?", with real sealing and in-memory
// stores holding what the runner's stores would hand back.
describe('sealed comparisons on the runner: true only for the same value of the same record, sealed to this runner', async () => {
  const runner = await generateRunnerKeyPair();
  const stranger = await generateRunnerKeyPair();
  const held = { conn_aaaaaaaa: 'pat-value-one' } as Record<string, string>;
  const variables = {
    sync_aaaaaaaa: [
      { name: 'A', isSecret: false, value: 'a' },
      { name: 'B', isSecret: true, value: 'b' },
    ],
  } as Record<string, { name: string; isSecret: boolean; value: string }[]>;
  const handler = createSealedComparisonHandler({
    privateKey: runner.privateKey,
    credentials: {
      listForSubject: async (subject) => (held[subject.id] ? [{ id: subject.id } as never] : []),
      readSecret: async (id) => held[id],
    },
    syncs: { variables: async (syncId) => variables[syncId] ?? [] },
  })[SEALED_COMPARISON_REQUEST]!;
  const ask = async (...items: SealedComparisonItem[]) =>
    ((await handler({ items }, {} as ControlRequest)) as SealedComparisonResult).results.map((r) => r.same);

  it('app connection credentials', async () => {
    const aad = sealingContext.appConnectionSecret('conn_aaaaaaaa');
    assert.deepEqual(
      await ask(
        { kind: 'app-connection-secret', id: 'conn_aaaaaaaa', sealed: await seal(runner.publicKey, 'pat-value-one', aad) },
        { kind: 'app-connection-secret', id: 'conn_aaaaaaaa', sealed: await seal(runner.publicKey, 'pat-value-two', aad) },
        // Sealed for another record, then presented for this one: does not open, so not the same.
        {
          kind: 'app-connection-secret',
          id: 'conn_aaaaaaaa',
          sealed: await seal(runner.publicKey, 'pat-value-one', sealingContext.appConnectionSecret('conn_bbbbbbbb')),
        },
        { kind: 'app-connection-secret', id: 'conn_aaaaaaaa', sealed: await seal(stranger.publicKey, 'pat-value-one', aad) },
        {
          kind: 'app-connection-secret',
          id: 'conn_nothing0',
          sealed: await seal(runner.publicKey, 'pat-value-one', sealingContext.appConnectionSecret('conn_nothing0')),
        },
      ),
      [true, false, false, false, false],
    );
  });

  it('sync variable sets: every name and value', async () => {
    const aad = sealingContext.syncVariables('sync_aaaaaaaa');
    const sealed = (values: unknown) => seal(runner.publicKey, JSON.stringify(values), aad);
    assert.deepEqual(
      await ask(
        { kind: 'sync-variables', id: 'sync_aaaaaaaa', sealed: await sealed({ B: 'b', A: 'a' }) },
        { kind: 'sync-variables', id: 'sync_aaaaaaaa', sealed: await sealed({ A: 'a', B: 'changed' }) },
        { kind: 'sync-variables', id: 'sync_aaaaaaaa', sealed: await sealed({ A: 'a', B: 'b', C: 'c' }) },
        { kind: 'sync-variables', id: 'sync_aaaaaaaa', sealed: await sealed({ A: 'a' }) },
        { kind: 'sync-variables', id: 'sync_aaaaaaaa', sealed: await sealed(['a', 'b']) },
      ),
      [true, false, false, false, false],
    );
  });

  it('integration client secrets: against the sealed copy the management plane keeps', async () => {
    const aad = sealingContext.integrationClientSecret('int_aaaaaaaa');
    const stored = await seal(runner.publicKey, 'client-secret-value', aad);
    assert.deepEqual(
      await ask(
        { kind: 'integration-client-secret', id: 'int_aaaaaaaa', sealed: await seal(runner.publicKey, 'client-secret-value', aad), stored },
        { kind: 'integration-client-secret', id: 'int_aaaaaaaa', sealed: await seal(runner.publicKey, 'another-secret', aad), stored },
        {
          kind: 'integration-client-secret',
          id: 'int_aaaaaaaa',
          sealed: await seal(runner.publicKey, 'client-secret-value', aad),
          stored: null,
        },
      ),
      [true, false, false],
    );
  });

  it('a malformed request is refused at the boundary, not guessed at', () => {
    const refusal = checkControlPayload(SEALED_COMPARISON_REQUEST, { items: [{ kind: 'password', id: 'x', sealed: 'y' }] });
    assert.equal(refusal?.code, 'invalid_request');
    assert.equal(refusal?.field, 'items.0.kind');
    assert.equal(checkControlPayload(SEALED_COMPARISON_REQUEST, {})?.code, 'invalid_request');
    const tooMany = Array.from({ length: 501 }, () => ({ kind: 'sync-variables', id: 'x', sealed: 'y' }));
    assert.match(checkControlPayload(SEALED_COMPARISON_REQUEST, { items: tooMany })?.message ?? '', /items/);
  });
});
