#!/usr/bin/env node
// Runs every *.test.ts under test/, src/ and emulator/ with node's own test runner (through tsx).
// Node 20's `node --test` takes no globs, so the files are collected here.
// `--fast` (npm run test:fast): only the fast tier, the pure-module tests listed in test/fast-tier.json.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { collectFiles } from './walk.mjs';

const args = process.argv.slice(2);
const fast = args.includes('--fast');
const named = args.filter((a) => a !== '--fast');
const explicit = fast || named.length > 0;
const fastTier = () => JSON.parse(readFileSync(new URL('../test/fast-tier.json', import.meta.url), 'utf8')).paths;
const roots = fast ? fastTier() : explicit ? named : ['src', 'emulator', 'test'];
// The resilience and security suites (faults, attacks, canaries) run on their own:
// `npm run test:resilience` (node scripts/run-tests.mjs test/resilience); CI runs both. So does the
// packaging test (`npm run test:package`): it builds and installs the package, minutes of work.
const separate = explicit ? [] : [join('test', 'resilience'), join('test', 'package')];
const files = [];
for (const root of roots)
  collectFiles(
    root,
    files,
    (f) => f.endsWith('.test.ts'),
    (p) => separate.includes(p),
  );
files.sort();
if (files.length === 0) {
  console.error('run-tests: no test files found under ' + roots.join(', '));
  process.exit(1);
}
// The end-to-end tests drive the built web UI: build it first (once, not per test file).
if (files.some((f) => f.split(/[\\/]/).includes('e2e'))) {
  const build = spawnSync(process.execPath, [fileURLToPath(new URL('build-web.mjs', import.meta.url)), '--if-stale'], { stdio: 'inherit' });
  if (build.status !== 0) {
    console.error('run-tests: building the web UI failed');
    process.exit(build.status ?? 1);
  }
}
const concurrency = process.env.KEYWAY_TEST_CONCURRENCY ?? '2';
// A hang must fail the run, not stall CI until its own limit: each test, and each file as a whole,
// has 5 minutes, and the whole run has a ceiling. (No --test-force-exit: under Node 22 it once ended
// a file part-way through its suites without reporting a failure, losing tests silently.)
const ceilingMinutes = Number(process.env.KEYWAY_TEST_CEILING_MINUTES ?? '25');
// The fast tier runs in one process (scripts/import-tests.mjs): its files are pure, and a process
// per file would cost more than their tests.
const command = fast
  ? ['--import', 'tsx', '--test-reporter=spec', fileURLToPath(new URL('import-tests.mjs', import.meta.url)), ...files]
  : ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=300000', '--test-reporter=spec', ...files];
const result = spawnSync(process.execPath, command, {
  stdio: 'inherit',
  env: { ...process.env, KEYWAY_LOG_LEVEL: process.env.KEYWAY_LOG_LEVEL ?? 'silent' },
  timeout: ceilingMinutes * 60_000,
  killSignal: 'SIGKILL',
});
if (result.error?.code === 'ETIMEDOUT') {
  console.error(`run-tests: the tests did not finish within ${ceilingMinutes} minutes and were stopped (KEYWAY_TEST_CEILING_MINUTES)`);
  process.exit(1);
}
process.exit(result.status ?? 1);
