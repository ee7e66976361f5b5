// Table of repository URLs for url.test.ts: what each form must parse to, and why each reject is
// rejected. Secret-looking values are generated at load time, never written out.

import { randomUUID } from 'node:crypto';
import type { NotAnAzureDevOpsUrlCode, ParseRepositoryUrlOptions, RepositoryContext, RepositoryPath, RepositoryRef } from './url.ts';

export interface AcceptCase {
  url: string;
  options?: ParseRepositoryUrlOptions;
  /** Checked field by field; `ref` and `path` are checked even when absent (must then be absent). */
  expect: Partial<RepositoryContext> & { organization: string; project: string; repository: string };
}

export interface RejectCase {
  url: string;
  options?: ParseRepositoryUrlOptions;
  code: NotAnAzureDevOpsUrlCode;
  /** A fragment the reason must contain. */
  reason: string;
  /** Strings the message must not contain (credentials). */
  secrets?: string[];
}

export const CANARY = `canary-${randomUUID()}`;
// Shapes of Azure DevOps PATs, built at run time from a fixed pattern: legacy 52 x [a-z2-7],
// current 84 with AZDO at 76..79.
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
export const FAKE_LEGACY_PAT = Array.from({ length: 52 }, (_, i) => BASE32[(i * 7 + 3) % 32]).join('');
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
export const FAKE_CURRENT_PAT = Array.from({ length: 76 }, (_, i) => ALNUM[(i * 11 + 5) % ALNUM.length]).join('') + 'AZDO' + 'Q7x2';

const SHA = '3f786850e387550fdab836ed7e6dc881de23001b';
const SHA_UPPER = SHA.toUpperCase();

const TFS: ParseRepositoryUrlOptions = { serverHosts: [{ origin: 'https://tfs.example.com', virtualDirectory: '/tfs' }] };
const LOCAL_SERVER: ParseRepositoryUrlOptions = { serverHosts: [{ origin: 'http://127.0.0.1:4321', virtualDirectory: '' }] };
const TWO_VDIRS: ParseRepositoryUrlOptions = {
  serverHosts: [
    { origin: 'https://tfs.example.com', virtualDirectory: '' },
    { origin: 'https://tfs.example.com', virtualDirectory: '/tfs' },
  ],
};
const EMULATOR: ParseRepositoryUrlOptions = { servicesOrigins: ['http://127.0.0.1:4000'] };

const WEB = { organization: 'contoso', project: 'Fabrikam', repository: 'web' } as const;
const WEB_CLONE = 'https://dev.azure.com/contoso/Fabrikam/_git/web';
const D = 'https://dev.azure.com/contoso/Fabrikam/_git/web';

function services(extra: Partial<RepositoryContext> = {}): AcceptCase['expect'] {
  return { kind: 'services', host: 'dev.azure.com', origin: 'https://dev.azure.com', ...WEB, cloneUrl: WEB_CLONE, ...extra };
}
function tfs(collection: string, project: string, repository: string, extra: Partial<RepositoryContext> = {}): AcceptCase['expect'] {
  return {
    kind: 'server',
    host: 'tfs.example.com',
    origin: 'https://tfs.example.com',
    virtualDirectory: '/tfs',
    organization: collection,
    collection,
    project,
    repository,
    ...extra,
  };
}
const branch = (name: string): RepositoryRef => ({ type: 'branch', name });
const tag = (name: string): RepositoryRef => ({ type: 'tag', name });
const commit = (sha: string): RepositoryRef => ({ type: 'commit', sha });
const pr = (pullRequestId: number): RepositoryRef => ({ type: 'pullRequest', pullRequestId });
const file = (path: string, line?: number, lineEnd?: number): RepositoryPath => ({
  path,
  ...(line !== undefined ? { line } : {}),
  ...(lineEnd !== undefined ? { lineEnd } : {}),
});

export const ACCEPT: AcceptCase[] = [
  // dev.azure.com
  { url: D, expect: services({ webUrl: WEB_CLONE }) },
  { url: 'https://contoso@dev.azure.com/contoso/Fabrikam/_git/web', expect: services() },
  {
    url: 'https://dev.azure.com/contoso/_git/Fabrikam',
    expect: {
      organization: 'contoso',
      project: 'Fabrikam',
      repository: 'Fabrikam',
      cloneUrl: 'https://dev.azure.com/contoso/Fabrikam/_git/Fabrikam',
    },
  },
  { url: 'https://dev.azure.com/contoso/Fabrikam/_GIT/web', expect: services() },
  // {org}.visualstudio.com normalizes to dev.azure.com
  { url: 'https://contoso.visualstudio.com/Fabrikam/_git/web', expect: services({ webUrl: WEB_CLONE }) },
  { url: 'https://contoso.visualstudio.com/DefaultCollection/Fabrikam/_git/web', expect: services() },
  {
    url: 'https://contoso.visualstudio.com/_git/web',
    expect: { ...WEB, project: 'web', cloneUrl: 'https://dev.azure.com/contoso/web/_git/web' },
  },
  { url: 'https://contoso.visualstudio.com/DefaultCollection/_git/web', expect: { ...WEB, project: 'web' } },
  { url: 'https://contoso.visualstudio.com/Fabrikam/_git/web/pullrequest/5', expect: services({ ref: pr(5) }) },
  // Azure DevOps Server
  {
    url: 'https://tfs.example.com/tfs/DefaultCollection/Fabrikam/_git/web',
    options: TFS,
    expect: tfs('DefaultCollection', 'Fabrikam', 'web', { cloneUrl: 'https://tfs.example.com/tfs/DefaultCollection/Fabrikam/_git/web' }),
  },
  {
    url: 'https://tfs.example.com/tfs/DefaultCollection/_git/web',
    options: TFS,
    expect: tfs('DefaultCollection', 'web', 'web', { cloneUrl: 'https://tfs.example.com/tfs/DefaultCollection/web/_git/web' }),
  },
  {
    url: 'https://tfs.example.com/TFS/DefaultCollection/Fabrikam/_git/web',
    options: TFS,
    expect: tfs('DefaultCollection', 'Fabrikam', 'web'),
  },
  {
    url: 'https://tfs.example.com/tfs/DefaultCollection/Fabrikam/_git/web',
    options: { serverHosts: [{ origin: 'https://tfs.example.com/tfs/' }] },
    expect: tfs('DefaultCollection', 'Fabrikam', 'web'),
  },
  {
    url: 'http://127.0.0.1:4321/Coll/Proj/_git/repo?version=GBmain',
    options: LOCAL_SERVER,
    expect: {
      kind: 'server',
      host: '127.0.0.1:4321',
      origin: 'http://127.0.0.1:4321',
      virtualDirectory: '',
      organization: 'Coll',
      collection: 'Coll',
      project: 'Proj',
      repository: 'repo',
      cloneUrl: 'http://127.0.0.1:4321/Coll/Proj/_git/repo',
      webUrl: 'http://127.0.0.1:4321/Coll/Proj/_git/repo?version=GBmain',
      ref: branch('main'),
    },
  },
  { url: 'https://tfs.example.com/tfs/Coll/P/_git/r', options: TWO_VDIRS, expect: tfs('Coll', 'P', 'r') },
  { url: 'https://tfs.example.com/Coll/P/_git/r', options: TWO_VDIRS, expect: tfs('Coll', 'P', 'r', { virtualDirectory: '' }) },
  {
    url: 'https://tfs.example.com/tfs/DefaultCollection/Fabrikam/_git/web/pullrequest/12?_a=files',
    options: TFS,
    expect: tfs('DefaultCollection', 'Fabrikam', 'web', { ref: pr(12) }),
  },
  // SSH
  { url: 'git@ssh.dev.azure.com:v3/contoso/Fabrikam/web', expect: services({ webUrl: WEB_CLONE }) },
  { url: 'ssh://git@ssh.dev.azure.com/v3/contoso/Fabrikam/web', expect: services() },
  { url: 'ssh://git@ssh.dev.azure.com:22/v3/contoso/Fabrikam/web.git', expect: services() },
  { url: 'contoso@vs-ssh.visualstudio.com:v3/contoso/Fabrikam/web', expect: services() },
  { url: 'ssh://contoso@vs-ssh.visualstudio.com:22/Fabrikam/_ssh/web', expect: services() },
  { url: 'ssh://contoso@vs-ssh.visualstudio.com:22/DefaultCollection/Fabrikam/_ssh/web', expect: services() },
  { url: 'ssh://contoso@vs-ssh.visualstudio.com:22/DefaultCollection/_ssh/web', expect: { ...WEB, project: 'web' } },
  {
    url: 'ssh://tfs.example.com:22/tfs/DefaultCollection/Fabrikam/_git/web',
    options: TFS,
    expect: tfs('DefaultCollection', 'Fabrikam', 'web'),
  },
  {
    url: 'ssh://tfs.example.com:22/tfs/DefaultCollection/Fabrikam/_ssh/web',
    options: TFS,
    expect: tfs('DefaultCollection', 'Fabrikam', 'web'),
  },
  { url: 'git@tfs.example.com:tfs/DefaultCollection/Fabrikam/_git/web', options: TFS, expect: tfs('DefaultCollection', 'Fabrikam', 'web') },
  {
    url: 'git@ssh.dev.azure.com:v3/contoso/My%20Project/My%20Repo',
    expect: {
      organization: 'contoso',
      project: 'My Project',
      repository: 'My Repo',
      cloneUrl: 'https://dev.azure.com/contoso/My%20Project/_git/My%20Repo',
    },
  },
  // Names: spaces, plus, unicode, punctuation
  {
    url: 'https://dev.azure.com/contoso/My%20Project/_git/My%20Repo',
    expect: {
      organization: 'contoso',
      project: 'My Project',
      repository: 'My Repo',
      cloneUrl: 'https://dev.azure.com/contoso/My%20Project/_git/My%20Repo',
    },
  },
  {
    url: 'https://dev.azure.com/contoso/My Project/_git/My Repo',
    expect: { organization: 'contoso', project: 'My Project', repository: 'My Repo' },
  },
  {
    url: 'https://dev.azure.com/contoso/C%2B%2B/_git/a+b',
    expect: { organization: 'contoso', project: 'C++', repository: 'a+b', cloneUrl: 'https://dev.azure.com/contoso/C%2B%2B/_git/a%2Bb' },
  },
  {
    url: 'https://dev.azure.com/contoso/%D0%9F%D1%80%D0%BE%D0%B5%D0%BA%D1%82/_git/%E6%97%A5%E6%9C%AC',
    expect: { organization: 'contoso', project: 'Проект', repository: '日本' },
  },
  {
    url: 'https://dev.azure.com/contoso/Проект/_git/日本',
    expect: {
      organization: 'contoso',
      project: 'Проект',
      repository: '日本',
      cloneUrl: 'https://dev.azure.com/contoso/%D0%9F%D1%80%D0%BE%D0%B5%D0%BA%D1%82/_git/%E6%97%A5%E6%9C%AC',
    },
  },
  {
    url: 'https://dev.azure.com/contoso/my.project-1/_git/repo.name-2',
    expect: { organization: 'contoso', project: 'my.project-1', repository: 'repo.name-2' },
  },
  {
    url: "https://dev.azure.com/contoso/O'Brien%20(test)/_git/r%C3%A9po",
    expect: { organization: 'contoso', project: "O'Brien (test)", repository: 'répo' },
  },
  // Refs
  { url: `${D}?version=GBmain`, expect: services({ ref: branch('main'), webUrl: `${D}?version=GBmain` }) },
  { url: `${D}?version=GBfeature%2Fx`, expect: services({ ref: branch('feature/x'), webUrl: `${D}?version=GBfeature%2Fx` }) },
  { url: `${D}?version=GBfeature/x`, expect: services({ ref: branch('feature/x') }) },
  { url: `${D}?version=GBfeature%2F%C3%A9t%C3%A9`, expect: services({ ref: branch('feature/été') }) },
  { url: `${D}?version=GBmain&version=GBother`, expect: services({ ref: branch('main') }) },
  { url: `${D}?version=GTv1.2.3`, expect: services({ ref: tag('v1.2.3') }) },
  { url: `${D}?version=GC${SHA_UPPER}`, expect: services({ ref: commit(SHA), webUrl: `${D}/commit/${SHA}` }) },
  { url: `${D}/commit/${SHA}`, expect: services({ ref: commit(SHA) }) },
  { url: `${D}/commit/abc1234`, expect: services({ ref: commit('abc1234'), webUrl: `${D}/commit/abc1234` }) },
  { url: `${D}/commit/${SHA}?refName=refs%2Fheads%2Fmain&version=GBother`, expect: services({ ref: commit(SHA) }) },
  {
    url: `${D}/commit/${SHA}?path=/a.ts`,
    expect: services({ ref: commit(SHA), path: file('/a.ts'), webUrl: `${D}?path=%2Fa.ts&version=GC${SHA}&_a=contents` }),
  },
  { url: `${D}/pullrequest/42`, expect: services({ ref: pr(42), webUrl: `${D}/pullrequest/42` }) },
  { url: `${D}/pullrequest/42#view=discussion`, expect: services({ ref: pr(42) }) },
  { url: `${D}/pullrequest/42?_a=files`, expect: services({ ref: pr(42) }) },
  { url: `${D}/pullrequest/42?_a=overview`, expect: services({ ref: pr(42) }) },
  { url: `${D}/pullrequest/42/`, expect: services({ ref: pr(42) }) },
  { url: `${D}/pullrequest/007`, expect: services({ ref: pr(7) }) },
  { url: `${D}/pullrequest/2147483647`, expect: services({ ref: pr(2147483647) }) },
  // List pages name the repository only
  { url: `${D}/branches`, expect: services() },
  { url: `${D}/tags`, expect: services() },
  { url: `${D}/commits`, expect: services() },
  { url: `${D}/pullrequests?_a=mine`, expect: services() },
  // File paths and lines
  {
    url: `${D}?path=/a/b.ts&line=3&lineEnd=5&lineStartColumn=1&lineEndColumn=2&_a=contents`,
    expect: services({ path: file('/a/b.ts', 3, 5), webUrl: `${D}?path=%2Fa%2Fb.ts&line=3&lineEnd=5&_a=contents` }),
  },
  {
    url: `${D}?path=%2Fsrc%2Fapp.ts&version=GBmain&_a=contents`,
    expect: services({ path: file('/src/app.ts'), ref: branch('main'), webUrl: `${D}?path=%2Fsrc%2Fapp.ts&version=GBmain&_a=contents` }),
  },
  { url: `${D}?path=/src/dir/`, expect: services({ path: file('/src/dir') }) },
  { url: `${D}?path=/`, expect: services({ path: file('/') }) },
  { url: `${D}?path=src/a.ts`, expect: services({ path: file('/src/a.ts') }) },
  { url: `${D}?path=/a.ts&line=7`, expect: services({ path: file('/a.ts', 7) }) },
  { url: `${D}?line=7`, expect: services() },
  { url: `${D}?path=/a%20b/c+d.md`, expect: services({ path: file('/a b/c+d.md') }) },
  {
    url: `${D}/pullrequest/9?_a=files&path=/x.ts`,
    expect: services({ ref: pr(9), path: file('/x.ts'), webUrl: `${D}/pullrequest/9?_a=files&path=%2Fx.ts` }),
  },
  {
    url: 'https://contoso.visualstudio.com/DefaultCollection/_git/web#path=%2FREADME.md&version=GBmaster&_a=contents',
    expect: { ...WEB, project: 'web', ref: branch('master'), path: file('/README.md') },
  },
  // Junk browsers and people add
  { url: `${D}/`, expect: services({ webUrl: WEB_CLONE }) },
  { url: `${D}#readme`, expect: services() },
  { url: `${D}?_a=contents`, expect: services() },
  { url: `${D}.git`, expect: services() },
  { url: `${D}.git.git/branches`, expect: services() },
  { url: `\t  ${D}  \n`, expect: services() },
  { url: `${D}?&&_a=contents&foo&%ZZ=1&version=GBmain&`, expect: services({ ref: branch('main') }) },
  { url: 'HTTPS://DEV.AZURE.COM/contoso/Fabrikam/_git/web', expect: services() },
  { url: 'http://dev.azure.com/contoso/Fabrikam/_git/web', expect: services({ origin: 'https://dev.azure.com' }) },
  { url: 'https://dev.azure.com:443/contoso/Fabrikam/_git/web', expect: services() },
  { url: 'dev.azure.com/contoso/Fabrikam/_git/web', expect: services() },
  // The emulator, laid out like dev.azure.com
  {
    url: 'http://127.0.0.1:4000/org/proj/_git/repo',
    options: EMULATOR,
    expect: {
      kind: 'services',
      host: '127.0.0.1:4000',
      origin: 'http://127.0.0.1:4000',
      organization: 'org',
      project: 'proj',
      repository: 'repo',
      cloneUrl: 'http://127.0.0.1:4000/org/proj/_git/repo',
    },
  },
];

const NO_PASSWORD = [CANARY];

export const REJECT: RejectCase[] = [
  // Not a URL at all, or dangerous text
  { url: '', code: 'empty', reason: 'the URL is empty' },
  { url: '   \n ', code: 'empty', reason: 'the URL is empty' },
  { url: `${D}/${'r'.repeat(2100)}`, code: 'too-long', reason: 'the limit is 2048' },
  { url: `${D}\u0000`, code: 'control-character', reason: 'control character' },
  { url: 'https://dev.azure.com/contoso/Fabrikam/_git/we\nb', code: 'control-character', reason: 'control character' },
  { url: `${D}%0Aevil`, code: 'control-character', reason: 'encoded control character' },
  { url: `${D}\u202Eevil`, code: 'control-character', reason: 'control character' },
  { url: `${D}?version=GBa%00`, code: 'control-character', reason: 'encoded control character' },
  { url: `${D}\ud800`, code: 'invalid-unicode', reason: 'unpaired UTF-16 surrogate' },
  { url: 'not a url', code: 'malformed', reason: 'expected an https:// or SSH repository URL' },
  { url: 'http:dev.azure.com/contoso/Fabrikam/_git/web', code: 'malformed', reason: 'must be followed by "//"' },
  { url: '//dev.azure.com/contoso/Fabrikam/_git/web', code: 'malformed', reason: 'no scheme' },
  { url: 'https:///contoso/Fabrikam/_git/web', code: 'malformed', reason: 'no host' },
  { url: 'https://[zz]/contoso', code: 'malformed', reason: 'is not valid' },
  { url: 'https://dev.azure.com:99999/contoso/Fabrikam/_git/web', code: 'malformed', reason: 'port' },
  { url: 'https://evil.example\\@dev.azure.com/contoso/Fabrikam/_git/web', code: 'malformed', reason: 'backslash' },
  { url: 'https://dev.azure.com/contoso\\Fabrikam/_git/web', code: 'malformed', reason: 'backslash' },
  // Schemes
  { url: 'javascript:alert(1)', code: 'unsupported-scheme', reason: '"javascript:" URLs are not supported' },
  { url: 'JavaScript:alert("x@dev.azure.com")', code: 'unsupported-scheme', reason: '"javascript:" URLs are not supported' },
  { url: 'file:///etc/passwd', code: 'unsupported-scheme', reason: '"file:" URLs are not supported' },
  { url: 'data:text/html,<script>alert(1)</script>', code: 'unsupported-scheme', reason: '"data:" URLs are not supported' },
  { url: 'ftp://dev.azure.com/contoso/Fabrikam/_git/web', code: 'unsupported-scheme', reason: '"ftp:" URLs' },
  { url: 'git://dev.azure.com/contoso/Fabrikam/_git/web', code: 'unsupported-scheme', reason: '"git:" URLs' },
  // Credentials: rejected, never echoed
  {
    url: `https://user:${CANARY}@dev.azure.com/contoso/Fabrikam/_git/web`,
    code: 'credentials',
    reason: 'remove the credentials from the URL',
    secrets: NO_PASSWORD,
  },
  {
    url: `https://:${CANARY}@dev.azure.com/contoso/Fabrikam/_git/web`,
    code: 'credentials',
    reason: 'remove the credentials from the URL',
    secrets: NO_PASSWORD,
  },
  {
    url: `https://${FAKE_LEGACY_PAT}@dev.azure.com/contoso/Fabrikam/_git/web`,
    code: 'credentials',
    reason: 'remove the credentials from the URL',
    secrets: [FAKE_LEGACY_PAT],
  },
  {
    url: `https://${FAKE_CURRENT_PAT}@dev.azure.com/contoso/Fabrikam/_git/web`,
    code: 'credentials',
    reason: 'remove the credentials',
    secrets: [FAKE_CURRENT_PAT],
  },
  {
    url: `user:${CANARY}@dev.azure.com/contoso/Fabrikam/_git/web`,
    code: 'credentials',
    reason: 'remove the credentials from the URL',
    secrets: NO_PASSWORD,
  },
  {
    url: `ssh://git:${CANARY}@ssh.dev.azure.com/v3/contoso/Fabrikam/web`,
    code: 'credentials',
    reason: 'remove the credentials',
    secrets: NO_PASSWORD,
  },
  { url: `https://${FAKE_CURRENT_PAT}.example/x`, code: 'unknown-host', reason: '[redacted]', secrets: [FAKE_CURRENT_PAT] },
  // Other hosts
  { url: 'https://github.com/contoso/web', code: 'unknown-host', reason: '"github.com" is not an Azure DevOps host' },
  { url: 'https://gitlab.com/contoso/Fabrikam/_git/web', code: 'unknown-host', reason: 'is not an Azure DevOps host' },
  {
    url: 'https://dev.azure.com.evil.example/contoso/Fabrikam/_git/web',
    code: 'unknown-host',
    reason: '"dev.azure.com.evil.example" is not',
  },
  { url: 'https://dev.azure.com@evil.example/contoso/Fabrikam/_git/web', code: 'unknown-host', reason: '"evil.example" is not' },
  { url: 'https://contoso.visualstudio.com.evil.example/Fabrikam/_git/web', code: 'unknown-host', reason: 'is not an Azure DevOps host' },
  { url: 'https://vssps.dev.azure.com/contoso/_apis/tokens', code: 'unknown-host', reason: 'service host, not where repositories live' },
  { url: 'https://app.vssps.visualstudio.com/_apis/profile/profiles/me', code: 'unknown-host', reason: 'service host' },
  { url: 'https://www.visualstudio.com/Fabrikam/_git/web', code: 'unknown-host', reason: 'service host' },
  { url: 'https://ssh.dev.azure.com/v3/contoso/Fabrikam/web', code: 'unknown-host', reason: 'serves SSH only' },
  { url: 'ssh://git@dev.azure.com/v3/contoso/Fabrikam/web', code: 'unknown-host', reason: 'SSH goes to ssh.dev.azure.com' },
  { url: 'git@github.com:contoso/web.git', code: 'unknown-host', reason: '"github.com" is not' },
  { url: 'https://dev.azure.com:8443/contoso/Fabrikam/_git/web', code: 'unknown-host', reason: 'unexpected port' },
  { url: 'https://tfs.example.com/tfs/Coll/P/_git/r', code: 'unknown-host', reason: 'configured Azure DevOps Server' },
  { url: 'http://tfs.example.com/tfs/Coll/P/_git/r', options: TFS, code: 'unknown-host', reason: 'scheme or port differ' },
  { url: 'http://127.0.0.1:4000/org/proj/_git/repo', code: 'unknown-host', reason: '"127.0.0.1" is not' },
  // Not a repository
  { url: 'https://dev.azure.com/contoso/Fabrikam', code: 'not-a-repository', reason: 'no "/_git/" segment' },
  { url: 'https://dev.azure.com/contoso/Fabrikam/web', code: 'not-a-repository', reason: 'no "/_git/" segment' },
  {
    url: 'https://contoso.visualstudio.com/Fabrikam',
    code: 'not-a-repository',
    reason: 'https://contoso.visualstudio.com/{project}/_git/{repository}',
  },
  { url: 'https://dev.azure.com/', code: 'not-a-repository', reason: 'names no repository' },
  { url: 'https://dev.azure.com/contoso/Fabrikam/_build?definitionId=3', code: 'not-a-repository', reason: '"_build" page' },
  { url: 'https://dev.azure.com/contoso/Fabrikam/_apis/git/repositories/web', code: 'not-a-repository', reason: 'REST API URL' },
  { url: 'https://tfs.example.com/other/Coll/P/_git/r', options: TFS, code: 'not-a-repository', reason: 'virtual directory "/tfs"' },
  { url: 'git@ssh.dev.azure.com:contoso/Fabrikam/web', code: 'not-a-repository', reason: 'start with v3/' },
  // Missing parts
  { url: 'https://dev.azure.com/contoso/Fabrikam/_git', code: 'missing-repository', reason: 'repository name is missing' },
  { url: 'https://dev.azure.com/contoso/Fabrikam/_git/', code: 'missing-repository', reason: 'repository name is missing' },
  { url: 'https://dev.azure.com/contoso/Fabrikam/_git/.git', code: 'missing-repository', reason: 'repository name is empty' },
  { url: 'https://dev.azure.com/_git/web', code: 'missing-organization', reason: 'organization is missing' },
  { url: 'https://tfs.example.com/tfs/_git/web', options: TFS, code: 'missing-collection', reason: 'collection is missing' },
  { url: 'git@ssh.dev.azure.com:v3/contoso', code: 'missing-project', reason: 'project is missing' },
  { url: 'git@ssh.dev.azure.com:v3/contoso/Fabrikam', code: 'missing-repository', reason: 'always names the project' },
  { url: 'ssh://git@vs-ssh.visualstudio.com:22/Fabrikam/_ssh/web', code: 'missing-organization', reason: 'it is the user name' },
  // Segments
  { url: 'https://dev.azure.com/contoso/a/b/_git/web', code: 'unexpected-segments', reason: 'expected one project name' },
  { url: `${D}/foo/bar`, code: 'unexpected-segments', reason: 'unexpected "/foo/bar" after the repository name' },
  { url: 'git@ssh.dev.azure.com:v3/contoso/Fabrikam/web/extra', code: 'unexpected-segments', reason: 'unexpected "/extra"' },
  { url: 'ssh://git@ssh.dev.azure.com/v3/contoso/Fabrikam/web?x=1', code: 'malformed', reason: 'SSH URLs have no query' },
  { url: 'https://dev.azure.com/contoso//_git/web', code: 'empty-segment', reason: 'empty segment' },
  { url: 'https://dev.azure.com/contoso/../_git/web', code: 'path-traversal', reason: '".." segment' },
  { url: 'https://dev.azure.com/contoso/%2e%2E/_git/web', code: 'path-traversal', reason: '".." segment' },
  { url: 'https://dev.azure.com/contoso/Fabrikam/_git/..%2F..%2Fetc', code: 'path-traversal', reason: 'contains a ".." path segment' },
  { url: 'https://dev.azure.com/contoso/Fabrikam/_git/a%2Fb', code: 'invalid-name', reason: 'contains a slash' },
  { url: 'https://dev.azure.com/contoso/_Fabrikam/_git/web', code: 'invalid-name', reason: 'is an Azure DevOps route, not a project name' },
  { url: `${D}%ZZ`, code: 'invalid-encoding', reason: 'malformed percent-encoding in the path' },
  { url: `${D}%E0%A4`, code: 'invalid-encoding', reason: 'malformed percent-encoding' },
  { url: `${D}?version=GB%E0`, code: 'invalid-encoding', reason: 'malformed percent-encoding in the version parameter' },
  // Commits
  { url: `${D}/commit/xyz1234`, code: 'invalid-commit', reason: 'is not a commit id (7 to 40 hexadecimal digits)' },
  { url: `${D}/commit/abc12`, code: 'invalid-commit', reason: '7 to 40' },
  { url: `${D}/commit/${SHA}0`, code: 'invalid-commit', reason: '7 to 40' },
  { url: `${D}/commit`, code: 'invalid-commit', reason: 'commit id is missing' },
  { url: `${D}?version=GCabc1234`, code: 'invalid-commit', reason: 'full 40-digit commit id' },
  // Pull requests
  { url: `${D}/pullrequest/abc`, code: 'invalid-pull-request', reason: 'is not a pull request id' },
  { url: `${D}/pullrequest/0`, code: 'invalid-pull-request', reason: 'from 1 to 2147483647' },
  { url: `${D}/pullrequest/-5`, code: 'invalid-pull-request', reason: 'is not a pull request id' },
  { url: `${D}/pullrequest/2147483648`, code: 'invalid-pull-request', reason: 'from 1 to 2147483647' },
  { url: `${D}/pullrequest/1.5`, code: 'invalid-pull-request', reason: 'is not a pull request id' },
  { url: `${D}/pullrequest/1e3`, code: 'invalid-pull-request', reason: 'is not a pull request id' },
  { url: `${D}/pullrequest`, code: 'invalid-pull-request', reason: 'pull request id is missing' },
  // Branches and tags
  { url: `${D}?version=main`, code: 'invalid-ref', reason: 'must start with GB (branch), GT (tag) or GC (commit)' },
  { url: `${D}?version=GB`, code: 'invalid-ref', reason: 'branch name is empty' },
  { url: `${D}?version=GT`, code: 'invalid-ref', reason: 'tag name is empty' },
  { url: `${D}?version=GBfeature%2F..%2Fx`, code: 'path-traversal', reason: 'contains ".."' },
  { url: `${D}?version=GBa%20b`, code: 'invalid-ref', reason: 'character git does not allow' },
  { url: `${D}?version=GBa.lock`, code: 'invalid-ref', reason: 'not a valid git ref name' },
  { url: `${D}?version=GB%2Fmain`, code: 'invalid-ref', reason: 'not a valid git ref name' },
  // File paths and lines
  { url: `${D}?path=/a/../b`, code: 'path-traversal', reason: 'path parameter contains a "." or ".." segment' },
  { url: `${D}?path=/a/%2E%2E/b`, code: 'path-traversal', reason: 'path parameter' },
  { url: `${D}?path=/a//b`, code: 'invalid-path', reason: 'empty segment' },
  { url: `${D}?path=/a&line=abc`, code: 'invalid-line', reason: 'is not a line number' },
  { url: `${D}?path=/a&line=0`, code: 'invalid-line', reason: 'is not a line number' },
  { url: `${D}?path=/a&line=5&lineEnd=3`, code: 'invalid-line', reason: 'lineEnd=3 comes before line=5' },
  // Options
  {
    url: D,
    options: { serverHosts: [{ origin: 'not a url' }] },
    code: 'invalid-option',
    reason: 'serverHosts[0].origin must be an http(s) origin',
  },
  {
    url: D,
    options: { serverHosts: [{ origin: `https://admin:${CANARY}@tfs.example.com` }] },
    code: 'invalid-option',
    reason: 'without credentials',
    secrets: NO_PASSWORD,
  },
  {
    url: D,
    options: { serverHosts: [{ origin: 'https://tfs.example.com', virtualDirectory: '/a/../b' }] },
    code: 'invalid-option',
    reason: 'must look like /tfs',
  },
  {
    url: D,
    options: { servicesOrigins: ['http://127.0.0.1:4000/x'] },
    code: 'invalid-option',
    reason: 'servicesOrigins[0] must be a bare origin',
  },
];
