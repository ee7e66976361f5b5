import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProcess, startProcess } from '../support/cli.ts';

// The README's "Installing Keyway on a runner machine": `npm pack` in a clone, `npm install -g` of
// the tarball, `keyway` on PATH. Slow (a build, and better-sqlite3 compiled by the install), so it
// runs on its own: `npm run test:package`.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The environment for npm children: without the variables `npm run` exports about this checkout
 * (its prefix, its package), which would point `npm pack` and `npm install -g` back at it.
 */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_(package_|lifecycle_|config_(local_|global_)?prefix$)/i.test(key)) continue;
    env[key] = value;
  }
  // The installed command must run what the package holds, not the sources of a checkout.
  delete env.KEYWAY_FROM_SOURCE;
  return env;
}

const run = (command: string, args: string[], cwd: string) => runProcess(command, args, npmEnv(), cwd);

/**
 * A copy of the checkout's sources to pack from: `npm pack` builds dist/ and web/dist/ where it
 * runs, and a dist/ left in the checkout would make bin/keyway.mjs run stale compiled code there.
 * Built output, dependencies and dot-directories (.git, .keyway-data) stay behind; the copy uses
 * the checkout's node_modules through a link, so the build needs no install.
 */
function copyCheckout(to: string): void {
  cpSync(ROOT, to, {
    recursive: true,
    filter: (source) => {
      const path = relative(ROOT, source);
      if (path === '') return true;
      const parts = path.split(sep);
      if (parts[0]!.startsWith('.')) return false;
      return !parts.some((part) => part === 'node_modules' || part === 'dist' || part === 'test-results' || part === 'coverage');
    },
  });
  symlinkSync(join(ROOT, 'node_modules'), join(to, 'node_modules'), 'dir');
}

describe('The npm package, installed as the README says', () => {
  // Longer than run-tests.mjs's five minutes a test: a slow machine compiles better-sqlite3 slowly.
  it(
    'npm pack then npm install -g puts keyway on PATH; keyway start serves the built web UI and /healthz',
    { timeout: 10 * 60_000 },
    async () => {
      const temp = mkdtempSync(join(tmpdir(), 'keyway-package-'));
      try {
        const clone = join(temp, 'clone');
        copyCheckout(clone);
        const packed = await run('npm', ['pack', '--json', '--pack-destination', temp], clone);
        assert.equal(packed.status, 0, packed.stderr);
        // npm pack --json prints the prepack build's output first; the JSON array comes last.
        const [info] = JSON.parse(packed.stdout.slice(packed.stdout.lastIndexOf('\n[') + 1)) as {
          filename: string;
          files: { path: string }[];
        }[];
        const files = info!.files.map((f) => f.path);
        assert.ok(files.includes('dist/src/cli/main.js'), 'the compiled CLI is packed');
        assert.ok(files.includes('web/dist/index.html'), 'the built web UI is packed');
        assert.deepEqual(
          files.filter((f) => f.startsWith('src/') || /\.test\.(js|ts)$/.test(f)),
          [],
          'no sources or tests in the package',
        );

        // --prefer-offline: what `npm ci` put in the npm cache is used; the registry is asked only for the rest.
        const prefix = join(temp, 'prefix');
        const installed = await run(
          'npm',
          ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(temp, info!.filename)],
          temp,
        );
        assert.equal(installed.status, 0, installed.stderr);
        const bin = join(prefix, 'bin', 'keyway');
        assert.ok(existsSync(bin), `npm install -g put no keyway in ${join(prefix, 'bin')}`);
        assert.ok(!existsSync(join(prefix, 'lib', 'node_modules', 'keyway', 'src')), 'the installed package runs compiled code only');

        const help = await run(bin, ['--help'], temp);
        assert.equal(help.status, 0, help.stderr);
        assert.match(help.stdout, /Usage: keyway/);
        assert.match(help.stdout, /\brunner\b/);

        const dataDir = join(temp, 'data');
        mkdirSync(dataDir);
        const server = startProcess(
          bin,
          ['start', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir],
          { ...npmEnv(), KEYWAY_LOG_LEVEL: 'warn' },
          temp,
        );
        try {
          const [, url] = await server.waitFor(/is running at (http:\/\/\S+)/, 60_000);
          assert.doesNotMatch(server.output(), /web interface is not built/);
          const page = await fetch(`${url}/`);
          assert.equal(page.status, 200);
          const html = await page.text();
          assert.doesNotMatch(html, /web interface is not built/);
          assert.match(html, /<div id="root"><\/div>/);
          const script = /<script type="module"[^>]*\ssrc="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
          assert.ok(script, `the page loads the built bundle: ${html}`);
          const asset = await fetch(`${url}${script}`);
          assert.equal(asset.status, 200);
          assert.match(asset.headers.get('content-type') ?? '', /javascript/);
          const health = await fetch(`${url}/healthz`);
          assert.equal(health.status, 200);
          // Data lands in the data directory given, as the built-in runner's store.
          assert.ok(readdirSync(dataDir).includes('runner.db'));
        } finally {
          assert.equal(await server.stop(), 0, server.output());
        }
      } finally {
        rmSync(temp, { recursive: true, force: true });
      }
    },
  );
});
