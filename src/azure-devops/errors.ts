// Azure DevOps answers mapped to one typed error. Error body and sign-in answers: docs/azure-devops.md,
// "REST calls" and "Refused tokens"; throttling: docs/throttling.md.
//
// Secrets: an AzureDevOpsError is built only from values that went through a Redactor holding the
// credential, carries no request headers and no raw `cause`, and serializes (toJSON, util.inspect)
// only its own safe fields.

import { inspect } from 'node:util';
import { redactAzureDevOpsPats } from './pat.ts';

export type AzureDevOpsErrorKind =
  /** 401; 203 sign-in page; 302 to the sign-in page. */
  | 'unauthenticated'
  /** 403. */
  | 'forbidden'
  /** 404 (Azure DevOps also answers 404 for what the credential may not see: TF401019). */
  | 'not-found'
  /** 429. */
  | 'throttled'
  /** 400. */
  | 'bad-request'
  /** 409. */
  | 'conflict'
  /** 5xx. */
  | 'server'
  /** DNS failure, connection refused or reset, TLS failure, timeout. */
  | 'network'
  /** Not what Azure DevOps's REST API answers: HTML with 200, non-JSON, an unknown status, a foreign redirect. */
  | 'unexpected-response'
  /** The operation cannot work for this target or credential (checked before any request). */
  | 'unsupported'
  /** The caller's AbortSignal fired. */
  | 'aborted';

export interface AzureDevOpsErrorInit {
  kind: AzureDevOpsErrorKind;
  /** Short technical summary; already redacted. */
  message: string;
  status?: number;
  /** `TF401019`, `TF400813`, `VS800075`… from the error body's message. */
  tfCode?: string;
  typeKey?: string;
  /** The service's own message; already redacted. */
  adoMessage?: string;
  /** `X-VSS-ResourceTenant`, else the tenant in `WWW-Authenticate: Bearer authorization_uri=…`. */
  resourceTenantId?: string;
  /** `WWW-Authenticate: Bearer authorization_uri=…`. */
  authorizationUri?: string;
  retryAfterSeconds?: number;
  /** `ECONNRESET`, `ENOTFOUND`, `timeout`… for kind `network`. */
  networkCode?: string;
  method?: string;
  /** Request URL; never contains a credential (Keyway sends credentials only in headers). */
  url?: string;
  /** Client operation, e.g. `listRefs`. */
  operation?: string;
  /** How many HTTP attempts were made. */
  attempts?: number;
  /** Extra sentence for describe(), e.g. why an operation is unsupported. */
  hint?: string;
}

const FIELDS = [
  'kind',
  'status',
  'tfCode',
  'typeKey',
  'adoMessage',
  'resourceTenantId',
  'authorizationUri',
  'retryAfterSeconds',
  'networkCode',
  'method',
  'url',
  'operation',
  'attempts',
  'hint',
] as const;

export class AzureDevOpsError extends Error {
  readonly kind: AzureDevOpsErrorKind;
  readonly status?: number;
  readonly tfCode?: string;
  readonly typeKey?: string;
  readonly adoMessage?: string;
  readonly resourceTenantId?: string;
  readonly authorizationUri?: string;
  readonly retryAfterSeconds?: number;
  readonly networkCode?: string;
  readonly method?: string;
  readonly url?: string;
  readonly operation?: string;
  readonly attempts?: number;
  readonly hint?: string;

  constructor(init: AzureDevOpsErrorInit) {
    super(init.message);
    this.name = 'AzureDevOpsError';
    this.kind = init.kind;
    for (const f of FIELDS) {
      if (f === 'kind') continue;
      const v = init[f];
      // Absent fields stay absent, so JSON and inspect output show only what is known.
      if (v !== undefined) (this as Record<string, unknown>)[f] = v;
    }
  }

  /** True for errors worth retrying later (the client already retried what it could). */
  get transient(): boolean {
    return this.kind === 'throttled' || this.kind === 'server' || this.kind === 'network';
  }

  /** A sentence an administrator can act on. */
  describe(): string {
    const detail = this.adoMessage ? ` Azure DevOps said: "${this.adoMessage}"` : '';
    const hint = this.hint ? ` ${this.hint}` : '';
    const where = this.url ? safeHost(this.url) : 'Azure DevOps';
    switch (this.kind) {
      case 'unauthenticated':
        return `Azure DevOps rejected the credential: it is wrong, expired or revoked. Create a new token or sign in again.${hint}${detail}`;
      case 'forbidden':
        return `The credential is valid but not allowed to do this: check the token's scopes and the user's access level and permissions in Azure DevOps.${hint}${detail}`;
      case 'not-found':
        return `Azure DevOps found nothing at this name or id. Check the spelling; Azure DevOps also answers this way when the credential may not see the resource.${hint}${detail}`;
      case 'throttled':
        return `Azure DevOps is throttling this credential${this.retryAfterSeconds !== undefined ? `; retry in ${this.retryAfterSeconds} s` : ''}. Reduce the request rate or spread work over time.${hint}${detail}`;
      case 'bad-request':
        return `Azure DevOps refused the request as invalid.${hint}${detail}`;
      case 'conflict':
        return `The change conflicts with the current state in Azure DevOps (it may already exist or have changed).${hint}${detail}`;
      case 'server':
        return `Azure DevOps had an internal error (HTTP ${this.status ?? '5xx'}) and did not recover after retries; try again later.${hint}${detail}`;
      case 'network':
        if (this.networkCode?.startsWith('KEYWAY_HOST_REFUSED: ')) {
          return (
            `Keyway did not connect to ${where}: ${this.networkCode.slice('KEYWAY_HOST_REFUSED: '.length)}. An Azure DevOps Server host must resolve to a routable address ` +
            `(KEYWAY_ALLOW_INSECURE_HOSTS permits loopback and private ones for a lab; link-local and metadata addresses are always refused).${hint}`
          );
        }
        return this.networkCode === 'timeout'
          ? `${where} did not answer in time. Check that the URL is right and reachable from Keyway (proxy, firewall).${hint}`
          : `Could not reach ${where}${this.networkCode ? ` (${this.networkCode})` : ''}. Check the URL, DNS, proxy and firewall.${hint}`;
      case 'unexpected-response':
        return `${where} did not answer like the Azure DevOps REST API. Check that the URL points to Azure DevOps and not to a proxy or sign-in page.${hint}`;
      case 'unsupported':
        return `${this.message}${hint}`;
      case 'aborted':
        return 'The request to Azure DevOps was cancelled.';
    }
  }

  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { name: this.name, message: this.message };
    for (const f of FIELDS) if (this[f] !== undefined) out[f] = this[f];
    return out;
  }

  [inspect.custom](): string {
    return `${this.stack ?? `${this.name}: ${this.message}`}\n${inspect(this.toJSON(), { breakLength: 120 })}`;
  }
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'Azure DevOps';
  }
}

// ---- redaction ------------------------------------------------------------------------------

export type Redactor = (text: string) => string;

/**
 * Removes the token in every form it travels in: as is, as the Basic header value
 * (`base64(':' + token)`), base64 on its own, and percent-encoded. Then any PAT-shaped run, in case
 * a message carries some other token.
 */
export function createRedactor(token: string | undefined): Redactor {
  const forms = new Set<string>();
  if (token && token.length >= 4) {
    forms.add(token);
    forms.add(Buffer.from(`:${token}`, 'utf8').toString('base64'));
    forms.add(Buffer.from(token, 'utf8').toString('base64'));
    forms.add(encodeURIComponent(token));
  }
  const list = [...forms].sort((a, b) => b.length - a.length);
  return (text: string) => {
    let out = text;
    for (const f of list) out = out.split(f).join('[redacted]');
    return redactAzureDevOpsPats(out);
  };
}

/**
 * Whether Azure DevOps refused the credential itself (expired, revoked, unknown), as opposed to
 * recognizing the identity and refusing it (not a member, OAuth policy: "The user '…' is not
 * authorized", 401 TF400813 too). Only the first can be helped by a fresh token. The wordings are
 * the emulator's, modelled on the service (docs/azure-devops.md, "Refused tokens").
 */
export function refusesCredential(err: AzureDevOpsError): boolean {
  if (err.kind !== 'unauthenticated') return false;
  return !(err.status === 401 && /\bThe user\b.*\bnot authorized\b/i.test(err.adoMessage ?? ''));
}

// ---- response → error -------------------------------------------------------------------------

export interface AdoErrorBody {
  message?: string;
  typeKey?: string;
  typeName?: string;
  errorCode?: number;
  eventId?: number;
}

/** Reads `{"$id","innerException","message","typeName","typeKey","errorCode","eventId"}`; anything else → undefined. */
export function parseAdoErrorBody(text: string): AdoErrorBody | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const out: AdoErrorBody = {};
  if (typeof o.message === 'string') out.message = o.message;
  if (typeof o.typeKey === 'string') out.typeKey = o.typeKey;
  if (typeof o.typeName === 'string') out.typeName = o.typeName;
  if (typeof o.errorCode === 'number') out.errorCode = o.errorCode;
  if (typeof o.eventId === 'number') out.eventId = o.eventId;
  return out.message !== undefined || out.typeKey !== undefined ? out : undefined;
}

/** `TF401019`, `VS800075`, `TF400813` at the start of a service message. */
export function parseTfCode(message: string | undefined): string | undefined {
  const m = message ? /^\s*((?:TF|VS)\d{5,6})\b/.exec(message) : null;
  return m?.[1];
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Tenant hints of a 401: `X-VSS-ResourceTenant` (an all-zero GUID means a Microsoft-account
 * organization; returned as is) and `WWW-Authenticate: Bearer authorization_uri=https://login.microsoftonline.com/{tid}`.
 */
export function readTenantHints(headers: Headers): { resourceTenantId?: string; authorizationUri?: string } {
  const out: { resourceTenantId?: string; authorizationUri?: string } = {};
  const www = headers.get('www-authenticate') ?? '';
  const m = /authorization_uri="?([^",\s]+)"?/i.exec(www);
  if (m?.[1]) out.authorizationUri = m[1];
  const tenantHeader = (headers.get('x-vss-resourcetenant') ?? '').split(',')[0]?.trim();
  if (tenantHeader && GUID.test(tenantHeader)) out.resourceTenantId = tenantHeader.toLowerCase();
  else if (out.authorizationUri) {
    const last = out.authorizationUri.replace(/\/+$/, '').split('/').pop() ?? '';
    if (GUID.test(last)) out.resourceTenantId = last.toLowerCase();
  }
  return out;
}

export function kindForStatus(status: number): AzureDevOpsErrorKind {
  if (status === 401 || status === 203) return 'unauthenticated';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not-found';
  if (status === 429) return 'throttled';
  if (status === 400) return 'bad-request';
  if (status === 409) return 'conflict';
  if (status >= 500 && status <= 599) return 'server';
  return 'unexpected-response';
}

/** True when a redirect points at the Azure DevOps sign-in flow rather than at another resource. */
export function isSignInRedirect(status: number, headers: Headers): boolean {
  if (status < 300 || status > 399) return false;
  if (headers.get('x-tfs-fedauthredirect')) return true;
  const location = headers.get('location') ?? '';
  return /\/_signin\b|login\.microsoftonline\.com|login\.live\.com/i.test(location);
}
