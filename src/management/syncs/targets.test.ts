import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../http/errors.ts';
import { allowsTarget, checkMemberTargets, groupPatternMatches, sameTarget } from './targets.ts';

describe('member targets of a connection', () => {
  it('group patterns match the whole name, ignoring case; * is any run of characters and nothing else is special', () => {
    assert.equal(groupPatternMatches('team-*', 'TEAM-a'), true);
    assert.equal(groupPatternMatches('team-*', 'team-'), true);
    assert.equal(groupPatternMatches('team-*', 'prod-team-a'), false, 'anchored at the start');
    assert.equal(groupPatternMatches('*-staging', 'web-staging-old'), false, 'anchored at the end');
    assert.equal(groupPatternMatches('a.b', 'axb'), false, 'a dot is a dot');
    assert.equal(groupPatternMatches('(x)+', '(x)+'), true);
    assert.equal(groupPatternMatches('(x)+', 'xx'), false);
    assert.equal(groupPatternMatches(null, 'anything'), true);
  });

  it('a target must match organization, project and pattern; none or null allows nothing', () => {
    const targets = checkMemberTargets(
      [
        { project: 'Web', groupPattern: 'team-*' },
        { organization: 'other', project: 'Api' },
      ],
      'contoso',
    );
    assert.deepEqual(targets, [
      { organization: 'contoso', project: 'Web', groupPattern: 'team-*' },
      { organization: 'other', project: 'Api', groupPattern: null },
    ]);
    assert.equal(allowsTarget(targets, { organization: 'CONTOSO', project: 'web', groupName: 'team-x' }), true);
    assert.equal(allowsTarget(targets, { organization: 'contoso', project: 'Web', groupName: 'prod-release' }), false);
    assert.equal(
      allowsTarget(targets, { organization: 'contoso', project: 'Api', groupName: 'team-x' }),
      false,
      'Api is allowed in other, not contoso',
    );
    assert.equal(allowsTarget(targets, { organization: 'other', project: 'Api', groupName: 'prod-release' }), true);
    assert.equal(allowsTarget(null, { organization: 'contoso', project: 'Web', groupName: 'team-x' }), false);
    assert.equal(allowsTarget([], { organization: 'contoso', project: 'Web', groupName: 'team-x' }), false);
    assert.deepEqual(
      checkMemberTargets([{ project: 'Web', groupPattern: '**' }], 'contoso')[0]?.groupPattern,
      null,
      '"*" alone is any group',
    );
  });

  it('refuses what cannot be a target, naming the entry', () => {
    const refused = (input: Parameters<typeof checkMemberTargets>[0], org: string | null, field: string) =>
      assert.throws(
        () => checkMemberTargets(input, org),
        (err: unknown) => err instanceof ApiError && err.statusCode === 400 && err.field === field,
      );
    refused([{ project: 'Web' }], null, 'memberTargets.0.organization');
    refused([{ project: 'Web' }, { organization: 'bad org', project: 'Web' }], 'contoso', 'memberTargets.1.organization');
    refused([{ project: 'Web*' }], 'contoso', 'memberTargets.0.project');
    refused([{ project: ' ' }], 'contoso', 'memberTargets.0.project');
    refused([{ project: 'Web', groupPattern: 'x'.repeat(201) }], 'contoso', 'memberTargets.0.groupPattern');
    refused(
      Array.from({ length: 51 }, () => ({ project: 'Web' })),
      'contoso',
      'memberTargets',
    );
  });

  it('targets compare ignoring case, as Azure DevOps names do', () => {
    assert.equal(
      sameTarget({ organization: 'A', project: 'B', groupName: 'C' }, { organization: 'a', project: 'b', groupName: 'c' }),
      true,
    );
    assert.equal(
      sameTarget({ organization: 'A', project: 'B', groupName: 'C' }, { organization: 'a', project: 'b', groupName: 'd' }),
      false,
    );
  });
});
