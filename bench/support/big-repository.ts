// A large generated repository for the repository-cache benchmark, written with `git fast-import`
// (one process, one pass, no working tree) and kept under the temporary directory between runs:
// generating the full size takes minutes, reusing it takes nothing.
//
// Its shape is that of a long-lived product repository whose history outweighs its tip: source
// files edited a few lines at a time (small deltas), and binary assets replaced now and then
// (incompressible, no deltas). Branches and tags as a team leaves them. Then `git repack -a -d -f -b`
// finds the deltas and writes a bitmap, as a hosting service keeps its repositories.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { devNull, tmpdir } from 'node:os';
import { join } from 'node:path';

export interface BigRepositorySpec {
  commits: number;
  /** Source files at the tip. */
  textFiles: number;
  /** Source files edited per commit (a line or two each): the many small deltas of a real history. */
  textEdits: number;
  /** Binary asset paths; one of them is replaced every `assetEvery` commits. */
  assets: number;
  assetBytes: number;
  assetEvery: number;
  branches: number;
}

export const FULL_REPOSITORY: BigRepositorySpec = {
  commits: 5000,
  textFiles: 1500,
  textEdits: 12,
  assets: 24,
  assetBytes: 440 * 1024,
  assetEvery: 12,
  branches: 6,
};
export const SHORT_REPOSITORY: BigRepositorySpec = {
  commits: 400,
  textFiles: 200,
  textEdits: 6,
  assets: 6,
  assetBytes: 96 * 1024,
  assetEvery: 8,
  branches: 3,
};

const ENV = { PATH: process.env.PATH, HOME: tmpdir(), GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: devNull, LC_ALL: 'C' };
const WORDS =
  'the of and to in is that for it as with was on be by this are from at or an have not which but all can their has more one will would there been other when than some into its them only may these two then time could also new any first should each most used such well work even most'.split(
    ' ',
  );

function git(args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`git ${args[0]} failed (${code}): ${err.slice(-500)}`))));
  });
}

/** A small deterministic generator: the text is the same on every machine (the assets need not be). */
function prng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

function line(rand: () => number): string {
  const n = 6 + Math.floor(rand() * 8);
  return Array.from({ length: n }, () => WORDS[Math.floor(rand() * WORDS.length)]).join(' ');
}

export function pathOfSpec(spec: BigRepositorySpec): string {
  const digest = createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 12);
  return join(tmpdir(), `keyway-bench-repository-${spec.commits}-${digest}.git`);
}

/** Bytes of the repository's packs (what a clone transfers, roughly). */
export function packBytes(gitDir: string): number {
  const dir = join(gitDir, 'objects', 'pack');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.pack'))
    .reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
}

/** The generated repository's bare directory: made once per spec, reused while it exists. */
export async function bigRepository(spec: BigRepositorySpec, log: (line: string) => void): Promise<string> {
  const path = pathOfSpec(spec);
  if (existsSync(join(path, 'keyway-complete'))) return path;
  rmSync(path, { recursive: true, force: true });
  const building = `${path}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  const started = Date.now();
  log(`  generating a repository of ${spec.commits} commits under ${tmpdir()} (once; later runs reuse it)…`);
  await git(['init', '--bare', '--quiet', '--initial-branch=main', building], tmpdir());
  // Binary assets never delta: pack-objects skips them (gitattributes, "delta").
  mkdirSync(join(building, 'info'), { recursive: true });
  writeFileSync(join(building, 'info', 'attributes'), '*.bin -delta\n');
  await fastImport(building, spec);
  log(`  fast-import done in ${Math.round((Date.now() - started) / 1000)} s; repacking (deltas, bitmap)…`);
  await git(['repack', '-a', '-d', '-f', '-b', '-q', '--window=10', '--depth=50'], building);
  await git(['prune-packed'], building);
  writeFileSync(join(building, 'keyway-complete'), `${new Date().toISOString()}\n`);
  renameSync(building, path);
  log(`  generated in ${Math.round((Date.now() - started) / 1000)} s: ${(packBytes(path) / 1024 / 1024).toFixed(0)} MiB of packs`);
  return path;
}

async function fastImport(gitDir: string, spec: BigRepositorySpec): Promise<void> {
  const child = spawn('git', ['fast-import', '--quiet', '--done'], {
    cwd: gitDir,
    env: { ...ENV, GIT_DIR: gitDir },
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`git fast-import failed (${code}): ${stderr.slice(-500)}`))));
  });
  const write = async (chunk: string | Buffer): Promise<void> => {
    if (!child.stdin.write(chunk)) await new Promise<void>((r) => child.stdin.once('drain', r));
  };
  const data = async (content: Buffer | string): Promise<void> => {
    const bytes = typeof content === 'string' ? Buffer.from(content) : content;
    await write(`data ${bytes.length}\n`);
    await write(bytes);
    await write('\n');
  };
  const rand = prng(20);
  const files = Array.from({ length: spec.textFiles }, () => Array.from({ length: 60 + Math.floor(rand() * 60) }, () => line(rand)));
  const pathOf = (i: number) => `src/module-${String(Math.floor(i / 50)).padStart(2, '0')}/file-${String(i).padStart(4, '0')}.txt`;
  const start = 1_600_000_000;
  const who = (i: number) => `Developer ${i % 17} <dev${i % 17}@example.invalid>`;
  const branchPoints = new Map<number, string>();
  for (let b = 0; b < spec.branches; b++)
    branchPoints.set(Math.floor(((b + 1) * spec.commits) / (spec.branches + 1)), `feature/topic-${b + 1}`);

  for (let c = 1; c <= spec.commits; c++) {
    const ts = start + c * 3600;
    await write(`commit refs/heads/main\nmark :${c}\nauthor ${who(c)} ${ts} +0000\ncommitter ${who(c)} ${ts} +0000\n`);
    await data(c === 1 ? 'Initial import' : `Change ${c}: ${line(rand)}`);
    if (c > 1) await write(`from :${c - 1}\n`);
    if (c === 1) {
      await write('M 100644 inline README.md\n');
      await data('# Generated repository\n\nA benchmark fixture: edited sources, replaced assets.\n');
      for (let i = 0; i < files.length; i++) {
        await write(`M 100644 inline ${pathOf(i)}\n`);
        await data(`${files[i]!.join('\n')}\n`);
      }
      for (let a = 0; a < spec.assets; a++) {
        await write(`M 100644 inline assets/asset-${String(a).padStart(2, '0')}.bin\n`);
        await data(randomBytes(spec.assetBytes));
      }
    } else {
      for (let k = 0; k < spec.textEdits; k++) {
        const i = Math.floor(rand() * files.length);
        const file = files[i]!;
        file[Math.floor(rand() * file.length)] = line(rand);
        if (rand() < 0.3) file.push(line(rand));
        await write(`M 100644 inline ${pathOf(i)}\n`);
        await data(`${file.join('\n')}\n`);
      }
      if (c % spec.assetEvery === 0) {
        await write(`M 100644 inline assets/asset-${String(Math.floor(rand() * spec.assets)).padStart(2, '0')}.bin\n`);
        await data(randomBytes(spec.assetBytes));
      }
    }
    await write('\n');
    const branch = branchPoints.get(c);
    if (branch) {
      // A topic branch: two commits on top of this point.
      await write(`reset refs/heads/${branch}\nfrom :${c}\n\n`);
      for (let k = 0; k < 2; k++) {
        await write(`commit refs/heads/${branch}\nauthor ${who(c + k)} ${ts + k} +0000\ncommitter ${who(c + k)} ${ts + k} +0000\n`);
        await data(`${branch}: ${line(rand)}`);
        await write(`M 100644 inline topic/${branch.replace('/', '-')}-${k}.txt\n`);
        await data(`${line(rand)}\n`);
        await write('\n');
      }
      await write(`reset refs/tags/v${branchPoints.size - [...branchPoints.keys()].filter((p) => p > c).length}.0\nfrom :${c}\n\n`);
    }
  }
  await write('done\n');
  child.stdin.end();
  await exited;
}
