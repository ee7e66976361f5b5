import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, appendFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatGitConfig } from './git-config-file.ts';
import { runGit } from './git.ts';

describe('git configuration written as text', () => {
  it('reads back through git exactly as written, whatever the values hold', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyway-config-'));
    try {
      await runGit(['init', '--quiet', dir]);
      const values = [
        '',
        `!f() { [ "$1" != get ] || exec '/it''s here/helper' get; }; f`,
        'back\\slash',
        ' leading space',
        'trailing space ',
        'hash # and ; semicolon',
        'tab\there',
        'line\nbreak',
      ];
      appendFileSync(
        join(dir, '.git', 'config'),
        formatGitConfig([
          ...values.map((value) => ({ section: 'credential', key: 'helper', value })),
          { section: 'remote', subsection: 'a "quoted" \\ name', key: 'url', value: 'http://example.invalid/x' },
        ]),
      );
      const read = await runGit(['config', '--null', '--get-all', 'credential.helper'], { cwd: dir });
      assert.deepEqual(read.stdout.split('\0').slice(0, -1), values);
      const url = await runGit(['config', '--get', 'remote.a "quoted" \\ name.url'], { cwd: dir });
      assert.equal(url.stdout.trim(), 'http://example.invalid/x');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses names git would not read', () => {
    assert.throws(() => formatGitConfig([{ section: 'a b', key: 'x', value: '' }]), /not a git configuration name/);
    assert.throws(() => formatGitConfig([{ section: 'a', key: 'x=y', value: '' }]), /not a git configuration name/);
    assert.throws(() => formatGitConfig([{ section: 'a', subsection: 'x\ny', key: 'k', value: '' }]), /newline/);
  });
});
