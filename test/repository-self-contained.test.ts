import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// The repository is self-contained: what the code relies on about Azure DevOps and Entra ID is
// written in docs/ with public sources, and no comment or file names a path outside the repository
// (a notes folder beside the checkout, a document only some machines have). This scans every
// tracked text file for such references and prints file:line for each.
//
// The patterns are written so that this file's own text does not match them.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const OUTSIDE: readonly { pattern: RegExp; what: string }[] = [
  { pattern: /\/work\//, what: 'an absolute path of a build machine' },
  { pattern: /(?:^|[^\w.])\.\.[/\\](?:\.\.[/\\])*shared\b/, what: 'a folder beside the repository' },
  { pattern: /\bshared[/\\]reference\b/i, what: 'a reference folder outside the repository' },
  { pattern: /\bfacts[ _-]file\b/i, what: 'a document that is not in the repository' },
  { pattern: /azure-devops[-_]facts/i, what: 'a document that is not in the repository' },
  { pattern: /\bshared folder\b/i, what: 'a folder outside the repository' },
];

// Large lock files name only registry URLs; scanning them proves nothing.
const SKIPPED = new Set(['package-lock.json']);

/** Tracked files; in a copy without git metadata, every file outside what installs and builds make. */
function repositoryFiles(): string[] {
  try {
    const out = execFileSync('git', ['ls-files', '-z'], {
      cwd: ROOT,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return out.split('\0').filter(Boolean);
  } catch {
    const generated = new Set(['node_modules', '.git', 'dist', '.keyway-data']);
    const walk = (dir: string): string[] =>
      readdirSync(resolve(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
        if (generated.has(entry.name)) return [];
        const path = dir ? `${dir}/${entry.name}` : entry.name;
        return entry.isDirectory() ? walk(path) : entry.isFile() ? [path] : [];
      });
    return walk('');
  }
}

function trackedTextFiles(): { path: string; text: string }[] {
  const files: { path: string; text: string }[] = [];
  for (const path of repositoryFiles()) {
    if (SKIPPED.has(path.split('/').pop() ?? path)) continue;
    let bytes: Buffer;
    try {
      bytes = readFileSync(resolve(ROOT, path));
    } catch {
      continue; // deleted in the work tree but not yet in the index
    }
    if (bytes.subarray(0, 8000).includes(0)) continue; // binary
    files.push({ path, text: bytes.toString('utf8') });
  }
  return files;
}

/** Relative Markdown links (`[x](../y)`) that resolve outside the repository. */
function linksOutside(path: string, line: string): string[] {
  if (!path.endsWith('.md')) return [];
  const found: string[] = [];
  for (const m of line.matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = m[1]!;
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue;
    const abs = target.startsWith('/') ? resolve(ROOT, `.${target}`) : resolve(ROOT, dirname(path), target);
    if (relative(ROOT, abs).startsWith('..')) found.push(target);
  }
  return found;
}

describe('the repository is self-contained', () => {
  it('names no path outside the repository in any tracked file', () => {
    const files = trackedTextFiles();
    assert.ok(files.length > 100, `expected the tracked files, found ${files.length}`);
    const hits: string[] = [];
    for (const { path, text } of files) {
      text.split('\n').forEach((line, i) => {
        for (const { pattern, what } of OUTSIDE) {
          if (pattern.test(line)) hits.push(`${path}:${i + 1}: ${what}: ${line.trim().slice(0, 160)}`);
        }
        for (const target of linksOutside(path, line)) hits.push(`${path}:${i + 1}: a link outside the repository: ${target}`);
      });
    }
    assert.deepEqual(
      hits,
      [],
      `${hits.length} reference(s) to something outside the repository; write the fact in docs/ with its public source and cite the doc instead:\n${hits.join('\n')}`,
    );
  });
});
