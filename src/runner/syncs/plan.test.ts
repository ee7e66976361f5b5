import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { planVariableGroupSync } from './plan.ts';
import type { CurrentVariable, DesiredVariable, VariableGroupSyncPlan } from './plan.ts';

const d = (name: string, value: string, isSecret = false): DesiredVariable =>
  isSecret ? { name, value, isSecret, digest: `dg(${value})` } : { name, value, isSecret };
const plain = (value: string): CurrentVariable => ({ value, isSecret: false });
const secret = (): CurrentVariable => ({ value: null, isSecret: true });

describe('planVariableGroupSync', () => {
  it('a missing group is created with every variable, all owned, secrets with their values and digests', () => {
    const plan = planVariableGroupSync(null, [d('A', '1'), d('S', 'hush', true)], [], {});
    assert.equal(plan.action, 'create');
    assert.deepEqual(plan.variables, { A: { value: '1', isSecret: false }, S: { value: 'hush', isSecret: true } });
    assert.deepEqual(plan.created, ['A', 'S']);
    assert.deepEqual(plan.owned, ['a', 's']);
    assert.deepEqual(plan.digests, { s: 'dg(hush)' });
  });

  it('a missing group with an empty set is not created', () => {
    const plan = planVariableGroupSync(null, [], ['x'], {});
    assert.equal(plan.action, 'none');
    assert.deepEqual(plan.owned, []);
    assert.deepEqual(plan.variables, {});
  });

  it('nothing changed: no write, everything unchanged (secrets compared by digest)', () => {
    const plan = planVariableGroupSync({ A: plain('1'), S: secret() }, [d('A', '1'), d('S', 'hush', true)], ['a', 's'], { s: 'dg(hush)' });
    assert.equal(plan.action, 'none');
    assert.deepEqual(plan.unchanged, ['A', 'S']);
    assert.deepEqual(plan.variables, {});
    assert.deepEqual(plan.owned, ['a', 's']);
    assert.deepEqual(plan.digests, { s: 'dg(hush)' });
  });

  it('one plain change: one update that re-sends every managed secret with its value', () => {
    const plan = planVariableGroupSync({ A: plain('1'), S: secret() }, [d('A', '2'), d('S', 'hush', true)], ['a', 's'], { s: 'dg(hush)' });
    assert.equal(plan.action, 'update');
    assert.deepEqual(plan.updated, ['A']);
    assert.deepEqual(plan.unchanged, ['S']);
    assert.deepEqual(plan.variables.S, { value: 'hush', isSecret: true });
  });

  it('a secret whose digest differs, or was never recorded, is updated', () => {
    assert.deepEqual(planVariableGroupSync({ S: secret() }, [d('S', 'new', true)], ['s'], { s: 'dg(old)' }).updated, ['S']);
    assert.deepEqual(planVariableGroupSync({ S: secret() }, [d('S', 'new', true)], ['s'], {}).updated, ['S']);
  });

  it('flipping the secret flag either way is an update', () => {
    assert.deepEqual(planVariableGroupSync({ A: plain('1') }, [d('A', '1', true)], ['a'], {}).updated, ['A']);
    const toPlain = planVariableGroupSync({ S: secret() }, [d('S', 'v')], ['s'], { s: 'dg(v)' });
    assert.deepEqual(toPlain.updated, ['S']);
    assert.deepEqual(toPlain.digests, {}, 'a variable that is no longer secret keeps no digest');
  });

  it('removes only variables the sync created; foreign variables are sent back untouched', () => {
    const plan = planVariableGroupSync(
      { Mine: plain('1'), Theirs: plain('t'), TheirSecret: secret(), Locked: { value: 'l', isSecret: false, isReadOnly: true } },
      [],
      ['mine'],
      {},
    );
    assert.equal(plan.action, 'update');
    assert.deepEqual(plan.deleted, ['Mine']);
    assert.deepEqual(plan.foreign.sort(), ['Locked', 'TheirSecret', 'Theirs']);
    assert.deepEqual(plan.variables, {
      Theirs: { value: 't', isSecret: false },
      TheirSecret: { value: null, isSecret: true },
      Locked: { value: 'l', isSecret: false, isReadOnly: true },
    });
    assert.deepEqual(plan.owned, []);
  });

  it('foreign variables alone never cause a write', () => {
    const plan = planVariableGroupSync({ A: plain('1'), Theirs: plain('t') }, [d('A', '1')], ['a'], {});
    assert.equal(plan.action, 'none');
    assert.deepEqual(plan.foreign, ['Theirs']);
  });

  it('a variable Keyway did not write is a conflict: nothing is written and the state stays', () => {
    const plan = planVariableGroupSync(
      { DEPLOY_TARGET: plain('https://prod.example'), Other: secret() },
      [d('deploy_target', 'https://attacker.example'), d('NEW', '1')],
      ['x'],
      { x: 'dg(x)' },
    );
    assert.equal(plan.action, 'none');
    assert.deepEqual(plan.conflicts, ['DEPLOY_TARGET']);
    assert.deepEqual(plan.variables, {});
    assert.deepEqual(plan.created, []);
    assert.deepEqual(plan.owned, ['x']);
    assert.deepEqual(plan.digests, { x: 'dg(x)' });
    // A secret Keyway did not write is as protected as a plain one.
    assert.deepEqual(planVariableGroupSync({ S: secret() }, [d('S', 'mine', true)], [], {}).conflicts, ['S']);
  });

  it('a variable an owner allowed to take over is updated, counted as written, and never deleted', () => {
    const first = planVariableGroupSync({ Shared: plain('old') }, [d('Shared', 'new')], [], {}, { takeOver: ['SHARED'] });
    assert.deepEqual(first.conflicts, []);
    assert.deepEqual(first.updated, ['Shared']);
    assert.deepEqual(first.owned, []);
    assert.deepEqual(first.written, ['shared']);
    // Written once, it stays Keyway's to update while it is in the set, even without the consent.
    const again = planVariableGroupSync({ Shared: plain('new') }, [d('Shared', 'newer')], first.owned, {}, { written: first.written });
    assert.deepEqual(again.updated, ['Shared']);
    const removed = planVariableGroupSync({ Shared: plain('new') }, [], first.owned, {}, { written: first.written });
    assert.deepEqual(removed.deleted, []);
    assert.deepEqual(removed.foreign, ['Shared']);
    assert.equal(removed.action, 'none');
    assert.deepEqual(removed.written, [], 'once out of the set it is foreign again');
  });

  it('an owned variable deleted in Azure DevOps by someone is created again; one gone and removed is forgotten', () => {
    const plan = planVariableGroupSync({ B: plain('b') }, [d('A', '1'), d('B', 'b')], ['a', 'b', 'gone'], {});
    assert.deepEqual(plan.created, ['A']);
    assert.deepEqual(plan.owned, ['a', 'b']);
  });

  it('names match ignoring case; a case-only rename is an update, not a delete and create', () => {
    const plan = planVariableGroupSync({ api_url: plain('x') }, [d('API_URL', 'x')], ['api_url'], {});
    assert.deepEqual(plan.updated, ['API_URL']);
    assert.deepEqual(plan.deleted, []);
    assert.deepEqual(Object.keys(plan.variables), ['API_URL']);
    assert.deepEqual(plan.owned, ['api_url']);
  });

  it('keeps isReadOnly on a managed variable Azure DevOps marks read-only', () => {
    const plan = planVariableGroupSync({ A: { value: '1', isSecret: false, isReadOnly: true } }, [d('A', '2')], ['a'], {});
    assert.deepEqual(plan.variables.A, { value: '2', isSecret: false, isReadOnly: true });
  });

  it('treats an absent value of a plain variable as empty', () => {
    assert.equal(planVariableGroupSync({ A: { isSecret: false } }, [d('A', '')], ['a'], {}).action, 'none');
  });

  it('refuses a set with duplicate names or a secret without digest', () => {
    assert.throws(() => planVariableGroupSync(null, [d('A', '1'), d('a', '2')], [], {}), /appears twice/);
    assert.throws(() => planVariableGroupSync(null, [{ name: 'S', value: 'x', isSecret: true }], [], {}), /needs a digest/);
  });

  it('counts add up: every desired name is created, updated or unchanged; every current name is kept, managed or deleted', () => {
    const plan = planVariableGroupSync(
      { A: plain('1'), B: plain('2'), C: plain('3'), X: plain('x') },
      [d('A', '1'), d('B', '9'), d('D', '4')],
      ['a', 'b', 'c'],
      {},
    );
    assert.deepEqual(
      { created: plan.created, updated: plan.updated, deleted: plan.deleted, unchanged: plan.unchanged, foreign: plan.foreign },
      { created: ['D'], updated: ['B'], deleted: ['C'], unchanged: ['A'], foreign: ['X'] },
    );
  });

  it('property: carrying out a plan converges (the next plan writes nothing), keeps foreign variables and secrets', () => {
    // A model of the service: a write replaces the group; a secret sent back as null keeps its value
    // (the emulator's reading, unconfirmed); reads return secrets as null.
    type Stored = Map<string, { name: string; value: string | null; isSecret: boolean }>;
    const read = (stored: Stored | null): Record<string, CurrentVariable> | null =>
      stored && Object.fromEntries([...stored.values()].map((v) => [v.name, { value: v.isSecret ? null : v.value, isSecret: v.isSecret }]));
    const write = (stored: Stored | null, plan: VariableGroupSyncPlan): Stored | null => {
      if (plan.action === 'none') return stored;
      const next: Stored = new Map();
      for (const [name, v] of Object.entries(plan.variables)) {
        const before = stored?.get(name.toLowerCase());
        next.set(name.toLowerCase(), {
          name,
          value: v.value ?? (v.isSecret && before?.isSecret ? before.value : null),
          isSecret: v.isSecret,
        });
      }
      return next;
    };
    const name = fc.constantFrom('A', 'b', 'C_1', 'd.x', 'E-2', 'F');
    const variable = fc.record({ name, value: fc.constantFrom('', '1', '2', 'zz'), isSecret: fc.boolean() });
    const set = fc.uniqueArray(variable, { selector: (v) => v.name.toLowerCase(), maxLength: 5 });
    // Foreign names may collide with the set's ('F'): without an owner's consent such a plan writes nothing.
    const foreignSet = fc.uniqueArray(
      fc.record({ name: fc.constantFrom('Theirs', 'Other', 'Z9', 'F'), value: fc.constantFrom('t', 'u'), isSecret: fc.boolean() }),
      { selector: (v) => v.name, maxLength: 3 },
    );

    fc.assert(
      fc.property(foreignSet, fc.array(set, { minLength: 1, maxLength: 4 }), (foreign, sets) => {
        let stored: Stored | null = foreign.length ? new Map(foreign.map((v) => [v.name.toLowerCase(), { ...v }])) : null;
        let owned: string[] = [];
        let written: string[] = [];
        let digests: Record<string, string> = {};
        for (const s of sets) {
          const desired = s.map((v) => d(v.name, v.value, v.isSecret));
          const before = stored && new Map([...stored].map(([k, v]) => [k, { ...v }]));
          const plan = planVariableGroupSync(read(stored), desired, owned, digests, { written });
          if (plan.conflicts.length > 0) {
            // A foreign variable is named: nothing is written at all.
            assert.equal(plan.action, 'none');
            assert.ok(
              plan.conflicts.every((c) => foreign.some((f) => f.name === c) && s.some((v) => v.name.toLowerCase() === c.toLowerCase())),
            );
            assert.deepEqual(write(stored, plan), before);
            continue;
          }
          stored = write(stored, plan);
          owned = plan.owned;
          written = plan.written;
          digests = plan.digests;
          // Every managed variable holds exactly its desired value and flag.
          for (const v of s) {
            const got = stored?.get(v.name.toLowerCase());
            assert.deepEqual(got && { value: got.value, isSecret: got.isSecret }, { value: v.value, isSecret: v.isSecret });
          }
          // Foreign variables the set does not name are exactly as they were.
          for (const f of foreign) {
            if (s.some((v) => v.name.toLowerCase() === f.name.toLowerCase())) continue;
            if (!stored) continue;
            assert.deepEqual(stored.get(f.name.toLowerCase()), { ...f });
          }
          const again = planVariableGroupSync(read(stored), desired, owned, digests, { written });
          assert.equal(again.action, 'none', 'a second run writes nothing');
        }
      }),
      { numRuns: 300 },
    );
  });
});
