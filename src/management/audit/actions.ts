// The vocabulary of the audit log: what the code records, so the API can validate a filter against it
// and the web UI can offer it. Plain values with no imports: the web bundle imports this module too.
// actions.test.ts reads the source for every action and target type recorded and checks these lists
// against it, so a new group or type fails a test until it is named here.

/**
 * Every action the log records, sorted. `AuditEntry.action` is typed by this list, so recording an
 * action it does not name fails to compile. The runner's events are recorded as they come
 * (src/control/runner-events.ts): they are here too.
 */
export const AUDIT_ACTIONS = [
  'api_token.create',
  'api_token.revoke',
  'app_connection.certificate_prepare',
  'app_connection.create',
  'app_connection.delete',
  'app_connection.oauth_connect',
  'app_connection.oauth_start',
  'app_connection.test',
  'app_connection.update',
  'authentication.token_refused',
  'authorization.delete',
  'authorization.denied',
  'authorization.oauth_connect',
  'authorization.oauth_start',
  'authorization.pat_store',
  'client_certificate.next_prepared',
  'client_certificate.promoted',
  'credential.needs_reauthorization',
  'credential.refresh_failed',
  'credential.refreshed_early',
  'credential.rejected',
  'credentials.purged',
  'environment.create',
  'environment.delete',
  'invitation.accept',
  'invitation.create',
  'invitation.revoke',
  'member.join',
  'member.leave',
  'member.remove',
  'member.role_change',
  'member.sso_sync_skipped',
  'operator.grant',
  'operator.password_reset',
  'operator.revoke',
  'operator.sign_in_link',
  'organization.create',
  'organization.settings_change',
  'organization.sso_bind',
  'organization.sso_unbind',
  'project.create',
  'project.member.remove',
  'project.member.set',
  'runner.create',
  'runner.key_rotate',
  'runner.purge',
  'runner.register',
  'runner.revoke',
  'scm_integration.certificate_prepare',
  'scm_integration.create',
  'scm_integration.delete',
  'scm_integration.draft_apply',
  'scm_integration.draft_discard',
  'scm_integration.environment_defaults',
  'scm_integration.test',
  'scm_integration.update',
  'session.organization_switch',
  'session.revoke',
  'session.sign_in',
  'session.sign_in_link',
  'session.sign_out',
  'session.sign_out_everywhere',
  'session.sso_link',
  'session.sso_reauthenticate',
  'sync.create',
  'sync.delete',
  'sync.run',
  'sync.update',
  'sync.variables.change',
  'sync.variables.replace',
  'user.disable',
  'user.enable',
  'user.password_change',
  'user.sso_unlink',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/**
 * Action groups: the part of an action before its first dot (`scm_integration.update` is in
 * `scm_integration`). Sorted by name; actions.test.ts checks they are exactly the groups of
 * AUDIT_ACTIONS.
 */
export const AUDIT_ACTION_GROUPS = [
  'api_token',
  'app_connection',
  'authentication',
  'authorization',
  'client_certificate',
  'credential',
  'credentials',
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
