import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AUDIT_ACTION_GROUPS, AUDIT_TARGET_TYPES, actionGroup } from './actions.ts';

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

function recorded(): { groups: Set<string>; targets: Set<string> } {
  const groups = new Set<string>();
  const targets = new Set<string>();
  for (const file of [...sources(MANAGEMENT), ...sources(CLI)]) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\baction: '([a-z_]+\.[a-z_.]+)'/g)) groups.add(actionGroup(m[1]!));
    for (const m of text.matchAll(/\btarget\s*[:=]\s*\{\s*type:\s*'([a-z_]+)'/g)) targets.add(m[1]!);
  }
  return { groups, targets };
}

describe('audit vocabulary', () => {
  it('names exactly the action groups and target types the management plane records', () => {
    const { groups, targets } = recorded();
    assert.ok(groups.size >= 10, `found ${groups.size} groups: the scan still finds the audit calls`);
    assert.deepEqual([...AUDIT_ACTION_GROUPS], [...groups].sort(), 'AUDIT_ACTION_GROUPS in src/management/audit/actions.ts');
    assert.deepEqual([...AUDIT_TARGET_TYPES], [...targets].sort(), 'AUDIT_TARGET_TYPES in src/management/audit/actions.ts');
  });

  it('takes the group from before the first dot', () => {
    assert.equal(actionGroup('project.member.set'), 'project');
    assert.equal(actionGroup('scm_integration.update'), 'scm_integration');
    assert.equal(actionGroup('plain'), 'plain');
  });
});
