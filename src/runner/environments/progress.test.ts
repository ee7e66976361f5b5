import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createProgressParser } from './progress.ts';
import type { CloneProgress } from './progress.ts';

// What git 2.39 writes to stderr for `git clone --progress` over smart HTTP (LC_ALL=C), with the
// in-place updates ('\r') and line ends ('\n') as they arrive.
const CLONE_STDERR = [
  "Cloning into '/w/env_x/web'...\n",
  'remote: Enumerating objects: 153, done.\n',
  'remote: Counting objects:   1% (2/153)\rremote: Counting objects:  50% (77/153)\r',
  'remote: Counting objects: 100% (153/153), done.\n',
  'remote: Compressing objects: 100% (78/78), done.\n',
  'remote: Total 153 (delta 42), reused 0 (delta 0), pack-reused 0\n',
  'Receiving objects:   0% (1/153)\rReceiving objects:  45% (69/153), 12.00 KiB | 1.00 MiB/s\rReceiv',
  'ing objects:  45% (69/153), 12.00 KiB | 1.00 MiB/s\rReceiving objects: 100% (153/153), 22.08 KiB | 1.38 MiB/s, done.\n',
  'Resolving deltas:   0% (0/42)\rResolving deltas: 100% (42/42), done.\n',
  'Updating files: 100% (10/10), done.\n',
];

describe("git's progress output", () => {
  it('yields phases and percentages in order, once per change, across chunk boundaries', () => {
    const seen: CloneProgress[] = [];
    const parser = createProgressParser((p) => seen.push(p));
    for (const chunk of CLONE_STDERR) parser.feed(chunk);
    parser.end();
    assert.deepEqual(
      seen.map((p) => `${p.phase} ${p.percent}`),
      [
        'Enumerating objects 100',
        'Counting objects 1',
        'Counting objects 50',
        'Counting objects 100',
        'Compressing objects 100',
        'Receiving objects 0',
        'Receiving objects 45',
        'Receiving objects 100',
        'Resolving deltas 0',
        'Resolving deltas 100',
        'Updating files 100',
      ],
    );
    assert.deepEqual(seen.at(-1)!.phases, [
      'Enumerating objects',
      'Counting objects',
      'Compressing objects',
      'Receiving objects',
      'Resolving deltas',
      'Updating files',
    ]);
  });

  it("keeps git's own explanation of a failure, not the progress lines", () => {
    const parser = createProgressParser(() => undefined);
    parser.feed(
      "Cloning into 'web'...\nkeyway: this credential helper's environment no longer exists\nfatal: credential helper '!x' told us to quit\n",
    );
    parser.end();
    assert.deepEqual(parser.tail(), [
      "Cloning into 'web'...",
      "keyway: this credential helper's environment no longer exists",
      "fatal: credential helper '!x' told us to quit",
    ]);
  });

  it('caps what it keeps: a runaway line or endless output does not grow memory', () => {
    const parser = createProgressParser(() => undefined);
    parser.feed('x'.repeat(100_000));
    for (let i = 0; i < 100; i++) parser.feed(`line ${i}\n`);
    parser.end();
    assert.equal(parser.tail().length, 20);
    assert.equal(parser.tail().at(-1), 'line 99');
  });
});
