// The vocabulary of the audit log: what the code records, so the API can validate a filter against it
// and the web UI can offer it. Plain values with no imports: the web bundle imports this module too.
// actions.test.ts reads the source for every action and target type recorded and checks these lists
// against it, so a new group or type fails a test until it is named here.

/**
 * Action groups: the part of an action before its first dot (`scm_integration.update` is in
 * `scm_integration`). Sorted by name.
 */
export const AUDIT_ACTION_GROUPS = [
  'api_token',
  'app_connection',
  'authentication',
  'authorization',
  'environment',
  'invitation',
  'member',
  'operator',
  'organization',
  'project',
  'runner',
  'scm_integration',
  'session',
  'sync',
  'user',
] as const;

export type AuditActionGroup = (typeof AUDIT_ACTION_GROUPS)[number];

/**
 * Who an event's actor is: a signed-in user (`account` while their session is in no organization
 * yet), a runner, someone not (yet) authenticated, or Keyway itself (single sign-on, the operator
 * command line).
 */
export const AUDIT_ACTOR_TYPES = ['user', 'account', 'runner', 'anonymous', 'system'] as const;

export type AuditActorType = (typeof AUDIT_ACTOR_TYPES)[number];

/** The kinds of thing an event can be about. Sorted by name. */
export const AUDIT_TARGET_TYPES = [
  'api_token',
  'app_connection',
  'authorization',
  'environment',
  'invitation',
  'organization',
  'project',
  'route',
  'runner',
  'scm_integration',
  'session',
  'sso_binding',
  'sso_identity',
  'sync',
  'user',
] as const;

export type AuditTargetType = (typeof AUDIT_TARGET_TYPES)[number];

/** The group of an action: `runner.key_rotate` → `runner`. */
export function actionGroup(action: string): string {
  const dot = action.indexOf('.');
  return dot === -1 ? action : action.slice(0, dot);
}
