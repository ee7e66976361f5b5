// Azure DevOps repository URLs, in every form a user pastes, to one canonical RepositoryContext.
// Pure functions: no I/O. Forms: docs/azure-devops.md, "Repository URLs".
//
// The parser splits the URL itself instead of handing it to WHATWG `URL`, because `URL` rewrites
// what we must judge: it resolves `..` and `%2e%2e` segments, turns `\` into `/` (so
// `https://evil.example\@dev.azure.com` would look like dev.azure.com), drops tabs and newlines,
// and reads `+` as a space in URLSearchParams. `URL` is used only to normalize a host name.

import { looksLikeAzureDevOpsPat, redactAzureDevOpsPats } from './pat.ts';

export const MAX_REPOSITORY_URL_LENGTH = 2048;
export const SERVICES_ORIGIN = 'https://dev.azure.com';
const SERVICES_HOST = 'dev.azure.com';

export interface ServerHostConfig {
  /** e.g. `https://tfs.example.com` or `http://127.0.0.1:4321`. */
  origin: string;
  /** `/tfs` or `''`. Absent means `''` (Azure DevOps Server 2019+ installs without one). */
  virtualDirectory?: string;
}

export interface ParseRepositoryUrlOptions {
  /** Hosts the admin configured as Azure DevOps Server. */
  serverHosts?: readonly ServerHostConfig[];
  /** Extra origins laid out like dev.azure.com (the emulator). `https://dev.azure.com` is always in. */
  servicesOrigins?: readonly string[];
}

// Each variant names the other variants' fields as `?: undefined`, so `ctx.ref?.name` type-checks
// without narrowing and `switch (ref.type)` still narrows.
export type RepositoryRef =
  | { type: 'branch'; name: string; sha?: undefined; pullRequestId?: undefined }
  | { type: 'tag'; name: string; sha?: undefined; pullRequestId?: undefined }
  | { type: 'commit'; sha: string; name?: undefined; pullRequestId?: undefined }
  | { type: 'pullRequest'; pullRequestId: number; name?: undefined; sha?: undefined };

export interface RepositoryPath {
  /** Always starts with `/`; never ends with `/` unless it is the root. */
  path: string;
  line?: number;
  lineEnd?: number;
}

export interface RepositoryContext {
  kind: 'services' | 'server';
  /** `dev.azure.com`, or the server's host (with its port when not the default). */
  host: string;
  /** `https://dev.azure.com`, an emulator origin, or the configured server origin. */
  origin: string;
  /** Server only: the configured virtual directory, `/tfs` or `''`. */
  virtualDirectory?: string;
  /** Services: the organization. Server: the collection. */
  organization: string;
  /** Server only (same value as `organization`). */
  collection?: string;
  project: string;
  repository: string;
  /** Canonical HTTPS clone URL: full `{project}/_git/{repo}` form, names percent-encoded, no user, no `.git`. */
  cloneUrl: string;
  /** Canonical web URL of what the input pointed at (repository, branch, commit, pull request, file). */
  webUrl: string;
  ref?: RepositoryRef;
  path?: RepositoryPath;
}

/** The fields formatRepositoryUrl reads. */
export type RepositoryLocation = Pick<RepositoryContext, 'kind' | 'origin' | 'organization' | 'project' | 'repository'> &
  Partial<Pick<RepositoryContext, 'virtualDirectory' | 'collection' | 'ref' | 'path'>>;

export type NotAnAzureDevOpsUrlCode =
  | 'empty'
  | 'too-long'
  | 'control-character'
  | 'invalid-unicode'
  | 'unsupported-scheme'
  | 'malformed'
  | 'credentials'
  | 'unknown-host'
  | 'not-a-repository'
  | 'missing-organization'
  | 'missing-collection'
  | 'missing-project'
  | 'missing-repository'
  | 'unexpected-segments'
  | 'empty-segment'
  | 'path-traversal'
  | 'invalid-name'
  | 'invalid-encoding'
  | 'invalid-ref'
  | 'invalid-commit'
  | 'invalid-pull-request'
  | 'invalid-path'
  | 'invalid-line'
  | 'invalid-option';

/**
 * The only error parseRepositoryUrl throws. `reason` says what is wrong and, where it helps, what
 * the URL should look like. Messages never carry credentials: user info is never echoed, and
 * echoed fragments are truncated with PAT-shaped runs redacted.
 */
export class NotAnAzureDevOpsUrlError extends Error {
  override readonly name = 'NotAnAzureDevOpsUrlError';
  readonly code: NotAnAzureDevOpsUrlCode;
  readonly reason: string;

  constructor(code: NotAnAzureDevOpsUrlCode, reason: string) {
    super(`not an Azure DevOps repository URL: ${reason}`);
    this.code = code;
    this.reason = reason;
  }
}

function fail(code: NotAnAzureDevOpsUrlCode, reason: string): never {
  throw new NotAnAzureDevOpsUrlError(code, reason);
}

/** Quotes a piece of the input for an error message: redacted, truncated, one line. */
function quote(value: string): string {
  const redacted = redactAzureDevOpsPats(value);
  const short = redacted.length > 80 ? `${redacted.slice(0, 77)}...` : redacted;
  return JSON.stringify(short);
}

// C0, DEL, C1, the Unicode line/paragraph separators and the bidirectional overrides (which can
// make a name display as something else).
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const JWT_LIKE = /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+/;

// ---------------------------------------------------------------------------------------------
// Options

interface ResolvedServer {
  origin: string;
  host: string;
  hostname: string;
  virtualDirectory: string;
  vdirSegments: string[];
}

interface ResolvedOptions {
  servicesOrigins: string[];
  servers: ResolvedServer[];
}

function resolveOptions(options: ParseRepositoryUrlOptions): ResolvedOptions {
  const servicesOrigins = [SERVICES_ORIGIN];
  (options.servicesOrigins ?? []).forEach((value, i) => {
    const url = optionUrl(value, `servicesOrigins[${i}]`);
    if (url.pathname !== '/') fail('invalid-option', `servicesOrigins[${i}] must be a bare origin such as http://127.0.0.1:4000`);
    servicesOrigins.push(url.origin);
  });
  const servers = (options.serverHosts ?? []).map((config, i): ResolvedServer => {
    const url = optionUrl(config?.origin, `serverHosts[${i}].origin`);
    // An admin may write the virtual directory into the origin (https://tfs.example.com/tfs).
    const pathVdir = url.pathname === '/' ? '' : url.pathname;
    const configured: unknown = config.virtualDirectory;
    if (configured !== undefined && typeof configured !== 'string') {
      fail('invalid-option', `serverHosts[${i}].virtualDirectory must be a string such as /tfs`);
    }
    if (pathVdir !== '' && configured !== undefined) {
      fail('invalid-option', `serverHosts[${i}] has a path in its origin and a virtualDirectory; keep only one`);
    }
    const vdir = normalizeVirtualDirectory(configured ?? pathVdir, i);
    return {
      origin: url.origin,
      host: url.host,
      hostname: url.hostname,
      virtualDirectory: vdir,
      vdirSegments: vdir === '' ? [] : vdir.slice(1).split('/'),
    };
  });
  return { servicesOrigins, servers };
}

function optionUrl(value: unknown, label: string): URL {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value.trim()) : undefined;
  } catch {
    url = undefined;
  }
  // Option values are not echoed: an origin pasted with credentials would leak them.
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    fail('invalid-option', `${label} must be an http(s) origin such as https://tfs.example.com`);
  }
  if (url.username || url.password || url.search || url.hash) {
    fail('invalid-option', `${label} must be a bare origin without credentials, query or fragment`);
  }
  return url;
}

function normalizeVirtualDirectory(value: string, index: number): string {
  const trimmed = value.trim().replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return '';
  const segments = trimmed.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..') || /[?#\\%]/.test(trimmed) || CONTROL.test(trimmed)) {
    fail('invalid-option', `serverHosts[${index}].virtualDirectory must look like /tfs`);
  }
  return `/${trimmed}`;
}

// ---------------------------------------------------------------------------------------------
// Splitting the input

interface Located {
  scheme: 'http' | 'https' | 'ssh';
  user: string | undefined;
  hostname: string;
  /** '' when absent or the scheme's default. */
  port: string;
  /** Raw, '' or starting with '/'. */
  path: string;
  query: string;
  fragment: string;
}

// Schemes that are never a repository URL, caught before the scp-like and credential checks so
// `javascript:alert('a@b.c')` is called what it is.
const FOREIGN_SCHEMES = new Set([
  'javascript',
  'vbscript',
  'data',
  'file',
  'blob',
  'about',
  'mailto',
  'tel',
  'ftp',
  'git',
  'ws',
  'wss',
  'view-source',
  'chrome',
  'intent',
]);

function locate(text: string): Located {
  const urlForm = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(text);
  if (urlForm) {
    const scheme = urlForm[1]!.toLowerCase();
    if (scheme !== 'http' && scheme !== 'https' && scheme !== 'ssh') unsupportedScheme(scheme);
    return splitAuthority(scheme, urlForm[2]!);
  }
  const schemeLike = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(text);
  // "dev.azure.com:443/..." has a host, not a scheme, before its colon.
  const schemeName = schemeLike && !schemeLike[1]!.includes('.') ? schemeLike[1]!.toLowerCase() : undefined;
  if (schemeName !== undefined && FOREIGN_SCHEMES.has(schemeName)) unsupportedScheme(schemeName);

  // scp-like SSH, as git reads it: [user@]host:path with no "//" after the colon.
  const scp = /^(?:([^@/\s:?#]+)@)?([^@/\s:?#[\]]+):(?!\/\/)(.*)$/s.exec(text);
  if (scp && (scp[1] !== undefined || scp[2]!.includes('.')) && !/^\d+(?:[/?#]|$)/.test(scp[3]!)) {
    checkUserInfo(scp[1]);
    const hostname = normalizeHostname(scp[2]!);
    const rest = scp[3]!;
    const { path, query, fragment } = splitTail(rest.startsWith('/') ? rest : `/${rest}`);
    return { scheme: 'ssh', user: scp[1], hostname, port: '', path, query, fragment };
  }
  // user:password@host/... without a scheme.
  if (/^[^/?#\s@:]+:[^/?#\s@]*@[^/?#\s@:]*\./.test(text)) credentials();
  if (schemeName !== undefined) {
    if (schemeName === 'http' || schemeName === 'https' || schemeName === 'ssh') {
      fail('malformed', `"${schemeName}:" must be followed by "//"`);
    }
    unsupportedScheme(schemeName);
  }
  if (text.startsWith('//')) fail('malformed', 'the URL has no scheme; start it with https://');
  // A browser address bar often hides the scheme: dev.azure.com/org/project/_git/repo.
  const hostPart = text.split(/[/?#]/, 1)[0] ?? '';
  if (hostPart.includes('.') && !/\s/.test(hostPart)) return splitAuthority('https', text);
  fail('malformed', 'expected an https:// or SSH repository URL such as https://dev.azure.com/{organization}/{project}/_git/{repository}');
}

function unsupportedScheme(scheme: string): never {
  fail('unsupported-scheme', `${quote(`${scheme}:`)} URLs are not supported; use an https:// or SSH repository URL`);
}

function credentials(): never {
  fail('credentials', 'the URL contains credentials; remove the credentials from the URL (user name and password or token before "@")');
}

function checkUserInfo(userinfo: string | undefined): void {
  if (userinfo === undefined) return;
  // Any colon in user info is user:password syntax, even with an empty password.
  if (userinfo.includes(':')) credentials();
  // Peers paste the token as the user name (https://{PAT}@dev.azure.com/...).
  let decoded = userinfo;
  try {
    decoded = decodeURIComponent(userinfo);
  } catch {
    // Undecodable user info is judged as written.
  }
  if (looksLikeAzureDevOpsPat(decoded) || JWT_LIKE.test(decoded)) credentials();
}

function splitAuthority(scheme: Located['scheme'], rest: string): Located {
  const end = rest.search(/[/?#]/);
  const authority = end === -1 ? rest : rest.slice(0, end);
  const tail = end === -1 ? '' : rest.slice(end);
  // Browsers read "\" as "/" in http(s) URLs, so "https://evil.example\@dev.azure.com" goes to
  // evil.example. Refuse rather than guess.
  if (authority.includes('\\')) fail('malformed', 'the URL contains a backslash before the path');
  const at = authority.lastIndexOf('@');
  const userinfo = at === -1 ? undefined : authority.slice(0, at);
  checkUserInfo(userinfo);
  const hostport = at === -1 ? authority : authority.slice(at + 1);
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]*)(?::(\d*))?$/.exec(hostport);
  if (!m || m[1] === '') fail('malformed', hostport === '' ? 'the URL has no host' : `the host ${quote(hostport)} is not valid`);
  const hostname = normalizeHostname(m[1]!);
  let port = m[2] ?? '';
  if (port !== '') {
    const n = Number(port);
    if (!/^\d{1,5}$/.test(port) || n < 1 || n > 65535) fail('malformed', `the port ${quote(port)} is not valid`);
    port = String(n);
    const defaultPort = scheme === 'https' ? '443' : scheme === 'http' ? '80' : '22';
    if (port === defaultPort) port = '';
  }
  const { path, query, fragment } = splitTail(tail);
  if (path.includes('\\')) fail('malformed', 'the URL path contains a backslash');
  return { scheme, user: userinfo, hostname, port, path, query, fragment };
}

function normalizeHostname(raw: string): string {
  if (raw === '' || /[\s%<>"'`{}|^\\]/.test(raw)) fail('malformed', `the host ${quote(raw)} is not valid`);
  try {
    // Lower-cases, converts IDN to punycode, canonicalizes IPv4. No I/O.
    return new URL(`http://${raw}/`).hostname;
  } catch {
    fail('malformed', `the host ${quote(raw)} is not valid`);
  }
}

function splitTail(tail: string): { path: string; query: string; fragment: string } {
  const hash = tail.indexOf('#');
  const fragment = hash === -1 ? '' : tail.slice(hash + 1);
  const beforeHash = hash === -1 ? tail : tail.slice(0, hash);
  const q = beforeHash.indexOf('?');
  return {
    path: q === -1 ? beforeHash : beforeHash.slice(0, q),
    query: q === -1 ? '' : beforeHash.slice(q + 1),
    fragment,
  };
}

// ---------------------------------------------------------------------------------------------
// Names and segments

// decodeURIComponent leaves "+" alone, which is right: Azure DevOps encodes spaces as %20 and a
// "+" in its URLs is a literal plus. The form-encoding rule "+ means space" (URLSearchParams)
// does not apply.
function decode(raw: string, where: string): string {
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    fail('invalid-encoding', `malformed percent-encoding in the ${where}`);
  }
  if (CONTROL.test(value)) fail('control-character', `the ${where} contains an encoded control character`);
  return value;
}

function decodePath(path: string): string[] {
  if (path === '') return [];
  const parts = path.slice(1).split('/');
  // A trailing slash is browser junk; an empty segment anywhere else is not.
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts.map((raw) => {
    if (raw === '') fail('empty-segment', 'the path has an empty segment ("//")');
    const value = decode(raw, 'path');
    if (value === '.' || value === '..') fail('path-traversal', 'the path contains a "." or ".." segment');
    return value;
  });
}

type NameLabel = 'organization' | 'collection' | 'project' | 'repository';

// Azure DevOps' own naming rules are looser through the API than in the UI (see "Naming
// restrictions" on learn.microsoft.com), so only what cannot be a name, or would be dangerous
// downstream, is refused here; the API answers for the rest.
function checkName(value: string, label: NameLabel): string {
  if (value === '') fail(label === 'repository' ? 'missing-repository' : 'invalid-name', `the ${label} name is empty`);
  if (value.split(/[/\\]/).some((s) => s === '..' || s === '.')) {
    fail('path-traversal', `the ${label} name ${quote(value)} contains a ".." path segment`);
  }
  if (/[/\\]/.test(value)) fail('invalid-name', `the ${label} name ${quote(value)} contains a slash`);
  // Project, repository and collection names cannot start with "_"; such segments are routes
  // (_git, _apis, _build, _usersSettings).
  if (value.startsWith('_')) fail('invalid-name', `${quote(value)} is an Azure DevOps route, not a ${label} name`);
  return value;
}

function stripGitSuffix(repository: string): string {
  // Clone URLs carry a ".git" suffix git adds or users type. A repository really named "x.git"
  // then reads as "x"; accepted, because the suffix is far more often junk than a name. Every
  // trailing ".git" goes, so a parsed name never ends in ".git" and parsing its URL again is stable.
  return repository.replace(/(?:\.git)+$/i, '');
}

// ---------------------------------------------------------------------------------------------
// Repository paths

interface RepositoryPathParts {
  owner: string | undefined;
  project: string;
  repository: string;
  rest: string[];
}

function splitRepositoryPath(
  segments: string[],
  markers: readonly string[],
  owner: 'organization' | 'collection' | undefined,
  expected: string,
): RepositoryPathParts {
  const idx = segments.findIndex((s) => markers.includes(s.toLowerCase()));
  if (idx === -1) noGitSegment(segments, expected, markers[0]!);
  const before = segments.slice(0, idx);
  let ownerName: string | undefined;
  if (owner !== undefined) {
    ownerName = before.shift();
    if (ownerName === undefined)
      fail(owner === 'organization' ? 'missing-organization' : 'missing-collection', `the ${owner} is missing; expected ${expected}`);
    checkName(ownerName, owner);
  }
  if (before.length > 1) {
    fail('unexpected-segments', `expected one project name before /${markers[0]}/, found ${quote(before.join('/'))}; expected ${expected}`);
  }
  const repoSegment = segments[idx + 1];
  if (repoSegment === undefined) fail('missing-repository', `the repository name is missing after /${markers[0]}/; expected ${expected}`);
  const rest = segments.slice(idx + 2);
  const repository = checkName(stripGitSuffix(repoSegment), 'repository');
  // /{org}/_git/{repo}: the repository is named like its project, and the API itself returns
  // this short form for such repositories.
  const project = before.length === 1 ? checkName(before[0]!, 'project') : repository;
  return { owner: ownerName, project, repository, rest };
}

function noGitSegment(segments: string[], expected: string, marker: string): never {
  const page = segments.find((s) => s.startsWith('_'));
  if (page !== undefined && page.toLowerCase() === '_apis') {
    fail('not-a-repository', `this is a REST API URL, not a repository URL; expected ${expected}`);
  }
  if (page !== undefined) {
    fail('not-a-repository', `this is an Azure DevOps ${quote(page)} page, not a Git repository; expected ${expected}`);
  }
  if (segments.length === 0) fail('not-a-repository', `the URL names no repository; expected ${expected}`);
  fail('not-a-repository', `the path has no "/${marker}/" segment; expected ${expected}`);
}

// ---------------------------------------------------------------------------------------------
// Refs, pages and file paths (web URLs only)

const SHA_FULL = /^[0-9a-f]{40}$/i;
// /commit/{id} pages resolve abbreviated ids like git does; 7 is git's own default abbreviation.
// version=GC{id} is always written by Azure DevOps with the full id, so it must be 40.
const SHA_ABBREVIATED = /^[0-9a-f]{7,40}$/i;
const MAX_INT32 = 2147483647;

/** The ref a page after `_git/{repo}` names, if any. */
function parseRoute(rest: string[]): RepositoryRef | undefined {
  if (rest.length === 0) return undefined;
  const first = rest[0]!.toLowerCase();
  if (first === 'commit') {
    const sha = rest[1];
    if (sha === undefined) fail('invalid-commit', 'the commit id is missing after /commit/');
    if (!SHA_ABBREVIATED.test(sha)) fail('invalid-commit', `${quote(sha)} is not a commit id (7 to 40 hexadecimal digits)`);
    if (rest.length > 2) unexpectedAfterRepository(rest);
    return { type: 'commit', sha: sha.toLowerCase() };
  }
  if (first === 'pullrequest') {
    const id = rest[1];
    if (id === undefined) fail('invalid-pull-request', 'the pull request id is missing after /pullrequest/');
    if (rest.length > 2) unexpectedAfterRepository(rest);
    return { type: 'pullRequest', pullRequestId: parsePullRequestId(id) };
  }
  // List pages (branches, tags, commits, pushes, pullrequests, pullrequestcreate, ...): the
  // repository is what matters; the page adds no ref. Deeper unknown paths are refused.
  if (rest.length === 1 && /^[a-z][a-z0-9-]*$/i.test(rest[0]!)) return undefined;
  unexpectedAfterRepository(rest);
}

function unexpectedAfterRepository(rest: string[]): never {
  fail('unexpected-segments', `unexpected ${quote(`/${rest.join('/')}`)} after the repository name`);
}

function parsePullRequestId(id: string): number {
  const n = /^\d{1,10}$/.test(id) ? Number(id) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_INT32) {
    fail('invalid-pull-request', `${quote(id)} is not a pull request id (a whole number from 1 to ${MAX_INT32})`);
  }
  return n;
}

function parseParams(raw: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const pair of raw.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    let key: string;
    try {
      key = decodeURIComponent(eq === -1 ? pair : pair.slice(0, eq)).toLowerCase();
    } catch {
      continue; // junk parameters are ignored, whatever their encoding
    }
    // The first occurrence wins, as in Azure DevOps' own router.
    if (!params.has(key)) params.set(key, eq === -1 ? '' : pair.slice(eq + 1));
  }
  return params;
}

function parseVersion(raw: string): RepositoryRef | undefined {
  const value = decode(raw, 'version parameter');
  if (value === '') return undefined;
  const prefix = value.slice(0, 2).toUpperCase();
  const name = value.slice(2);
  if (prefix === 'GB') return { type: 'branch', name: checkRefName(name, 'branch') };
  if (prefix === 'GT') return { type: 'tag', name: checkRefName(name, 'tag') };
  if (prefix === 'GC') {
    if (!SHA_FULL.test(name)) fail('invalid-commit', `version=GC needs a full 40-digit commit id, found ${quote(name)}`);
    return { type: 'commit', sha: name.toLowerCase() };
  }
  fail('invalid-ref', `version ${quote(value)} must start with GB (branch), GT (tag) or GC (commit)`);
}

/** The rules of `git check-ref-format` that apply to a branch or tag name. */
function checkRefName(name: string, label: 'branch' | 'tag'): string {
  if (name === '') fail('invalid-ref', `the ${label} name is empty`);
  if (name.includes('..')) fail('path-traversal', `the ${label} name ${quote(name)} contains ".."`);
  if (/[\s~^:?*[\\]/.test(name) || name.includes('@{') || name === '@') {
    fail('invalid-ref', `the ${label} name ${quote(name)} contains a character git does not allow in ref names`);
  }
  if (name.startsWith('/') || name.endsWith('/') || name.includes('//') || name.endsWith('.')) {
    fail('invalid-ref', `the ${label} name ${quote(name)} is not a valid git ref name`);
  }
  if (name.split('/').some((c) => c.startsWith('.') || c.endsWith('.lock'))) {
    fail('invalid-ref', `the ${label} name ${quote(name)} is not a valid git ref name`);
  }
  return name;
}

function parseFilePath(raw: string): string | undefined {
  const value = decode(raw, 'path parameter');
  if (value === '') return undefined;
  const absolute = value.startsWith('/') ? value : `/${value}`;
  if (absolute === '/') return '/';
  const parts = absolute.slice(1).split('/');
  while (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  if (parts.some((p) => p === '..' || p === '.')) fail('path-traversal', 'the path parameter contains a "." or ".." segment');
  if (parts.some((p) => p === '')) fail('invalid-path', 'the path parameter has an empty segment ("//")');
  return `/${parts.join('/')}`;
}

function parseLine(raw: string, name: string): number {
  const value = decode(raw, `${name} parameter`);
  const n = /^\d{1,10}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_INT32) fail('invalid-line', `${name}=${quote(value)} is not a line number`);
  return n;
}

function parseWebExtras(located: Located, rest: string[]): { ref?: RepositoryRef; path?: RepositoryPath } {
  let params = parseParams(located.query);
  // TFS 2015-era links carried the parameters in the fragment (#path=...&version=GB...).
  if (!params.has('path') && !params.has('version') && /(?:^|&)(?:path|version)=/i.test(located.fragment)) {
    params = parseParams(located.fragment);
  }
  let ref = parseRoute(rest);
  // A branch comparison (`…/_git/{repo}/branchCompare?baseVersion=GBmain&targetVersion=GBfeature`)
  // shows what targetVersion adds to baseVersion: the branch to open is targetVersion.
  if (rest.length === 1 && rest[0]!.toLowerCase() === 'branchcompare') {
    const target = params.get('targetversion');
    if (target === undefined || target === '') {
      fail(
        'invalid-ref',
        "this branch comparison (branchCompare) names no targetVersion, so it is not clear which branch to open; use the branch's own URL (…/_git/{repository}?version=GB{branch})",
      );
    }
    ref = parseVersion(target);
  }
  const version = params.get('version');
  // On /commit/ and /pullrequest/ pages the route names the ref; a version parameter there only
  // says where the user came from.
  if (ref === undefined && version !== undefined) ref = parseVersion(version);

  const rawPath = params.get('path');
  const filePath = rawPath === undefined ? undefined : parseFilePath(rawPath);
  let path: RepositoryPath | undefined;
  if (filePath !== undefined) {
    path = { path: filePath };
    const line = params.get('line');
    const lineEnd = params.get('lineend');
    if (line !== undefined && line !== '') {
      path.line = parseLine(line, 'line');
      if (lineEnd !== undefined && lineEnd !== '') {
        path.lineEnd = parseLine(lineEnd, 'lineEnd');
        if (path.lineEnd < path.line) fail('invalid-line', `lineEnd=${path.lineEnd} comes before line=${path.line}`);
      }
    }
  }
  return { ...(ref ? { ref } : {}), ...(path ? { path } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Hosts

const VISUALSTUDIO_HOST = /^([a-z0-9][a-z0-9-]*)\.visualstudio\.com$/;
// Service hosts under visualstudio.com that are not organizations.
const RESERVED_VISUALSTUDIO_LABELS = new Set(['app', 'www', 'vs-ssh', 'marketplace', 'aex', 'vssps', 'vsrm', 'status', 'go', 'my']);

function visualStudioOrganization(hostname: string): string | undefined {
  const m = VISUALSTUDIO_HOST.exec(hostname);
  return m && !RESERVED_VISUALSTUDIO_LABELS.has(m[1]!) ? m[1] : undefined;
}

function originOf(located: Located): string {
  return `${located.scheme}://${located.hostname}${located.port ? `:${located.port}` : ''}`;
}

function unknownHost(located: Located, options: ResolvedOptions): never {
  const h = located.hostname;
  if (located.scheme !== 'ssh' && (h === 'ssh.dev.azure.com' || h === 'vs-ssh.visualstudio.com')) {
    fail(
      'unknown-host',
      `${quote(h)} serves SSH only; use git@ssh.dev.azure.com:v3/{organization}/{project}/{repository} or https://dev.azure.com/{organization}/{project}/_git/{repository}`,
    );
  }
  if (located.scheme === 'ssh' && h === SERVICES_HOST) {
    fail(
      'unknown-host',
      'SSH goes to ssh.dev.azure.com, not dev.azure.com; expected git@ssh.dev.azure.com:v3/{organization}/{project}/{repository}',
    );
  }
  if (h === SERVICES_HOST || visualStudioOrganization(h) !== undefined) {
    fail('unknown-host', `unexpected port ${quote(located.port)} on ${h}`);
  }
  if (h.endsWith('.dev.azure.com') || h.endsWith('.visualstudio.com') || h === 'visualstudio.com') {
    fail(
      'unknown-host',
      `${quote(h)} is an Azure DevOps service host, not where repositories live; expected https://dev.azure.com/{organization}/{project}/_git/{repository}`,
    );
  }
  const sameHost = options.servers.find((s) => s.hostname === h);
  if (sameHost && located.scheme !== 'ssh') {
    fail(
      'unknown-host',
      `${quote(originOf(located))} does not match the configured Azure DevOps Server origin ${sameHost.origin} (scheme or port differ)`,
    );
  }
  fail(
    'unknown-host',
    `${quote(h)} is not an Azure DevOps host; expected dev.azure.com, {organization}.visualstudio.com or a configured Azure DevOps Server`,
  );
}

function matchVirtualDirectory(candidates: ResolvedServer[], segments: string[]): { server: ResolvedServer; remaining: string[] } {
  const longestFirst = [...candidates].sort((a, b) => b.vdirSegments.length - a.vdirSegments.length);
  for (const server of longestFirst) {
    if (server.vdirSegments.every((v, i) => segments[i]?.toLowerCase() === v.toLowerCase())) {
      return { server, remaining: segments.slice(server.vdirSegments.length) };
    }
  }
  const first = longestFirst[0]!;
  fail(
    'not-a-repository',
    `the path does not start with the virtual directory ${quote(first.virtualDirectory)} configured for ${first.origin}`,
  );
}

type Parsed = Omit<RepositoryContext, 'cloneUrl' | 'webUrl'>;

function servicesContext(origin: string, organization: string, parts: RepositoryPathParts): Parsed {
  return { kind: 'services', host: new URL(origin).host, origin, organization, project: parts.project, repository: parts.repository };
}

function serverContext(server: ResolvedServer, parts: RepositoryPathParts): Parsed {
  const collection = parts.owner!;
  return {
    kind: 'server',
    host: server.host,
    origin: server.origin,
    virtualDirectory: server.virtualDirectory,
    organization: collection,
    collection,
    project: parts.project,
    repository: parts.repository,
  };
}

function parseServerPath(candidates: ResolvedServer[], segments: string[], markers: readonly string[]): Parsed & { rest: string[] } {
  const { server, remaining } = matchVirtualDirectory(candidates, segments);
  const expected = `${server.origin}${server.virtualDirectory}/{collection}/{project}/_git/{repository}`;
  const parts = splitRepositoryPath(remaining, markers, 'collection', expected);
  return { ...serverContext(server, parts), rest: parts.rest };
}

function parseHttp(located: Located, options: ResolvedOptions): Parsed {
  const origin = originOf(located);
  let parsed: Parsed & { rest: string[] };
  const servicesOrigin =
    // http://dev.azure.com is the same service (it redirects); the canonical URLs are https.
    located.hostname === SERVICES_HOST && located.port === '' ? SERVICES_ORIGIN : options.servicesOrigins.find((o) => o === origin);
  const servers = options.servers.filter((s) => s.origin === origin);
  const vsOrganization = located.port === '' ? visualStudioOrganization(located.hostname) : undefined;
  if (servicesOrigin === undefined && servers.length === 0 && vsOrganization === undefined) unknownHost(located, options);
  const segments = decodePath(located.path);
  if (servicesOrigin !== undefined) {
    const expected = `${servicesOrigin}/{organization}/{project}/_git/{repository}`;
    const parts = splitRepositoryPath(segments, ['_git'], 'organization', expected);
    parsed = { ...servicesContext(servicesOrigin, parts.owner!, parts), rest: parts.rest };
  } else if (servers.length > 0) {
    parsed = parseServerPath(servers, segments, ['_git']);
  } else {
    // {org}.visualstudio.com and dev.azure.com/{org} serve the same organization, and the REST API
    // answers with dev.azure.com URLs, so the canonical form is dev.azure.com.
    const afterCollection = segments[0]?.toLowerCase() === 'defaultcollection' ? segments.slice(1) : segments;
    const expected = `https://${located.hostname}/{project}/_git/{repository}`;
    const parts = splitRepositoryPath(afterCollection, ['_git'], undefined, expected);
    parsed = { ...servicesContext(SERVICES_ORIGIN, vsOrganization!, parts), rest: parts.rest };
  }
  const { rest, ...context } = parsed;
  return { ...context, ...parseWebExtras(located, rest) };
}

function parseSsh(located: Located, options: ResolvedOptions): Parsed {
  if (located.query !== '' || located.fragment !== '') fail('malformed', 'SSH URLs have no query or fragment ("?" or "#")');
  const h = located.hostname;
  const servers = options.servers.filter((s) => s.hostname === h);
  const known = h === 'ssh.dev.azure.com' || h === 'vs-ssh.visualstudio.com' || visualStudioOrganization(h) !== undefined;
  if (!known && servers.length === 0) unknownHost(located, options);
  const segments = decodePath(located.path);
  if (h === 'ssh.dev.azure.com' || (h === 'vs-ssh.visualstudio.com' && segments[0]?.toLowerCase() === 'v3')) {
    return parseSshV3(segments, h);
  }
  let parsed: Parsed & { rest: string[] };
  const vsOrganization = h === 'vs-ssh.visualstudio.com' ? legacySshOrganization(located.user) : visualStudioOrganization(h);
  if (vsOrganization !== undefined) {
    // ssh://{org}@vs-ssh.visualstudio.com:22/[DefaultCollection/]{project}/_ssh/{repo}
    const afterCollection = segments[0]?.toLowerCase() === 'defaultcollection' ? segments.slice(1) : segments;
    const expected = `ssh://{organization}@vs-ssh.visualstudio.com:22/{project}/_ssh/{repository}`;
    const parts = splitRepositoryPath(afterCollection, ['_ssh', '_git'], undefined, expected);
    parsed = { ...servicesContext(SERVICES_ORIGIN, checkName(vsOrganization, 'organization'), parts), rest: parts.rest };
  } else {
    // Server SSH: ssh://host:22/{vdir}/{collection}/{project}/_git/{repo}; the port is SSH's own,
    // so the host name alone picks the server.
    parsed = parseServerPath(servers, segments, ['_git', '_ssh']);
  }
  const { rest, ...context } = parsed;
  if (rest.length > 0) fail('unexpected-segments', `unexpected ${quote(`/${rest.join('/')}`)} after the repository name in an SSH URL`);
  return context;
}

function legacySshOrganization(user: string | undefined): string {
  if (user === undefined || user === '' || user.toLowerCase() === 'git') {
    fail(
      'missing-organization',
      'the organization is missing: on vs-ssh.visualstudio.com it is the user name, as in ssh://{organization}@vs-ssh.visualstudio.com:22/{project}/_ssh/{repository}',
    );
  }
  return decode(user, 'user name');
}

function parseSshV3(segments: string[], host: string): Parsed {
  const expected = `git@${host}:v3/{organization}/{project}/{repository}`;
  if (segments[0]?.toLowerCase() !== 'v3') fail('not-a-repository', `SSH paths on ${host} start with v3/; expected ${expected}`);
  const [organization, project, repository, ...extra] = segments.slice(1);
  if (organization === undefined) fail('missing-organization', `the organization is missing; expected ${expected}`);
  if (project === undefined) fail('missing-project', `the project is missing; expected ${expected}`);
  if (repository === undefined)
    fail('missing-repository', `the repository is missing; expected ${expected} (the SSH form always names the project)`);
  if (extra.length > 0)
    fail('unexpected-segments', `unexpected ${quote(`/${extra.join('/')}`)} after the repository name; expected ${expected}`);
  return {
    kind: 'services',
    host: SERVICES_HOST,
    origin: SERVICES_ORIGIN,
    organization: checkName(organization, 'organization'),
    project: checkName(project, 'project'),
    repository: checkName(stripGitSuffix(repository), 'repository'),
  };
}

// ---------------------------------------------------------------------------------------------
// Public API

/**
 * Parses any Azure DevOps repository URL form (dev.azure.com, {org}.visualstudio.com, Azure DevOps
 * Server with collection and virtual directory, SSH; with branch, tag, commit, pull request and
 * file path) into a canonical context. Throws NotAnAzureDevOpsUrlError and nothing else.
 */
export function parseRepositoryUrl(input: string, options?: ParseRepositoryUrlOptions): RepositoryContext {
  const resolved = resolveOptions(options ?? {});
  if (typeof input !== 'string') fail('empty', 'expected the URL as a string');
  const text = input.trim();
  if (text === '') fail('empty', 'the URL is empty');
  if (text.length > MAX_REPOSITORY_URL_LENGTH) {
    fail('too-long', `the URL is ${text.length} characters long; the limit is ${MAX_REPOSITORY_URL_LENGTH}`);
  }
  if (CONTROL.test(text)) fail('control-character', 'the URL contains a control character (line break, tab or similar)');
  if (LONE_SURROGATE.test(text)) fail('invalid-unicode', 'the URL contains an unpaired UTF-16 surrogate');

  const located = locate(text);
  const parsed = located.scheme === 'ssh' ? parseSsh(located, resolved) : parseHttp(located, resolved);
  const { ref, path, ...identity } = parsed;
  return {
    ...identity,
    cloneUrl: repositoryBaseUrl(parsed),
    webUrl: formatRepositoryUrl(parsed),
    ...(ref ? { ref } : {}),
    ...(path ? { path } : {}),
  };
}

function repositoryBaseUrl(location: RepositoryLocation): string {
  const owner =
    location.kind === 'server'
      ? `${location.virtualDirectory ?? ''}/${encodeURIComponent(location.collection ?? location.organization)}`
      : `/${encodeURIComponent(location.organization)}`;
  return `${location.origin}${owner}/${encodeURIComponent(location.project)}/_git/${encodeURIComponent(location.repository)}`;
}

/**
 * The canonical web URL for a location; parseRepositoryUrl(formatRepositoryUrl(x)) gives back x
 * (with the server configured). Always the full `{project}/_git/{repo}` form. Expects names as a
 * parse produces them (no lone surrogates: encodeURIComponent throws on those).
 */
export function formatRepositoryUrl(location: RepositoryLocation): string {
  const base = repositoryBaseUrl(location);
  const { ref, path } = location;
  const params: string[] = [];
  const addPath = (): void => {
    if (!path) return;
    params.push(`path=${encodeURIComponent(path.path)}`);
  };
  const addLines = (): void => {
    if (path?.line !== undefined) params.push(`line=${path.line}`);
    if (path?.line !== undefined && path.lineEnd !== undefined) params.push(`lineEnd=${path.lineEnd}`);
  };
  const query = (): string => (params.length > 0 ? `?${params.join('&')}` : '');

  if (ref?.type === 'pullRequest') {
    if (path) params.push('_a=files');
    addPath();
    addLines();
    return `${base}/pullrequest/${ref.pullRequestId}${query()}`;
  }
  // A file at a full commit id is a file view (version=GC...); anything else at a commit is the
  // commit page, which also accepts abbreviated ids.
  if (ref?.type === 'commit' && !(path && SHA_FULL.test(ref.sha))) {
    addPath();
    addLines();
    return `${base}/commit/${ref.sha}${query()}`;
  }
  addPath();
  if (ref?.type === 'branch') params.push(`version=GB${encodeURIComponent(ref.name)}`);
  if (ref?.type === 'tag') params.push(`version=GT${encodeURIComponent(ref.name)}`);
  if (ref?.type === 'commit') params.push(`version=GC${ref.sha}`);
  addLines();
  if (path) params.push('_a=contents');
  return `${base}${query()}`;
}

/**
 * Azure DevOps compares organization, project and repository names case-insensitively. Compared
 * after NFC normalization so a name typed with combining accents matches the stored one.
 */
export function repositoryNamesEqual(a: string, b: string): boolean {
  return a.normalize('NFC').toLowerCase() === b.normalize('NFC').toLowerCase();
}

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** `keyway context parse URL`: pretty JSON and exit 0, or one `keyway: ...` error line and exit 2. */
export function parseContextUrlCommand(url: string, options: ParseRepositoryUrlOptions = {}): CommandResult {
  try {
    const context = parseRepositoryUrl(url, options);
    return { exitCode: 0, stdout: `${JSON.stringify(context, null, 2)}\n`, stderr: '' };
  } catch (error) {
    if (!(error instanceof NotAnAzureDevOpsUrlError)) throw error;
    return { exitCode: 2, stdout: '', stderr: `keyway: ${error.message.replace(/[\r\n]+/g, ' ')}\n` };
  }
}
