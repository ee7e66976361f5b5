// Which Azure DevOps variable groups project members may point a sync at (issue 15). A sync writes
// with the app connection's rights, which usually reach every group of an organization: letting any
// project member pick the target would let them rewrite another team's pipeline variables. So
// creating or retargeting a sync is a project owner's action, unless the connection pins targets
// for members: organization, project and optionally a group name pattern (`*` matches any run of
// characters). Pure functions; the sync service applies them.
import { badRequest } from '../../http/errors.ts';

export interface MemberTarget {
  organization: string;
  project: string;
  /** `*` wildcards, matched ignoring case against the whole name; null: any group of the project. */
  groupPattern: string | null;
}

export interface MemberTargetInput {
  organization?: string | undefined;
  project: string;
  groupPattern?: string | null | undefined;
}

export interface SyncTargetName {
  organization: string;
  project: string;
  groupName: string;
}

export const MAX_MEMBER_TARGETS = 50;
const ADO_ORGANIZATION = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,48}[A-Za-z0-9])?$/;

/** Azure DevOps compares organization, project and group names ignoring case. */
const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

export function parseMemberTargets(json: string | null): MemberTarget[] | null {
  if (json === null) return null;
  const parsed = JSON.parse(json) as MemberTarget[];
  return Array.isArray(parsed) ? parsed : null;
}

/**
 * Checks what an owner entered. An omitted organization is the connection's; errors name the entry
 * (`memberTargets.2.project`). An empty list means "members may target nothing" and is kept as such.
 */
export function checkMemberTargets(input: readonly MemberTargetInput[], connectionOrganization: string | null): MemberTarget[] {
  if (input.length > MAX_MEMBER_TARGETS)
    throw badRequest('too_many_targets', `at most ${MAX_MEMBER_TARGETS} member targets per connection`, 'memberTargets');
  return input.map((t, i) => {
    const organization = (t.organization ?? connectionOrganization ?? '').trim();
    if (!organization)
      throw badRequest(
        'organization_required',
        `memberTargets[${i}] needs an organization: the connection names none`,
        `memberTargets.${i}.organization`,
      );
    if (!ADO_ORGANIZATION.test(organization))
      throw badRequest(
        'invalid_organization',
        `memberTargets[${i}].organization must be the name in dev.azure.com/{organization}`,
        `memberTargets.${i}.organization`,
      );
    const project = t.project.trim();
    if (!project || project.length > 200 || project.includes('*'))
      throw badRequest(
        'invalid_project',
        `memberTargets[${i}].project must name one Azure DevOps project (no wildcards)`,
        `memberTargets.${i}.project`,
      );
    const pattern = t.groupPattern?.trim() || null;
    if (pattern !== null && pattern.length > 200) {
      throw badRequest(
        'invalid_group_pattern',
        `memberTargets[${i}].groupPattern: up to 200 characters, * for any run of characters (omit it for any group)`,
        `memberTargets.${i}.groupPattern`,
      );
    }
    // "*" alone is the same as no pattern.
    return { organization, project, groupPattern: pattern === null || /^\*+$/.test(pattern) ? null : pattern };
  });
}

export function groupPatternMatches(pattern: string | null, groupName: string): boolean {
  if (pattern === null) return true;
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`, 'is').test(groupName);
}

export function allowsTarget(targets: readonly MemberTarget[] | null, target: SyncTargetName): boolean {
  return (targets ?? []).some(
    (t) =>
      same(t.organization, target.organization) && same(t.project, target.project) && groupPatternMatches(t.groupPattern, target.groupName),
  );
}

/** For refusals: what members may target, in words. */
export function describeTargets(targets: readonly MemberTarget[]): string {
  return targets
    .slice(0, 10)
    .map((t) => `${t.organization}/${t.project}/${t.groupPattern ?? '*'}`)
    .join(', ');
}

export const sameTarget = (a: SyncTargetName, b: SyncTargetName): boolean =>
  same(a.organization, b.organization) && same(a.project, b.project) && same(a.groupName, b.groupName);
