// Why a user cannot read a repository, from what Azure DevOps answered. Pure functions.
//
// Azure DevOps hides a lot behind few answers (docs/azure-devops.md, "REST calls"): a missing
// repository and one the user may not read are both 404 TF401019, and a refused identity, a rejected
// token and an organization's OAuth policy all come back as 401 TF400813. What can still be told
// apart:
// - the 401 body: "Resource not available for anonymous access" when the credential was not
//   recognized at all, "The user '…' is not authorized to access this resource" when it was
//   recognized and then refused (both wordings from the emulator, modelled on the service; the
//   service's exact text for each case is unconfirmed, so anything else counts as "not recognized");
// - `X-VSS-ResourceTenant`: the service names the organization's tenant on a 401 for an organization
//   that exists; without it (and without a tenant in `WWW-Authenticate`) on Services, the
//   organization is taken not to exist (unconfirmed against the service; the emulator answers so).
import { HandlerError } from '../agent.ts';
import type { AzureDevOpsError } from '../../azure-devops/errors.ts';
import type { AccessReason } from '../../control/repositories.ts';

export interface AccessFailure {
  reason: AccessReason;
  message: string;
}

export interface CredentialFacts {
  /** How the credential is sent. */
  kind: 'pat' | 'bearer';
  /** Services or Server: the tenant rule applies to Services only. */
  deployment: 'services' | 'server';
  /** The organization (collection) the request was for. */
  organization: string;
  /** The organization recorded with a PAT when it was stored, if any. */
  recordedOrganization?: string | null;
  /** What was asked for, for messages: `repository "Web/web"`, `pull request 3`. */
  what: string;
}

const IDENTITY_REFUSED = /\bThe user\b.*\bnot authorized\b/i;

function sameName(a: string, b: string): boolean {
  return a.normalize('NFC').toLowerCase() === b.normalize('NFC').toLowerCase();
}

/** Maps a failed Azure DevOps call to one of the CheckRepositoryAccess reasons. */
export function classifyAzureDevOpsError(err: AzureDevOpsError, facts: CredentialFacts): AccessFailure {
  const org = `"${facts.organization}"`;
  switch (err.kind) {
    case 'not-found': {
      if (err.tfCode === 'TF200016' || err.tfCode === 'VS800075') {
        return {
          reason: 'not_found',
          message: `the project in ${facts.what} was not found in ${org}, or you may not see it (Azure DevOps answers the same for both). Check the URL, or ask a project administrator for access.`,
        };
      }
      return {
        reason: 'not_found',
        message: `${facts.what} was not found in ${org}, or you do not have permission to read it: Azure DevOps answers 404${err.tfCode ? ` ${err.tfCode}` : ''} for both. Check the URL, or ask a project administrator for Read access.`,
      };
    }
    case 'forbidden':
      if (err.tfCode === 'TF401027' && facts.kind === 'pat') {
        // A write refused for a PAT: most often a token without Code (Read & write).
        return { reason: 'reauthorization_required', message: `${patCannotPush(err.adoMessage)}, and provide it again` };
      }
      return {
        reason: 'not_found',
        message: `Azure DevOps refused to show ${facts.what} in ${org}: you do not have permission to read it. Ask a project administrator for Read access.`,
      };
    case 'unauthenticated':
      return classifyUnauthenticated(err, facts);
    default:
      return { reason: 'unavailable', message: `Azure DevOps could not be asked about ${facts.what} right now: ${err.describe()}` };
  }
}

function classifyUnauthenticated(err: AzureDevOpsError, facts: CredentialFacts): AccessFailure {
  const org = `"${facts.organization}"`;
  const recognized = err.status === 401 && IDENTITY_REFUSED.test(err.adoMessage ?? '');
  if (!recognized && facts.deployment === 'services' && err.status === 401 && !err.resourceTenantId) {
    return {
      reason: 'not_found',
      message: `no Azure DevOps organization ${org} accepted the request: it does not exist, or the name is misspelled. Check the organization in the URL.`,
    };
  }
  if (recognized) {
    if (facts.kind === 'bearer') {
      return {
        reason: 'oauth_blocked',
        message:
          `Azure DevOps recognized your sign-in but organization ${org} refused it (TF400813). Usually the organization does not allow third-party OAuth applications: ` +
          `an organization administrator can turn on "Third-party application access via OAuth" under Organization settings → Policies. ` +
          `Azure DevOps answers the same when your account is not a member of ${org} or the organization is connected to another Microsoft Entra tenant. ` +
          `A Personal Access Token works while the policy stays off.`,
      };
    }
    return {
      reason: 'not_found',
      message: `Azure DevOps recognized your Personal Access Token but organization ${org} refused it (TF400813): your account is not a member of ${org}, or the token lacks the Code (Read) scope. Ask an organization administrator to add you, or create a token with Code (Read & write).`,
    };
  }
  if (facts.kind === 'pat') {
    if (facts.recordedOrganization && !sameName(facts.recordedOrganization, facts.organization)) {
      return {
        reason: 'reauthorization_required',
        message: `your Personal Access Token was provided for organization "${facts.recordedOrganization}" and Azure DevOps does not accept it for ${org}: provide a token that covers ${org} (or all accessible organizations).`,
      };
    }
    return {
      reason: 'reauthorization_required',
      message: `Azure DevOps rejected your Personal Access Token for ${org}: it expired, was revoked, or does not cover this organization. Create a new token and provide it again.`,
    };
  }
  return {
    reason: 'reauthorization_required',
    message: `Azure DevOps rejected your sign-in token for ${org} (revoked, or the sign-in is no longer valid): connect again.`,
  };
}

/**
 * TF401027 ("You need the Git 'GenericContribute' permission") for a PAT, in words that say what to
 * do: a token without the write scope is refused so, as is an account without Contribute.
 */
export function patCannotPush(adoMessage?: string): string {
  return `this PAT cannot push: create one with Code (Read & write)${adoMessage ? ` (Azure DevOps: ${adoMessage.slice(0, 200)}; if the token has that scope, ask for the Contribute permission on the repository)` : ''}`;
}

/** Maps what the token service throws (no authorization, renewal needed, Entra unavailable). */
export function classifyTokenError(err: HandlerError, host: string): AccessFailure {
  switch (err.code) {
    case 'not_authorized':
      return {
        reason: 'not_authorized',
        message: `you have not authorized ${host} yet: connect first, with OAuth or a Personal Access Token`,
      };
    case 'reauthorization_required':
      return { reason: 'reauthorization_required', message: err.message };
    default:
      // refresh_unavailable, integration_gone, oauth_disabled, oauth_misconfigured: nothing the
      // user's credential can fix right now.
      return { reason: 'unavailable', message: err.message };
  }
}

export function toHandlerError(failure: AccessFailure): HandlerError {
  return new HandlerError(failure.reason, failure.message);
}
