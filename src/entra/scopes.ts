/** The Azure DevOps resource (first-party app id), as Entra names it in scopes. */
export const AZURE_DEVOPS_RESOURCE = '499b84ac-1321-427f-aa17-267ca6975798';
export const AZURE_DEVOPS_DEFAULT_SCOPE = `${AZURE_DEVOPS_RESOURCE}/.default`;
/**
 * Delegated scopes Keyway asks users for (DESIGN: "Authorize"), plus `profile`: without it Entra
 * leaves `preferred_username` and `name` out of the ID token, and the user could not see which
 * account a host authorization belongs to.
 */
export const USER_SCOPES = [
  'openid',
  'profile',
  'offline_access',
  `${AZURE_DEVOPS_RESOURCE}/vso.code`,
  `${AZURE_DEVOPS_RESOURCE}/vso.code_write`,
];
