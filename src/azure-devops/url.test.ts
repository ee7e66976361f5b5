import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  formatRepositoryUrl,
  NotAnAzureDevOpsUrlError,
  parseContextUrlCommand,
  parseRepositoryUrl,
  repositoryNamesEqual,
  type ParseRepositoryUrlOptions,
  type RepositoryContext,
  type RepositoryPath,
  type RepositoryRef,
} from './url.ts';
import { ACCEPT, CANARY, REJECT } from './url.cases.ts';

const PREFIX = 'not an Azure DevOps repository URL: ';

function parseError(url: string, options?: ParseRepositoryUrlOptions): NotAnAzureDevOpsUrlError {
  try {
    parseRepositoryUrl(url, options);
  } catch (error) {
    assert.ok(error instanceof NotAnAzureDevOpsUrlError, `expected NotAnAzureDevOpsUrlError, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected ${JSON.stringify(url.slice(0, 120))} to be rejected`);
}

function label(url: string): string {
  const oneLine = JSON.stringify(url);
  return oneLine.length > 110 ? `${oneLine.slice(0, 107)}...` : oneLine;
}

describe('parseRepositoryUrl: table', () => {
  it('has at least 80 cases, positive and negative', () => {
    assert.ok(ACCEPT.length + REJECT.length >= 80, `${ACCEPT.length + REJECT.length} cases`);
    assert.ok(ACCEPT.length >= 40 && REJECT.length >= 40);
  });

  for (const c of ACCEPT) {
    it(`accepts ${label(c.url)}`, () => {
      const ctx = parseRepositoryUrl(c.url, c.options);
      const defaults = { kind: 'services', origin: 'https://dev.azure.com' };
      for (const [key, value] of Object.entries({ ...defaults, ...c.expect })) {
        assert.deepEqual(ctx[key as keyof RepositoryContext], value, `field ${key}`);
      }
      // ref and path must be exactly as expected, including absent.
      assert.deepEqual(ctx.ref, c.expect.ref, 'ref');
      assert.deepEqual(ctx.path, c.expect.path, 'path');
      if (ctx.kind === 'services') {
        assert.equal(ctx.collection, undefined);
        assert.equal(ctx.virtualDirectory, undefined);
      } else {
        assert.equal(ctx.collection, ctx.organization);
        assert.equal(typeof ctx.virtualDirectory, 'string');
      }
      // The canonical URLs parse back to the same thing.
      assert.deepEqual(parseRepositoryUrl(ctx.webUrl, c.options), ctx, 'webUrl round trip');
      const fromClone = parseRepositoryUrl(ctx.cloneUrl, c.options);
      const { ref: _ref, path: _path, ...identity } = ctx;
      assert.deepEqual(fromClone, { ...identity, webUrl: ctx.cloneUrl }, 'cloneUrl round trip');
      assert.doesNotMatch(ctx.cloneUrl, /@|\.git$/);
    });
  }

  for (const c of REJECT) {
    it(`rejects ${label(c.url)} (${c.code})`, () => {
      const error = parseError(c.url, c.options);
      assert.equal(error.code, c.code, error.message);
      assert.ok(error.reason.includes(c.reason), `reason ${JSON.stringify(error.reason)} lacks ${JSON.stringify(c.reason)}`);
      assert.equal(error.message, `${PREFIX}${error.reason}`);
      assert.doesNotMatch(error.message, /[\r\n]/);
      for (const secret of c.secrets ?? []) {
        assert.ok(!error.message.includes(secret), 'message leaks a secret');
        assert.ok(!error.message.toLowerCase().includes(secret.toLowerCase()), 'message leaks a secret (case-folded)');
        assert.ok(!String(error.stack).includes(secret), 'stack leaks a secret');
      }
    });
  }
});

describe('parseRepositoryUrl: contract', () => {
  it('rejects non-string input with its own error', () => {
    assert.equal(parseError(undefined as unknown as string).code, 'empty');
    assert.equal(parseError(42 as unknown as string).code, 'empty');
  });

  it('treats "+" as a literal plus, never a space', () => {
    const ctx = parseRepositoryUrl('https://dev.azure.com/o/a+b/_git/c+d?version=GBx+y&path=/e+f');
    assert.equal(ctx.project, 'a+b');
    assert.equal(ctx.repository, 'c+d');
    assert.deepEqual(ctx.ref, { type: 'branch', name: 'x+y' });
    assert.equal(ctx.path?.path, '/e+f');
  });

  it('never echoes credentials, wherever they are', () => {
    for (const url of [
      `https://someone:${CANARY}@dev.azure.com/o/p/_git/r`,
      `https://someone:${CANARY}@github.com/o/r`,
      `ssh://someone:${CANARY}@ssh.dev.azure.com/v3/o/p/r`,
      `someone:${CANARY}@evil.example/x`,
    ]) {
      const error = parseError(url);
      assert.equal(error.code, 'credentials', url);
      assert.ok(!error.message.includes(CANARY));
      assert.ok(!error.message.includes('someone'));
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Property tests

const NAME_UNITS = [
  ...'abcXYZ019',
  ' ',
  '.',
  '-',
  '_',
  'é',
  'ß',
  'Ж',
  '日',
  '😀',
  '+',
  '%',
  '&',
  '#',
  '?',
  '(',
  ')',
  '@',
  '!',
  '~',
  "'",
  '=',
  ',',
  ';',
  '$',
  ':',
];
const nameArb = fc
  .string({ unit: fc.constantFrom(...NAME_UNITS), minLength: 1, maxLength: 12 })
  .filter((n) => !n.startsWith('_') && n !== '.' && n !== '..');
// A trailing ".git" is read as clone-URL junk (documented in url.ts), so no generated name has one.
const repositoryArb = nameArb.filter((n) => !/\.git$/i.test(n));

const REF_UNITS = [...'abcXYZ019', '-', '_', '.', 'é', 'Ж', '+', '%', '#', '&', '=', ',', '!', "'", '😀'];
const refSegmentArb = fc
  .string({ unit: fc.constantFrom(...REF_UNITS), minLength: 1, maxLength: 8 })
  .filter((s) => !s.startsWith('.') && !s.endsWith('.') && !s.includes('..') && !s.endsWith('.lock'));
const refNameArb = fc.array(refSegmentArb, { minLength: 1, maxLength: 3 }).map((a) => a.join('/'));
const hexArb = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: min, maxLength: max });

const refArb: fc.Arbitrary<RepositoryRef> = fc.oneof(
  refNameArb.map((name): RepositoryRef => ({ type: 'branch', name })),
  refNameArb.map((name): RepositoryRef => ({ type: 'tag', name })),
  hexArb(40, 40).map((sha): RepositoryRef => ({ type: 'commit', sha })),
  hexArb(7, 39).map((sha): RepositoryRef => ({ type: 'commit', sha })),
  fc.integer({ min: 1, max: 2147483647 }).map((pullRequestId): RepositoryRef => ({ type: 'pullRequest', pullRequestId })),
);

const pathSegmentArb = fc
  .string({ unit: fc.constantFrom(...NAME_UNITS, '\\'), minLength: 1, maxLength: 8 })
  .filter((s) => s !== '.' && s !== '..');
const pathArb: fc.Arbitrary<RepositoryPath> = fc
  .tuple(
    fc.oneof(
      fc.constant('/'),
      fc.array(pathSegmentArb, { minLength: 1, maxLength: 4 }).map((a) => `/${a.join('/')}`),
    ),
    fc.option(fc.integer({ min: 1, max: 1_000_000 }), { nil: undefined }),
    fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined }),
  )
  .map(([path, line, span]) => ({
    path,
    ...(line !== undefined ? { line } : {}),
    ...(line !== undefined && span !== undefined ? { lineEnd: line + span } : {}),
  }));

type Generated = { location: Omit<RepositoryContext, 'cloneUrl' | 'webUrl'>; options: ParseRepositoryUrlOptions; cloneUrl: string };

const EMULATOR_ORIGIN = 'http://127.0.0.1:4000';
const enc = encodeURIComponent;

const servicesArb: fc.Arbitrary<Generated> = fc
  .record({
    origin: fc.constantFrom('https://dev.azure.com', EMULATOR_ORIGIN),
    organization: nameArb,
    project: nameArb,
    repository: repositoryArb,
    ref: fc.option(refArb, { nil: undefined }),
    path: fc.option(pathArb, { nil: undefined }),
  })
  .map(({ origin, organization, project, repository, ref, path }) => ({
    location: {
      kind: 'services',
      host: new URL(origin).host,
      origin,
      organization,
      project,
      repository,
      ...(ref ? { ref } : {}),
      ...(path ? { path } : {}),
    },
    options: { servicesOrigins: [EMULATOR_ORIGIN] },
    cloneUrl: `${origin}/${enc(organization)}/${enc(project)}/_git/${enc(repository)}`,
  }));

const serverArb: fc.Arbitrary<Generated> = fc
  .record({
    origin: fc.constantFrom('https://tfs.example.com', 'http://127.0.0.1:4321', 'https://ado.example.org:8443'),
    virtualDirectory: fc.constantFrom('', '/tfs', '/ado/tfs'),
    collection: nameArb,
    project: nameArb,
    repository: repositoryArb,
    ref: fc.option(refArb, { nil: undefined }),
    path: fc.option(pathArb, { nil: undefined }),
  })
  .map(({ origin, virtualDirectory, collection, project, repository, ref, path }) => ({
    location: {
      kind: 'server',
      host: new URL(origin).host,
      origin,
      virtualDirectory,
      organization: collection,
      collection,
      project,
      repository,
      ...(ref ? { ref } : {}),
      ...(path ? { path } : {}),
    },
    options: { serverHosts: [{ origin, virtualDirectory }] },
    cloneUrl: `${origin}${virtualDirectory}/${enc(collection)}/${enc(project)}/_git/${enc(repository)}`,
  }));

function checkOnlyOurError(input: string, options?: ParseRepositoryUrlOptions): void {
  let ctx: RepositoryContext;
  try {
    ctx = parseRepositoryUrl(input, options);
  } catch (error) {
    if (!(error instanceof NotAnAzureDevOpsUrlError)) throw error;
    assert.ok(error.message.startsWith(PREFIX));
    assert.doesNotMatch(error.message, /[\r\n]/);
    return;
  }
  // Whatever was accepted has canonical URLs that parse back to the same context.
  assert.deepEqual(parseRepositoryUrl(ctx.webUrl, options), ctx);
}

const FRAGMENTS = [
  'https://',
  'http://',
  'ssh://',
  'git@',
  'HTTPS://',
  'javascript:',
  'file:',
  'user:pw@',
  '@',
  ':',
  '//',
  '/',
  '\\',
  'dev.azure.com',
  'DEV.AZURE.COM',
  'ssh.dev.azure.com',
  'vs-ssh.visualstudio.com',
  'contoso.visualstudio.com',
  'tfs.example.com',
  '127.0.0.1:4000',
  ':22',
  ':443',
  ':99999',
  '[::1]',
  '/tfs',
  'DefaultCollection',
  'v3/',
  'v3',
  'org',
  'Proj',
  'repo',
  '_git',
  '/_git/',
  '_ssh',
  '_apis',
  '.git',
  '..',
  '.',
  '%',
  '%2F',
  '%2e%2e',
  '%ZZ',
  '%E0%A4',
  '%00',
  '%20',
  '+',
  ' ',
  '\t',
  '\n',
  '\u0000',
  '\ud800',
  '\udc00',
  '😀',
  'é',
  '?',
  '#',
  '&',
  '=',
  'version=',
  'GB',
  'GT',
  'GC',
  'path=',
  'line=',
  'lineEnd=',
  '5',
  '0',
  '-1',
  '2147483648',
  '/commit/',
  '/pullrequest/',
  'abc1234',
  '3f786850e387550fdab836ed7e6dc881de23001b',
  '_a=contents',
  'feature/x',
  'a.lock',
  '@{',
];
const urlishArb = fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 24 }).map((a) => a.join(''));
// Tails that keep a valid base URL valid more often, so accepted inputs get exercised too.
const FRIENDLY = [
  '/',
  '?',
  '&',
  '#',
  'version=',
  'GB',
  'GT',
  'GC',
  'main',
  'feature%2Fx',
  'path=',
  '%2Fa%20b',
  'line=',
  'lineEnd=',
  '3',
  '/commit/',
  'abc1234',
  '/pullrequest/',
  '42',
  '/branches',
  '.git',
  '_a=contents',
  '%20',
  '+',
  'é',
];
const friendlyTailArb = fc.array(fc.constantFrom(...FRIENDLY), { maxLength: 12 }).map((a) => a.join(''));
const validBaseArb = fc
  .tuple(
    fc.constantFrom(
      'https://dev.azure.com/org/Proj/_git/repo',
      'https://contoso.visualstudio.com/DefaultCollection/Proj/_git/repo',
      'https://tfs.example.com/tfs/Coll/Proj/_git/repo',
      'git@ssh.dev.azure.com:v3/org/Proj/repo',
      'ssh://org@vs-ssh.visualstudio.com:22/Proj/_ssh/repo',
    ),
    fc.oneof(urlishArb, friendlyTailArb),
  )
  .map(([base, tail]) => base + tail);
const FUZZ_OPTIONS: ParseRepositoryUrlOptions = {
  serverHosts: [{ origin: 'https://tfs.example.com', virtualDirectory: '/tfs' }],
  servicesOrigins: ['http://127.0.0.1:4000'],
};

describe('parseRepositoryUrl: properties', () => {
  it('parse(format(x)) deep-equals x for generated contexts', () => {
    fc.assert(
      fc.property(fc.oneof(servicesArb, serverArb), ({ location, options, cloneUrl }) => {
        const webUrl = formatRepositoryUrl(location);
        const parsed = parseRepositoryUrl(webUrl, options);
        assert.deepEqual(parsed, { ...location, cloneUrl, webUrl });
        // The clone URL names the same repository, without ref or path.
        const { ref: _ref, path: _path, ...identity } = location;
        assert.deepEqual(parseRepositoryUrl(cloneUrl, options), { ...identity, cloneUrl, webUrl: cloneUrl });
      }),
      { numRuns: 1500 },
    );
  });

  it('throws nothing but NotAnAzureDevOpsUrlError for arbitrary strings', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 })), (s) =>
        checkOnlyOurError(s, FUZZ_OPTIONS),
      ),
      { numRuns: 3000 },
    );
  });

  it('throws nothing but NotAnAzureDevOpsUrlError for URL-ish strings built from fragments', () => {
    fc.assert(
      fc.property(fc.oneof(urlishArb, validBaseArb, fc.webUrl({ withQueryParameters: true, withFragments: true })), (s) =>
        checkOnlyOurError(s, FUZZ_OPTIONS),
      ),
      { numRuns: 5000 },
    );
  });

  it('never echoes a password placed anywhere in user info', () => {
    fc.assert(
      fc.property(validBaseArb, fc.string({ unit: fc.constantFrom(...'abcXYZ019-_.~'), minLength: 8, maxLength: 20 }), (base, secret) => {
        const password = `pw${secret}`;
        const url = base.replace(/^(https:\/\/|ssh:\/\/|)([^@/]*@)?/, (_m, scheme: string) => `${scheme || 'https://'}user:${password}@`);
        try {
          parseRepositoryUrl(url, FUZZ_OPTIONS);
          assert.fail('credentials accepted');
        } catch (error) {
          assert.ok(error instanceof NotAnAzureDevOpsUrlError);
          assert.ok(!error.message.includes(password));
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('repositoryNamesEqual', () => {
  it('compares names case-insensitively, as Azure DevOps does', () => {
    assert.equal(repositoryNamesEqual('Fabrikam', 'fabrikam'), true);
    assert.equal(repositoryNamesEqual('ПРОЕКТ', 'проект'), true);
    assert.equal(repositoryNamesEqual('My Repo', 'my repo'), true);
    assert.equal(repositoryNamesEqual('e\u0301', '\u00e9'), true, 'NFC');
    assert.equal(repositoryNamesEqual('web', 'web2'), false);
    assert.equal(repositoryNamesEqual('a b', 'a+b'), false);
  });
});

describe('parseContextUrlCommand', () => {
  it('prints the context as pretty JSON and exits 0', () => {
    const result = parseContextUrlCommand('https://dev.azure.com/contoso/Fabrikam/_git/web?version=GBmain');
    assert.equal(result.exitCode, 0);
    assert.equal(result.stderr, '');
    assert.ok(result.stdout.endsWith('}\n'));
    assert.ok(result.stdout.includes('\n  "kind": "services",\n'));
    assert.deepEqual(JSON.parse(result.stdout), parseRepositoryUrl('https://dev.azure.com/contoso/Fabrikam/_git/web?version=GBmain'));
  });

  it('passes the server configuration through', () => {
    const result = parseContextUrlCommand('https://tfs.example.com/tfs/Coll/P/_git/r', {
      serverHosts: [{ origin: 'https://tfs.example.com', virtualDirectory: '/tfs' }],
    });
    assert.equal(result.exitCode, 0);
    assert.equal(JSON.parse(result.stdout).kind, 'server');
  });

  it('prints one error line and exits 2', () => {
    const result = parseContextUrlCommand('https://github.com/contoso/web');
    assert.equal(result.exitCode, 2);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /^keyway: not an Azure DevOps repository URL: "github\.com" is not an Azure DevOps host[^\n]*\n$/);
  });

  it('keeps credentials out of its output', () => {
    const result = parseContextUrlCommand(`https://u:${CANARY}@dev.azure.com/o/p/_git/r`);
    assert.equal(result.exitCode, 2);
    assert.ok(!result.stderr.includes(CANARY));
    assert.match(result.stderr, /remove the credentials from the URL/);
  });
});
