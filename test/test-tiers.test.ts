// The fast tier (`npm run test:fast`, test/fast-tier.json) stays fast only while its tests stay
// pure: no servers, databases, child processes, browsers, git or network. The rule checked here:
// no file of the tier, and no module it imports at run time (followed through relative imports,
// `import type` left out), imports one of the modules below. That is what could start a server,
// open a database, spawn git or reach the network; the shared test fixtures and the emulator are
// refused too, because they build whole worlds (planes, runners, emulated services).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Packages and built-ins a fast-tier test must not reach (a `node:` prefix or none). */
const FORBIDDEN_MODULES = [
  'child_process',
  'cluster',
  'worker_threads',
  'net',
  'tls',
  'dgram',
  'dns',
  'http',
  'https',
  'http2',
  'undici',
  'better-sqlite3',
  'pg',
  'fastify',
  '@fastify/*',
  'playwright',
  'playwright-core',
];
/** Repository folders a fast-tier test must not reach: fixtures that start planes, runners and emulators. */
const FORBIDDEN_FOLDERS = ['test/support/', 'test/resilience/support/', 'test/ha/', 'test/e2e/', 'bench/'];

const IMPORT = /(?:^|[\n;])\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The specifiers a file imports at run time (type-only imports left out). */
function runtimeImports(source: string): string[] {
  const found: string[] = [];
  for (const m of source.matchAll(IMPORT)) {
    if (m[1]) continue;
    found.push((m[2] ?? m[3])!);
  }
  return found;
}

function forbiddenModule(specifier: string): boolean {
  const name = specifier.replace(/^node:/, '');
  return FORBIDDEN_MODULES.some((f) => (f.endsWith('/*') ? name.startsWith(f.slice(0, -1)) : name === f || name.startsWith(`${f}/`)));
}

function resolveLocal(from: string, specifier: string): string | undefined {
  const base = resolve(dirname(from), specifier);
  return [base, base.replace(/\.js$/, '.ts'), `${base}.ts`, join(base, 'index.ts')].find((p) => existsSync(p) && statSync(p).isFile());
}

const posix = (p: string) => p.split(sep).join('/');

/** Every reason `file` (relative to the repository) is not pure: forbidden modules and folders it reaches, with the path. */
function impurities(file: string): string[] {
  const start = resolve(ROOT, file);
  const inEmulator = posix(relative(ROOT, start)).startsWith('emulator/');
  const found: string[] = [];
  const seen = new Set<string>();
  const queue: { path: string; via: string[] }[] = [{ path: start, via: [] }];
  while (queue.length > 0) {
    const { path, via } = queue.shift()!;
    if (seen.has(path)) continue;
    seen.add(path);
    const rel = posix(relative(ROOT, path));
    const chain = [...via, rel];
    if (path !== start && FORBIDDEN_FOLDERS.some((f) => rel.startsWith(f))) {
      found.push(`${chain.join(' → ')} (a shared fixture)`);
      continue;
    }
    // Outside the emulator's own tests, reaching the emulator means running it.
    if (!inEmulator && rel.startsWith('emulator/')) {
      found.push(`${chain.join(' → ')} (the emulator)`);
      continue;
    }
    for (const specifier of runtimeImports(readFileSync(path, 'utf8'))) {
      if (specifier.startsWith('.')) {
        const next = resolveLocal(path, specifier);
        if (next) queue.push({ path: next, via: chain });
        else found.push(`${chain.join(' → ')} imports ${specifier}, which does not resolve`);
      } else if (forbiddenModule(specifier)) {
        found.push(`${chain.join(' → ')} imports ${specifier}`);
      }
    }
  }
  return found;
}

function testFiles(path: string): string[] {
  const full = resolve(ROOT, path);
  if (statSync(full).isFile()) return [path];
  return readdirSync(full)
    .filter((name) => name !== 'node_modules' && !name.startsWith('.'))
    .flatMap((name) => {
      const child = posix(join(path, name));
      return statSync(resolve(ROOT, child)).isDirectory() ? testFiles(child) : child.endsWith('.test.ts') ? [child] : [];
    });
}

const tier = JSON.parse(readFileSync(join(ROOT, 'test', 'fast-tier.json'), 'utf8')) as { paths: string[] };

describe('test tiers', () => {
  it('the fast tier names only paths that exist, each holding tests', () => {
    for (const path of tier.paths) {
      assert.ok(existsSync(resolve(ROOT, path)), `${path} (test/fast-tier.json) does not exist`);
      assert.ok(testFiles(path).length > 0, `${path} (test/fast-tier.json) holds no *.test.ts`);
    }
  });

  it('no fast-tier test reaches a server, database, child process, browser, git or the network through its imports', () => {
    const problems = tier.paths.flatMap(testFiles).flatMap(impurities);
    assert.deepEqual(problems, [], `move these files out of test/fast-tier.json, or their set-up out of them:\n${problems.join('\n')}`);
  });

  it('the check sees what it must: direct, indirect and dynamic imports, and not type-only ones', () => {
    assert.deepEqual(
      runtimeImports(
        [
          "import type { Pool } from 'pg';",
          "import { spawn } from 'node:child_process';",
          "export { x } from './x.ts';",
          "import './side-effect.ts';",
          // (Built, so that this file does not import it itself.)
          `const { a } = await ${'import'}('../web/a.ts');`,
          'import {\n  b,\n  c,\n} from "fastify";',
        ].join('\n'),
      ),
      ['node:child_process', './x.ts', './side-effect.ts', '../web/a.ts', 'fastify'],
    );
    assert.ok(forbiddenModule('node:http') && forbiddenModule('https') && forbiddenModule('@fastify/cookie') && forbiddenModule('pg'));
    assert.ok(!forbiddenModule('node:crypto') && !forbiddenModule('pgp') && !forbiddenModule('node:fs'));
    // A file that starts a whole plane: found through test/support, however deep.
    assert.ok(impurities('src/management/runners/runners.test.ts').some((p) => p.includes('test/support/')));
    assert.ok(impurities('src/runner/environments/git.test.ts').some((p) => p.endsWith('child_process')));
    assert.ok(impurities('src/management/sso/sso.test.ts').length > 0);
  });
});
