import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AUDIT_ACTIONS, AUDIT_ACTION_GROUPS, AUDIT_TARGET_TYPES, actionGroup } from './actions.ts';
import type { AuditAction, AuditActionGroup } from './actions.ts';
import { RUNNER_EVENT_ACTIONS } from '../../control/runner-events.ts';
import type { RunnerEventAction } from '../../control/runner-events.ts';

// The lists the API validates filters against and the UI offers must be what the code records.
// This reads the management plane's (and the operator commands') source for `action: 'group.verb'` and `target: { type: '…' }`.

const MANAGEMENT = fileURLToPath(new URL('..', import.meta.url));
// The operator commands write to the same log from the command line.
const CLI = fileURLToPath(new URL('../../cli', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

// Compile-time halves of the checks below: an action whose group is not listed, or a runner event
// the log does not name, makes these types `never` and the assignments fail to compile.
type GroupOf<A> = A extends `${infer G}.${string}` ? G : never;
const groupsListed: GroupOf<AuditAction> extends AuditActionGroup ? true : never = true;
const runnerEventsListed: RunnerEventAction extends AuditAction ? true : never = true;

function recorded(): { actions: Set<string>; targets: Set<string> } {
  const actions = new Set<string>();
  const targets = new Set<string>();
  for (const file of [...sources(MANAGEMENT), ...sources(CLI)]) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\baction: '([a-z_]+\.[a-z_.]+)'/g)) actions.add(m[1]!);
    for (const m of text.matchAll(/\btarget\s*[:=]\s*\{\s*type:\s*'([a-z_]+)'/g)) targets.add(m[1]!);
  }
  return { actions, targets };
}

describe('audit vocabulary', () => {
  it('names every action and target type the management plane records', () => {
    const { actions, targets } = recorded();
    assert.ok(actions.size >= 40, `found ${actions.size} actions: the scan still finds the audit calls`);
    const unnamed = [...actions].filter((a) => !(AUDIT_ACTIONS as readonly string[]).includes(a));
    assert.deepEqual(unnamed, [], 'AUDIT_ACTIONS in src/management/audit/actions.ts');
    assert.deepEqual([...AUDIT_TARGET_TYPES], [...targets].sort(), 'AUDIT_TARGET_TYPES in src/management/audit/actions.ts');
  });

  it('lists actions sorted, and exactly their groups', () => {
    assert.ok(groupsListed && runnerEventsListed);
    assert.deepEqual([...AUDIT_ACTIONS], [...AUDIT_ACTIONS].sort());
    assert.deepEqual([...AUDIT_ACTION_GROUPS], [...new Set(AUDIT_ACTIONS.map(actionGroup))].sort());
    for (const action of RUNNER_EVENT_ACTIONS) assert.ok((AUDIT_ACTIONS as readonly string[]).includes(action), action);
  });

  it('takes the group from before the first dot', () => {
    assert.equal(actionGroup('project.member.set'), 'project');
    assert.equal(actionGroup('scm_integration.update'), 'scm_integration');
    assert.equal(actionGroup('plain'), 'plain');
  });
});
