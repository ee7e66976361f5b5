// Probes: does a URL answer like Azure DevOps (unauthenticated), where a Server collection starts,
// and whether a credential may open a push, without pushing. None of them retries.

import { VERSION } from '../version.ts';
import {
  buildUrl,
  collectionUrl,
  describeTarget,
  resolveEndpoints,
  validateTarget,
  type AzureDevOpsEndpoints,
  type AzureDevOpsTarget,
} from './endpoints.ts';
import { AzureDevOpsError, isSignInRedirect, parseAdoErrorBody, parseTfCode, readTenantHints } from './errors.ts';
import { guardedFetch, HOST_REFUSED } from './guarded-fetch.ts';
import type { FetchLike } from './guarded-fetch.ts';
import { asObject } from './plan.ts';
import type { ProbeResult } from './types.ts';
import { defaultFetch, JSON_TYPE, networkCode, readLimited, SUPPRESS_SIGN_IN } from './wire.ts';

/**
 * git's receive-pack advertisement (`GET …/_git/{repo}/info/refs?service=git-receive-pack`), which
 * changes nothing: `allowed` (the advertisement came), `refused` (401/403), or `unknown` (anything else).
 * `send` is the client's one authenticated GET.
 */
export async function probeReceivePack(
  send: (url: string, signal?: AbortSignal) => Promise<Response>,
  base: string,
  project: string,
  repository: string,
  signal?: AbortSignal,
): Promise<'allowed' | 'refused' | 'unknown'> {
  // git smart HTTP, not REST: no api-version; the repository path as git remotes spell it.
  const url = buildUrl(base, [project, '_git', repository, 'info', 'refs'], { service: 'git-receive-pack' });
  let res: Response;
  try {
    res = await send(url, signal);
  } catch {
    return 'unknown';
  }
  await res.body?.cancel().catch(() => undefined);
  if (res.status === 200 && /application\/x-git-receive-pack-advertisement/i.test(res.headers.get('content-type') ?? '')) return 'allowed';
  if (res.status === 401 || res.status === 403) return 'refused';
  return 'unknown';
}

export interface ProbeOptions {
  target: AzureDevOpsTarget;
  endpoints?: Partial<AzureDevOpsEndpoints>;
  fetch?: FetchLike;
  timeoutMs?: number;
  userAgent?: string;
  signal?: AbortSignal;
}

/**
 * Asks `{collection}/_apis/connectionData` without credentials whether this is Azure DevOps.
 * Azure DevOps answers with `X-TFS-*` / `X-VSS-*` headers (401 with a challenge, 203 sign-in page,
 * 302 to sign-in) or connectionData JSON with `deploymentType`; an ordinary web server does neither.
 * Never throws for network failures: they answer `isAzureDevOps: false` with the reason.
 */
export async function probeAzureDevOpsHost(opts: ProbeOptions): Promise<ProbeResult> {
  validateTarget(opts.target);
  const endpoints = resolveEndpoints(opts.endpoints);
  const url = buildUrl(collectionUrl(opts.target, endpoints), ['_apis', 'connectionData']);
  const fetchImpl: FetchLike = opts.fetch ?? defaultFetch(opts.target, endpoints);
  const timeoutSignal = AbortSignal.timeout(opts.timeoutMs ?? 10_000);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeoutSignal]) : timeoutSignal;
  let res: Response;
  try {
    res = await fetchImpl(url, {
      method: 'GET',
      headers: {
        Accept: 'application/json',
        ...SUPPRESS_SIGN_IN,
        'User-Agent': opts.userAgent ?? `Keyway/${VERSION}`,
      },
      redirect: 'manual',
      signal,
    });
  } catch (e) {
    if (opts.signal?.aborted) {
      throw new AzureDevOpsError({
        kind: 'aborted',
        message: 'probeHost: cancelled by the caller',
        operation: 'probeHost',
        method: 'GET',
        url,
      });
    }
    const code = timeoutSignal.aborted ? 'timeout' : networkCode(e);
    if (code.startsWith(HOST_REFUSED)) return { isAzureDevOps: false, reason: `not connected: ${code.slice(HOST_REFUSED.length + 2)}` };
    return { isAzureDevOps: false, reason: `no answer from ${describeTarget(opts.target)} (${code})` };
  }
  const status = res.status;
  const adoHeaders: string[] = [];
  res.headers.forEach((_v, name) => {
    if (/^x-(tfs|vss)-/i.test(name)) adoHeaders.push(name.toLowerCase());
  });
  const www = res.headers.get('www-authenticate') ?? '';
  const federated = /TFS-Federated/i.test(www);
  const tenant = readTenantHints(res.headers).resourceTenantId;

  let deploymentType: string | undefined;
  let adoErrorBody: string | undefined;
  const contentType = res.headers.get('content-type') ?? '';
  if (JSON_TYPE.test(contentType)) {
    try {
      const text = await readLimited(res, 256 * 1024);
      const o = asObject(JSON.parse(text));
      if (status === 200 && o && typeof o.deploymentType === 'string' && typeof o.instanceId === 'string')
        deploymentType = o.deploymentType;
      // The service's error body: {"$id","innerException","message":"TF400813: …","typeName","typeKey",…}.
      const err = status >= 400 ? parseAdoErrorBody(text) : undefined;
      const code = parseTfCode(err?.message);
      if (o && '$id' in o && err?.typeKey && code) adoErrorBody = `${code} ${err.typeKey}`;
    } catch {
      // not JSON after all
    }
  } else {
    await res.body?.cancel().catch(() => undefined);
  }

  const base: Omit<ProbeResult, 'isAzureDevOps' | 'reason'> = {
    status,
    ...(deploymentType ? { deploymentType } : {}),
    ...(tenant ? { resourceTenantId: tenant } : {}),
  };
  if (deploymentType) return { ...base, isAzureDevOps: true, reason: `connectionData answered with deploymentType '${deploymentType}'` };
  if (adoHeaders.length > 0 || federated) {
    const signs = [...new Set(adoHeaders)].slice(0, 4).join(', ') || 'WWW-Authenticate: TFS-Federated';
    return { ...base, isAzureDevOps: true, reason: `HTTP ${status} with Azure DevOps headers (${signs})` };
  }
  if (adoErrorBody) return { ...base, isAzureDevOps: true, reason: `HTTP ${status} with an Azure DevOps error body (${adoErrorBody})` };
  return {
    ...base,
    isAzureDevOps: false,
    reason: `HTTP ${status}${contentType ? ` ${contentType.split(';')[0]}` : ''} without any Azure DevOps header or error body: this URL does not look like Azure DevOps`,
  };
}

/** What `{origin}{prefix}/_apis/connectionData` answered, for finding where a Server collection starts. */
export interface ServerPrefixAnswer {
  /** `''`, `/tfs`, `/tfs/DefaultCollection`… */
  prefix: string;
  /** Azure DevOps answers here (connectionData, or a challenge with its headers); else nothing Azure DevOps is here. */
  answers: boolean;
  /**
   * From a connectionData body only: `deployment` when the host answering is the server itself
   * (`instanceId` equals `deploymentId`), `collection` when it is a collection of it.
   */
  level?: 'deployment' | 'collection';
  unreachable?: boolean;
  reason: string;
}

/**
 * Asks `_apis/connectionData` at each prefix of a Server path, from the origin down: Azure DevOps
 * Server answers there both for itself (under its virtual directory) and for each collection, so
 * the first prefix that answers is where the server is, and what follows it names a collection.
 * Only 200 with connectionData, or an authentication challenge carrying Azure DevOps's headers,
 * counts as an answer: a 404 (with or without those headers) means nothing is served there.
 */
export async function probeServerPrefixes(opts: {
  origin: string;
  segments: readonly string[];
  fetch?: FetchLike;
  timeoutMs?: number;
  allowInsecure?: boolean;
}): Promise<ServerPrefixAnswer[]> {
  const fetchImpl: FetchLike = opts.fetch ?? guardedFetch(opts.allowInsecure ?? false);
  const answers: ServerPrefixAnswer[] = [];
  for (let i = 0; i <= opts.segments.length; i++) {
    const prefixSegments = opts.segments.slice(0, i);
    const prefix = prefixSegments.map((s) => `/${s}`).join('');
    const url = buildUrl(opts.origin.replace(/\/+$/, ''), [...prefixSegments, '_apis', 'connectionData']);
    let res: Response;
    try {
      res = await fetchImpl(url, {
        method: 'GET',
        headers: { Accept: 'application/json', ...SUPPRESS_SIGN_IN, 'User-Agent': `Keyway/${VERSION}` },
        redirect: 'manual',
        signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
      });
    } catch (e) {
      answers.push({ prefix, answers: false, unreachable: true, reason: `no answer (${networkCode(e)})` });
      // An origin that does not answer will not answer deeper paths either.
      break;
    }
    const contentType = res.headers.get('content-type') ?? '';
    let body: Record<string, unknown> | undefined;
    let errorBody = false;
    if (JSON_TYPE.test(contentType)) {
      try {
        const text = await readLimited(res, 256 * 1024);
        body = asObject(JSON.parse(text));
        errorBody = res.status >= 400 && parseTfCode(parseAdoErrorBody(text)?.message) !== undefined;
      } catch {
        body = undefined;
      }
    } else {
      await res.body?.cancel().catch(() => undefined);
    }
    if (res.status === 200 && body && typeof body.instanceId === 'string' && typeof body.deploymentType === 'string') {
      const level =
        typeof body.deploymentId === 'string' && body.deploymentId.toLowerCase() === body.instanceId.toLowerCase()
          ? 'deployment'
          : 'collection';
      answers.push({ prefix, answers: true, level, reason: `connectionData answered (${level})` });
      continue;
    }
    let adoSigns = /TFS-Federated/i.test(res.headers.get('www-authenticate') ?? '') || errorBody;
    res.headers.forEach((_v, name) => {
      if (/^x-(tfs|vss)-/i.test(name)) adoSigns = true;
    });
    const challenge = res.status === 401 || res.status === 203 || isSignInRedirect(res.status, res.headers);
    answers.push({
      prefix,
      answers: challenge && adoSigns,
      reason: `HTTP ${res.status}${challenge && !adoSigns ? ' without Azure DevOps headers' : ''}`,
    });
  }
  return answers;
}
