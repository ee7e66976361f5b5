#!/usr/bin/env node
// Builds the web UI (web/ -> web/dist) with Vite. With --if-stale it does nothing when web/dist is
// newer than every input: web sources, the sealing code the UI imports from src/crypto, and the
// installed dependencies. `npm start` and the test runner use --if-stale; `npm run build:web`
// always builds.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const output = join(root, 'web', 'dist', 'index.html');
const inputs = [
  'web/src',
  'web/public',
  'web/index.html',
  'web/vite.config.ts',
  'src/crypto/sealing.ts',
  'src/crypto/base64url.ts',
  'package-lock.json',
];

function newest(path) {
  let st;
  try {
    st = statSync(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let latest = st.mtimeMs;
  for (const name of readdirSync(path)) latest = Math.max(latest, newest(join(path, name)));
  return latest;
}

const ifStale = process.argv.includes('--if-stale');
if (ifStale && existsSync(output)) {
  const built = statSync(output).mtimeMs;
  if (inputs.every((p) => newest(join(root, p)) <= built)) process.exit(0);
}

const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
if (!existsSync(vite)) {
  // `npm start` on an install without dev dependencies still starts (with what web/dist holds, or
  // the fallback page); an explicit build fails.
  console.error(`build-web: vite is not installed (run npm ci); ${ifStale ? 'serving web/dist as it is' : 'cannot build'}`);
  process.exit(ifStale ? 0 : 1);
}
console.error(existsSync(output) ? 'build-web: web sources changed; rebuilding web/dist' : 'build-web: building web/dist');
const result = spawnSync(process.execPath, [vite, 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
