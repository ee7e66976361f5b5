// Entra's OAuth error catalogue and wire shapes. This emulator answers in Entra's shape, not in
// Keyway's own `{"error":{"code","message"}}` (docs/conventions.md), because clients under test
// must meet what login.microsoftonline.com really sends.
//
// Codes and texts follow Microsoft's public error reference
// (https://learn.microsoft.com/entra/identity-platform/reference-error-codes) and error bodies
// seen in public bug reports. Entries marked "unconfirmed" are choices: easy to change here.
import { entraTimestamp, guid } from './ids.ts';

export class EntraOAuthError extends Error {
  readonly error: string;
  readonly code: number;
  readonly text: string;
  readonly status: number;
  readonly suberror: string | undefined;
  constructor(error: string, code: number, text: string, status = 400, suberror?: string) {
    super(`AADSTS${code}: ${text}`);
    this.name = 'EntraOAuthError';
    this.error = error;
    this.code = code;
    this.text = text;
    this.status = status;
    this.suberror = suberror;
  }
}

const e = (error: string, code: number, text: string, status = 400, suberror?: string) =>
  new EntraOAuthError(error, code, text, status, suberror);

/** AADSTS700211-700213: no federated identity credential of the app matches one claim of the assertion. */
const noFederatedRecord = (code: number, claim: string, value: string, check = 'Please check') =>
  e(
    'invalid_client',
    code,
    `No matching federated identity record found for presented assertion ${claim} '${value}'. ${check} your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation`,
    401,
  );

export const aadsts = {
  missingParameter: (name: string) => e('invalid_request', 900144, `The request body must contain the following parameter: '${name}'.`),
  duplicateParameter: (name: string) =>
    e('invalid_request', 9000411, `The request is not properly formatted. The parameter '${name}' is duplicated.`),
  tokenEndpointGet: () => e('invalid_request', 900561, 'The endpoint only accepts POST, OPTIONS requests. Received a GET request.'),
  // Discovery answers `invalid_tenant`; the token endpoint `invalid_request` (unconfirmed which one
  // the token endpoint uses).
  tenantNotFound: (tenant: string, error = 'invalid_request') =>
    e(
      error,
      90002,
      `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
    ),
  // Status 400 is unconfirmed (docs/entra-id.md, "Errors Entra answers").
  appNotFound: (clientId: string, directory: string) =>
    e(
      'unauthorized_client',
      700016,
      `Application with identifier '${clientId}' was not found in the directory '${directory}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
    ),
  notMultiTenant: (clientId: string, displayName: string, endpoint: string) =>
    e(
      'invalid_request',
      50194,
      `Application '${clientId}'(${displayName}) is not configured as a multi-tenant application. Usage of the /${endpoint} endpoint is not supported for such applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the application to be multi-tenant.`,
    ),
  invalidClientSecret: (clientId: string) =>
    e(
      'invalid_client',
      7000215,
      `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
      401,
    ),
  expiredClientSecret: (clientId: string) =>
    e(
      'invalid_client',
      7000222,
      `The provided client secret keys for app '${clientId}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.`,
      401,
    ),
  // 400 as the brief asks; real status unconfirmed (some reports show 401).
  missingClientSecret: () =>
    e('invalid_client', 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."),
  // ---- client assertions (certificates and federated credentials) ----------------------------
  // Texts follow Entra's answers quoted in public reports (cited in docs/client-credentials.md);
  // status codes for these are 401 invalid_client where reports show it, else 400 (unconfirmed).
  // Unconfirmed code and text for an unknown client_assertion_type.
  assertionTypeInvalid: (given: string) =>
    e(
      'invalid_request',
      700004,
      `The client_assertion_type '${given}' is not supported; use 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.`,
    ),
  assertionMalformed: (why: string) => e('invalid_client', 50027, `Invalid JWT token. ${why}`, 401),
  assertionNoThumbprint: () => e('invalid_client', 50027, 'Invalid JWT token. No certificate thumbprint specified in token header.', 401),
  assertionKeyNotFound: (thumbprint: string, clientId: string) =>
    e(
      'invalid_client',
      700027,
      `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${thumbprint}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${clientId}'.]`,
      401,
    ),
  // Unconfirmed wording for an expired key credential (the reason list follows the key-not-found shape).
  assertionKeyExpired: (thumbprint: string, clientId: string, end: string) =>
    e(
      'invalid_client',
      700027,
      `Client assertion failed signature validation. [Reason - The key used is expired., Thumbprint of key used by client: '${thumbprint}', Found key 'End=${end}', app Id '${clientId}'.]`,
      401,
    ),
  assertionBadSignature: (thumbprint: string, start: string, end: string) =>
    e(
      'invalid_client',
      700027,
      `Client assertion contains an invalid signature. [Reason - Key was found, but use of the key to verify the signature failed., Thumbprint of key used by client: '${thumbprint}', Found key 'Start=${start}, End=${end}']`,
      401,
    ),
  assertionTimeRange: (now: string, from: string, to: string) =>
    e(
      'invalid_client',
      700024,
      `Client assertion is not within its valid time range. Current time: ${now}, assertion valid from ${from}, expiry time of assertion ${to}. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .`,
      401,
    ),
  assertionAudience: () => e('invalid_client', 50012, 'Client assertion audience claim does not match Realm issuer.', 401),
  assertionSubjectMismatchesIssuer: () => e('invalid_client', 50048, 'Subject mismatches Issuer claim in the client assertion.', 401),
  assertionClientMismatch: () =>
    e('invalid_client', 700021, "Client assertion application identifier doesn't match 'client_id' parameter.", 401),
  // Unconfirmed: no public report shows Entra's answer to a replayed client assertion; 50013
  // (InvalidAssertion) is the documented code for assertions that are invalid "for various reasons".
  assertionReplayed: () =>
    e('invalid_client', 50013, 'Assertion is invalid: a client assertion with this jti was already presented (replay).', 401),
  federatedIssuer: (issuer: string) => noFederatedRecord(700211, 'issuer', issuer),
  // Entra's text for the subject says "Check", the other two "Please check".
  federatedSubject: (subject: string) => noFederatedRecord(700213, 'subject', subject, 'Check'),
  federatedAudience: (audience: string) => noFederatedRecord(700212, 'audience', audience),
  federatedSignature: (issuer: string) =>
    e('invalid_client', 50027, `Invalid JWT token. External ID token from issuer '${issuer}' failed signature verification.`, 401),
  // Unconfirmed code: both a secret and an assertion in one request.
  twoClientCredentials: () =>
    e('invalid_request', 900144, "The request must contain either 'client_assertion' or 'client_secret', not both."),
  unsupportedGrantType: (grant: string) => e('unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grant}'.`),
  redirectUriMismatch: (redirectUri: string, clientId: string) =>
    e(
      'invalid_request',
      50011,
      `The redirect URI '${redirectUri}' specified in the request does not match the redirect URIs configured for the application '${clientId}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this.`,
    ),
  noReplyAddress: () => e('invalid_request', 500113, 'No reply address is registered for the application.'),
  // At the token endpoint Entra distinguishes "not registered at all" (50011) from "registered, but
  // not the one the code was issued for" (500112). Both as `invalid_grant` (RFC 6749 §5.2); the
  // error string for 50011 at the token endpoint is unconfirmed.
  redirectUriNotRegisteredAtToken: (redirectUri: string, clientId: string) =>
    e(
      'invalid_grant',
      50011,
      `The redirect URI '${redirectUri}' specified in the request does not match the redirect URIs configured for the application '${clientId}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this.`,
    ),
  redirectUriDiffersFromCode: (given: string, original: string) =>
    e(
      'invalid_grant',
      500112,
      `The reply address '${given}' does not match the reply address '${original}' provided when requesting Authorization code.`,
    ),
  scopeMissing: () => e('invalid_scope', 70011, "The provided request must include a 'scope' input parameter."),
  scopeInvalid: (scope: string, why?: string) =>
    e(
      'invalid_scope',
      70011,
      `The provided value for the input parameter 'scope' is not valid. The scope '${scope}' is not valid.${why ? ' ' + why : ''}`,
    ),
  // Unconfirmed: the error string that accompanies 28000.
  scopeMultipleResources: (scope: string) =>
    e(
      'invalid_scope',
      28000,
      `Provided value for the input parameter scope is not valid because it contains more than one resource. Scope ${scope} is not valid.`,
    ),
  resourceNotFound: (resource: string, tenantName: string) =>
    e(
      'invalid_resource',
      500011,
      `The resource principal named ${resource} was not found in the tenant named ${tenantName}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
    ),
  clientCredentialsScope: (scope: string) =>
    e(
      'invalid_scope',
      1002012,
      `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
    ),
  unsupportedResponseType: (rt: string) =>
    e('unsupported_response_type', 700054, `response_type '${rt}' is not enabled for the application.`),
  // Unconfirmed code for an unknown response_mode / prompt / code_challenge_method value.
  invalidRequestValue: (name: string, value: string) =>
    e('invalid_request', 90013, `Invalid input received from the user: '${name}' has an unsupported value '${value}'.`),
  pkceRequired: () =>
    e('invalid_request', 9002325, 'Proof Key for Code Exchange is required for cross-origin authorization code redemption.'),
  // Unconfirmed: reusing 9002325 when `plain` is sent to an app that requires PKCE.
  pkcePlainNotAllowed: () =>
    e('invalid_request', 9002325, "Proof Key for Code Exchange is required; this application only accepts code_challenge_method 'S256'."),
  codeChallengeSize: () => e('invalid_request', 501491, 'Invalid size of Code_Challenge parameter.'),
  pkceMismatch: () =>
    e('invalid_grant', 50148, 'The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.'),
  codeRedeemed: () =>
    e(
      'invalid_grant',
      54005,
      'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.',
    ),
  grantExpired: () =>
    e(
      'invalid_grant',
      70008,
      'The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.',
    ),
  refreshInactive: (issuedAt: string) =>
    e(
      'invalid_grant',
      700082,
      `The refresh token has expired due to inactivity. The token was issued on ${issuedAt} and was inactive for 90.00:00:00.`,
    ),
  // Admin/user revocation (revokeSignInSessions, password reset) surfaces as 50173 rather than 70008.
  grantRevoked: (revokedAt: string) =>
    e(
      'invalid_grant',
      50173,
      `The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '${revokedAt}'.`,
    ),
  // Not Entra behaviour: the `refreshReuseFails` knob imitates providers that revoke on rotation.
  // 70008 because that is what a client would most plausibly meet for a dead refresh token.
  refreshRotated: () =>
    e(
      'invalid_grant',
      70008,
      'The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource. (This refresh token was already rotated.)',
    ),
  // Unconfirmed: Entra answers garbage codes/tokens with 9002313.
  malformedGrant: () => e('invalid_grant', 9002313, 'Invalid request. Request is malformed or invalid.'),
  // Unconfirmed code for a code/refresh token presented by another client.
  grantClientMismatch: () => e('invalid_grant', 70000, 'Provided grant is invalid or malformed: it was issued to a different client.'),
  consentRequired: (clientId: string, displayName: string) =>
    e(
      'invalid_grant',
      65001,
      `The user or administrator has not consented to use the application with ID '${clientId}' named '${displayName}'. Send an interactive authorization request for this user and resource.`,
      400,
      'consent_required',
    ),
  userDeclined: () => e('access_denied', 65004, 'User declined to consent to access the app.'),
  silentNoSession: () => e('login_required', 50058, 'A silent sign-in request was sent but no user is signed in.'),
  flowTokenExpired: () =>
    e('invalid_request', 50089, 'Authentication failed due to flow token expired. Have the user try signing in again.'),
  badPassword: () => e('invalid_grant', 50126, 'Error validating credentials due to invalid username or password.'),
  // Microsoft's AADSTS error reference: 50057, "UserDisabled - The user account is disabled."
  userDisabled: () =>
    e('invalid_grant', 50057, 'The user account is disabled. The user object in Active Directory backing this account has been disabled.'),
  oauthBlocked: (scope: string) =>
    e(
      'invalid_scope',
      70011,
      `The provided value for the input parameter 'scope' is not valid. The scope '${scope}' is not valid. (Emulator: the Azure DevOps organization does not allow third-party application access via OAuth.)`,
    ),
} as const;

/** Short explanations for the `GET /error?code=` page. */
export const ERROR_SUMMARIES: Record<number, string> = {
  28000: 'The scope parameter names more than one resource.',
  50011: 'The redirect URI does not match the ones registered for the application.',
  50058: 'A silent sign-in request was sent but no user is signed in.',
  50089: 'The sign-in flow token expired or was not issued by this service.',
  50126: 'Invalid user name or password.',
  50148: 'The PKCE code_verifier does not match the code_challenge.',
  50173: 'The grant was revoked; sign in again.',
  50194: 'The application is single-tenant; use a tenant-specific endpoint.',
  54005: 'The authorization code was already redeemed.',
  65001: 'The user or administrator has not consented to the requested scopes.',
  65004: 'The user declined to consent.',
  70000: 'The grant is invalid or malformed.',
  70003: 'Unsupported grant type.',
  70008: 'The authorization code or refresh token expired.',
  70011: 'Invalid scope.',
  90002: 'Tenant not found.',
  90013: 'Invalid input.',
  500011: 'The resource principal was not found in the tenant.',
  500112: 'The reply address differs from the one used to request the code.',
  500113: 'No reply address is registered for the application.',
  501491: 'Invalid size of the code_challenge parameter.',
  700016: 'Application not found in the directory.',
  700027: 'Client assertion failed signature validation.',
  700021: 'The client assertion names another application than client_id.',
  700024: 'The client assertion is not within its valid time range.',
  700211: "No federated identity credential of the application has the assertion's issuer.",
  700212: "No federated identity credential of the application has the assertion's audience.",
  700213: "No federated identity credential of the application has the assertion's subject.",
  50012: 'The client assertion audience does not match the token endpoint.',
  50013: 'The assertion is invalid (for example replayed).',
  50027: "The JWT is invalid (malformed, no thumbprint, or its issuer's signature failed).",
  50048: "The client assertion's subject does not match its issuer.",
  700004: 'The client_assertion_type is not supported.',
  700054: 'The response_type is not enabled for the application.',
  700082: 'The refresh token expired due to inactivity.',
  900144: 'A required parameter is missing.',
  900561: 'The token endpoint only accepts POST.',
  1002012: 'Client credential flows need a `{resource}/.default` scope.',
  7000215: 'Invalid client secret (often the secret ID was sent instead of its value).',
  7000218: 'The request has no client secret or client assertion.',
  7000222: 'The client secret is expired.',
  9000411: 'A parameter is duplicated.',
  9002313: 'The request is malformed or invalid.',
  9002325: 'Proof Key for Code Exchange is required.',
};

export interface ErrorContext {
  origin: string;
  nowMs: number;
  correlationId: string;
  traceId?: string;
}

export interface ErrorTrace {
  traceId: string;
  correlationId: string;
  timestamp: string;
}

export function newTrace(ctx: ErrorContext): ErrorTrace {
  return { traceId: ctx.traceId ?? guid(), correlationId: ctx.correlationId, timestamp: entraTimestamp(ctx.nowMs) };
}

/** The `error_description` text, with Entra's trailer lines joined by CRLF. */
export function describeError(err: EntraOAuthError, trace: ErrorTrace): string {
  return `AADSTS${err.code}: ${err.text}\r\nTrace ID: ${trace.traceId}\r\nCorrelation ID: ${trace.correlationId}\r\nTimestamp: ${trace.timestamp}`;
}

export function errorUri(origin: string, code: number): string {
  return `${origin}/error?code=${code}`;
}

export interface EntraErrorBody {
  error: string;
  error_description: string;
  error_codes: number[];
  timestamp: string;
  trace_id: string;
  correlation_id: string;
  error_uri: string;
  suberror?: string;
}

export function errorBody(err: EntraOAuthError, ctx: ErrorContext): EntraErrorBody {
  const trace = newTrace(ctx);
  const body: EntraErrorBody = {
    error: err.error,
    error_description: describeError(err, trace),
    error_codes: [err.code],
    timestamp: trace.timestamp,
    trace_id: trace.traceId,
    correlation_id: trace.correlationId,
    error_uri: errorUri(ctx.origin, err.code),
  };
  if (err.suberror) body.suberror = err.suberror;
  return body;
}
