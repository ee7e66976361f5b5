// The import boundaries of docs/architecture.md bite: the lint rule (keyway/boundaries in
// eslint.config.js) refuses an import across a plane, and scripts/check-cycles.mjs (part of
// `npm run lint`) reports a circle of imports.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const eslint = new ESLint({ cwd: ROOT, overrideConfigFile: join(ROOT, 'eslint.config.js') });

/** The keyway/boundaries messages for `source` linted as if it were the file at `path`. */
async function crossings(path: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: join(ROOT, path) });
  assert.ok(result);
  return result.messages.filter((m) => m.ruleId === 'keyway/boundaries').map((m) => m.message);
}

/** `source` at `path` crosses no boundary. */
async function assertAllowed(path: string, source: string): Promise<void> {
  assert.deepEqual(await crossings(path, source), [], path);
}

describe('the import boundaries', () => {
  it('refuse a runner importing the management plane, and the reverse', async () => {
    const runner = await crossings(
      'src/runner/handlers/x.ts',
      "import { a } from '../../management/scm-integrations/service.ts';\nexport { a };\n",
    );
    assert.equal(runner.length, 1);
    assert.match(runner[0] ?? '', /src\/runner\/handlers\/x\.ts may not import src\/management\/scm-integrations\/service\.ts/);
    assert.equal((await crossings('src/management/x.ts', "export * from '../runner/agent.ts';\n")).length, 1);
    assert.equal((await crossings('src/management/x.ts', "export const f = () => import('../runner/agent.ts');\n")).length, 1);
  });

  it('let both planes use the contract and the shared code', async () => {
    await assertAllowed(
      'src/runner/x.ts',
      "import type { RunnerIntegration } from '../control/integration.ts';\nexport type { RunnerIntegration };\n",
    );
    await assertAllowed(
      'src/management/x.ts',
      "import { HostPolicyError } from '../azure-devops/host-policy.ts';\nexport { HostPolicyError };\n",
    );
  });

  it('keep the contract and the shared code out of the planes', async () => {
    assert.equal((await crossings('src/control/x.ts', "import type { A } from '../management/app.ts';\nexport type { A };\n")).length, 1);
    assert.equal((await crossings('src/azure-devops/x.ts', "import { a } from '../runner/agent.ts';\nexport { a };\n")).length, 1);
  });

  it('let the web take the contract and sealing, nothing else of the server', async () => {
    await assertAllowed(
      'web/src/x.ts',
      "import type { A } from '../../src/control/protocol.ts';\nimport { seal } from '../../src/crypto/sealing.ts';\nexport type { A };\nexport { seal };\n",
    );
    const web = await crossings('web/src/pages/x.tsx', "import { a } from '../../../src/management/app.ts';\nexport { a };\n");
    assert.equal(web.length, 1);
    assert.match(web[0] ?? '', /web bundle/);
  });

  it('keep the emulator apart from Keyway, both ways', async () => {
    assert.equal((await crossings('emulator/entra/x.ts', "import { a } from '../../src/entra/issuer.ts';\nexport { a };\n")).length, 1);
    assert.equal((await crossings('src/cli/x.ts', "import { a } from '../../emulator/index.ts';\nexport { a };\n")).length, 1);
    assert.deepEqual(await crossings('src/cli/x.ts', "import type { A } from '../../emulator/cli.ts';\nexport type { A };\n"), []);
  });

  it('exempt test files, which wire both planes', async () => {
    assert.deepEqual(await crossings('src/management/x.test.ts', "import { a } from '../runner/agent.ts';\nexport { a };\n"), []);
  });
});

describe('the cycle check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keyway-cycles-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const check = (root: string) =>
    spawnSync(process.execPath, [join(ROOT, 'scripts', 'check-cycles.mjs'), root], { cwd: dir, encoding: 'utf8' });

  it('reports a circle of imports, type-only ones included, and fails', () => {
    mkdirSync(join(dir, 'circle'));
    writeFileSync(join(dir, 'circle', 'a.ts'), "import { b } from './b.ts';\nexport const a = b + 1;\n");
    writeFileSync(join(dir, 'circle', 'b.ts'), "import type { A } from './a.ts';\nexport const b = 1;\nexport type B = A;\n");
    writeFileSync(join(dir, 'circle', 'c.ts'), "import { a } from './a.ts';\nexport const c = a;\n");
    const run = check(join(dir, 'circle'));
    assert.equal(run.status, 1);
    assert.match(run.stderr, /import cycle: circle\/a\.ts -> circle\/b\.ts -> circle\/a\.ts/);
    assert.doesNotMatch(run.stderr, /c\.ts/);
  });

  it('passes a tree, and ignores dynamic import()', () => {
    mkdirSync(join(dir, 'tree'));
    writeFileSync(join(dir, 'tree', 'a.ts'), "import { b } from './b.ts';\nexport const a = b;\n");
    writeFileSync(join(dir, 'tree', 'b.ts'), "export const b = 1;\nexport const later = () => import('./a.ts');\n");
    const run = check(join(dir, 'tree'));
    assert.equal(run.status, 0, run.stderr);
  });

  it('finds none in the repository', () => {
    const run = spawnSync(process.execPath, [join(ROOT, 'scripts', 'check-cycles.mjs')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
  });
});
