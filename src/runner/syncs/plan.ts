// What a variable group sync has to write: a pure diff between the group as Azure DevOps returns it
// and the variable set the project manages. No I/O; the executor (./executor.ts) does the requests.
//
// Rules (issue 6):
// - Azure DevOps PUT replaces the whole group, so one write carries every variable: the managed
//   ones, and the foreign ones (not in the set, not created by the sync) exactly as they are.
// - Variable names are case-insensitive in Azure DevOps; names are matched ignoring case, and a
//   case-only rename counts as an update.
// - Secret values come back as null (docs/azure-devops.md, "Variable groups"), so a secret is
//   unchanged only when Azure DevOps still marks it secret and the digest of the value the sync last
//   wrote equals the digest of the value it wants now. Any write re-sends every managed secret with
//   its value: whether the service keeps a secret sent back as `value: null` is unconfirmed (the
//   emulator keeps it, as the web UI's round-trip suggests), so the sync never relies on that for its
//   own.
// - Only variables the sync created are deleted when they leave the set. Foreign secrets are sent
//   back as `value: null` (the only way to keep them; unconfirmed, as above).
// - Keyway changes only variables it wrote (issue 15): one that was in the group before Keyway
//   wrote it is a conflict, and nothing is written, unless a project owner allowed taking it over
//   (`takeOver`). A variable taken over is updated but never deleted.

export interface CurrentVariable {
  value?: string | null;
  isSecret?: boolean;
  isReadOnly?: boolean;
}

export interface DesiredVariable {
  name: string;
  value: string;
  isSecret: boolean;
  /** Required for secrets: digest of `value` (HMAC with a runner-held key), compared with the stored one. */
  digest?: string;
}

export interface GroupVariableBody {
  value: string | null;
  isSecret: boolean;
  isReadOnly?: boolean;
}

export interface VariableGroupSyncPlan {
  /** `create`: POST a new group; `update`: PUT the whole group once; `none`: write nothing. */
  action: 'create' | 'update' | 'none';
  /** The group's complete variables for the write; empty for `none`. */
  variables: Record<string, GroupVariableBody>;
  /** Names (as the set spells them) added to the group. */
  created: string[];
  /** Names whose value, secret flag or spelling changes. */
  updated: string[];
  /** Names removed from the group (the sync created them and they left the set). */
  deleted: string[];
  unchanged: string[];
  /** Names in the group the sync leaves alone. */
  foreign: string[];
  /** Lower-cased names the sync owns once the plan is carried out. */
  owned: string[];
  /** name_key → digest of every managed secret once the plan is carried out. */
  digests: Record<string, string>;
  /** Lower-cased names Keyway has written once the plan is carried out (created or taken over). */
  written: string[];
  /**
   * Names (as the group spells them) the set names but Keyway did not write and may not take over.
   * When there is any, the plan writes nothing (`action: 'none'`) and keeps the previous state.
   */
  conflicts: string[];
}

/** The part of a plan that says what is written to the group: here, nothing. */
function noWrite(): Pick<VariableGroupSyncPlan, 'action' | 'variables' | 'created' | 'updated' | 'deleted' | 'unchanged'> {
  return { action: 'none', variables: {}, created: [], updated: [], deleted: [], unchanged: [] };
}

export interface PlanOptions {
  /** Lower-cased names Keyway wrote into the group on earlier runs. Default: `owned`. */
  written?: Iterable<string>;
  /** Names of variables Keyway did not write that a project owner allowed it to overwrite. */
  takeOver?: Iterable<string>;
}

export const nameKey = (name: string): string => name.toLowerCase();

/**
 * @param current the group's variables as Azure DevOps returns them, or null when the group does not exist
 * @param desired the variable set (values included)
 * @param owned lower-cased names the sync created earlier
 * @param secretDigests name_key → digest of the secret value the sync last wrote
 */
export function planVariableGroupSync(
  current: Readonly<Record<string, CurrentVariable>> | null,
  desired: readonly DesiredVariable[],
  owned: Iterable<string>,
  secretDigests: Readonly<Record<string, string>>,
  options: PlanOptions = {},
): VariableGroupSyncPlan {
  const ownedBefore = new Set([...owned].map(nameKey));
  const writtenBefore = new Set([...(options.written ?? ownedBefore)].map(nameKey));
  const takeOver = new Set([...(options.takeOver ?? [])].map(nameKey));
  const currentByKey = new Map<string, { name: string; variable: CurrentVariable }>();
  for (const [name, variable] of Object.entries(current ?? {})) {
    const key = nameKey(name);
    if (!currentByKey.has(key)) currentByKey.set(key, { name, variable: variable ?? {} });
  }

  const plan: VariableGroupSyncPlan = {
    ...noWrite(),
    foreign: [],
    owned: [],
    digests: {},
    written: [],
    conflicts: [],
  };
  const desiredKeys = new Set<string>();
  const ownedAfter = new Set<string>();

  for (const d of desired) {
    const key = nameKey(d.name);
    if (desiredKeys.has(key)) throw new TypeError(`variable "${d.name}" appears twice in the set (names are case-insensitive)`);
    desiredKeys.add(key);
    if (d.isSecret && !d.digest) throw new TypeError(`secret variable "${d.name}" needs a digest`);
    const found = currentByKey.get(key);
    const body: GroupVariableBody = { value: d.value, isSecret: d.isSecret };
    if (found?.variable.isReadOnly) body.isReadOnly = true;
    plan.variables[d.name] = body;
    if (d.isSecret && d.digest) plan.digests[key] = d.digest;

    if (!found) {
      plan.created.push(d.name);
      ownedAfter.add(key);
      continue;
    }
    if (!ownedBefore.has(key) && !writtenBefore.has(key) && !takeOver.has(key)) {
      plan.conflicts.push(found.name);
      continue;
    }
    if (ownedBefore.has(key)) ownedAfter.add(key);
    const cur = found.variable;
    const same =
      found.name === d.name &&
      (d.isSecret ? cur.isSecret === true && secretDigests[key] === d.digest : cur.isSecret !== true && (cur.value ?? '') === d.value);
    (same ? plan.unchanged : plan.updated).push(d.name);
  }

  for (const [key, { name, variable }] of currentByKey) {
    if (desiredKeys.has(key)) continue;
    if (ownedBefore.has(key)) {
      plan.deleted.push(name);
      continue;
    }
    plan.foreign.push(name);
    const body: GroupVariableBody = { value: variable.isSecret ? null : (variable.value ?? ''), isSecret: variable.isSecret === true };
    if (variable.isReadOnly) body.isReadOnly = true;
    plan.variables[name] = body;
  }

  if (plan.conflicts.length > 0) {
    // Nothing is written and nothing is learnt: the state stays as it was.
    return {
      ...plan,
      ...noWrite(),
      owned: [...ownedBefore].sort(),
      written: [...writtenBefore].sort(),
      digests: { ...secretDigests },
    };
  }
  plan.owned = [...ownedAfter].sort();
  plan.written = [...desiredKeys].sort();
  if (current === null) {
    // A group with no variable at all is not worth creating (and the service may refuse one).
    plan.action = desired.length > 0 ? 'create' : 'none';
  } else {
    plan.action = plan.created.length + plan.updated.length + plan.deleted.length > 0 ? 'update' : 'none';
  }
  if (plan.action === 'none') plan.variables = {};
  return plan;
}
