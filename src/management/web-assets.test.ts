import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestManagement } from '../../test/support/management.ts';

const NOT_BUILT =
  'the web interface is not built, so / only points at the API: run npm run build:web (an installed package ships it built) and restart';

describe('The web UI, built or not', () => {
  it('without a built UI: a warning at start-up, and / explains how to build it and where the API is', async (t) => {
    const empty = mkdtempSync(join(tmpdir(), 'keyway-web-empty-'));
    t.after(() => rmSync(empty, { recursive: true, force: true }));
    const management = await startTestManagement('sqlite', { webDist: empty }, 'warn');
    try {
      // Logged while the app starts, before anyone opens a page.
      const warnings = management.logs.lines
        .map((line) => JSON.parse(line) as { level: number; msg: string })
        .filter((l) => l.msg === NOT_BUILT);
      assert.equal(warnings.length, 1, management.logs.text);
      assert.equal(warnings[0]!.level, 40);
      const page = await management.app.inject({ method: 'GET', url: '/' });
      assert.equal(page.statusCode, 200);
      assert.match(page.headers['content-type'] as string, /^text\/html/);
      assert.match(page.body, /The web interface is not built: run <code>npm run build:web<\/code>/);
      assert.match(page.body, /<a href="\/api\/openapi\.json">/);
      assert.match(page.headers['content-security-policy'] as string, /default-src 'self'/);
      // The API is there all the same.
      assert.equal((await management.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    } finally {
      await management.close();
    }
  });

  it("with a built UI: no warning, and / and the app's routes serve its index.html", async (t) => {
    const built = mkdtempSync(join(tmpdir(), 'keyway-web-built-'));
    t.after(() => rmSync(built, { recursive: true, force: true }));
    writeFileSync(join(built, 'index.html'), '<!doctype html><title>Keyway</title><div id="root"></div>');
    const management = await startTestManagement('sqlite', { webDist: built }, 'warn');
    try {
      assert.ok(!management.logs.text.includes('web interface is not built'), management.logs.text);
      for (const url of ['/', '/runners/run_1']) {
        const page = await management.app.inject({ method: 'GET', url });
        assert.equal(page.statusCode, 200, url);
        assert.match(page.body, /<div id="root"><\/div>/, url);
      }
    } finally {
      await management.close();
    }
  });
});
