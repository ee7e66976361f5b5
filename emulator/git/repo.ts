// Bare git repositories on disk, driven through the system `git` (2.38+ for `merge-tree --write-tree`).
// Every call runs with an empty global/system configuration so a developer's ~/.gitconfig cannot
// change what the emulator serves.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { devNull } from 'node:os';

export interface GitResult {
  stdout: Buffer;
  stderr: string;
  code: number;
}

export function gitBaseEnv(home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: devNull,
    GIT_TERMINAL_PROMPT: '0',
    LC_ALL: 'C',
  };
}

export async function runGit(
  args: string[],
  opts: { gitDir?: string; input?: string | Buffer; env?: NodeJS.ProcessEnv; okCodes?: number[] } = {},
): Promise<GitResult> {
  const fullArgs = opts.gitDir ? ['--git-dir', opts.gitDir, ...args] : args;
  return new Promise((resolve, reject) => {
    const child = spawn('git', fullArgs, {
      env: { ...gitBaseEnv(opts.gitDir ?? process.cwd()), ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.stdin.on('error', () => {
      /* the child may exit before reading all input; its exit code tells */
    });
    child.on('close', (code) => {
      const result = { stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8'), code: code ?? -1 };
      const ok = opts.okCodes ?? [0];
      if (!ok.includes(result.code)) {
        reject(new Error(`git ${args[0]} failed (${result.code}): ${result.stderr.trim()}`));
      } else {
        resolve(result);
      }
    });
    child.stdin.end(opts.input ?? '');
  });
}

async function gitText(gitDir: string, args: string[], okCodes?: number[]): Promise<string> {
  const r = await runGit(args, { gitDir, okCodes });
  return r.stdout.toString('utf8');
}

export async function initBareRepository(gitDir: string, defaultBranch: string): Promise<void> {
  await runGit(['init', '--bare', '--quiet', `--initial-branch=${defaultBranch}`, gitDir]);
}

export interface Signature {
  name: string;
  email: string;
}

export interface SeedSpec {
  commits: number;
  defaultBranch: string;
  branches?: Array<string | { name: string; commits?: number }>;
  tags?: Array<string | { name: string; message?: string }>;
  files?: Record<string, string>;
  author: Signature;
  /** Seconds since the epoch of the first commit; later commits are one minute apart. */
  startTime?: number;
}

function dataBlock(text: string): string {
  return `data ${Buffer.byteLength(text, 'utf8')}\n${text}\n`;
}

/**
 * Writes a history with `git fast-import` (1,000 commits in well under a second): `commits` commits on
 * the default branch, one extra commit per branch forked from its tip, and tags on its tip.
 */
export async function seedRepository(gitDir: string, spec: SeedSpec): Promise<void> {
  if (spec.commits <= 0) return;
  const start = spec.startTime ?? Math.floor(Date.now() / 1000) - (spec.commits + 10) * 60;
  const who = `${spec.author.name} <${spec.author.email}>`;
  const parts: string[] = [];
  let mark = 0;
  const branchRef = `refs/heads/${spec.defaultBranch}`;
  for (let i = 1; i <= spec.commits; i++) {
    mark++;
    const ts = start + i * 60;
    parts.push(`commit ${branchRef}\nmark :${mark}\nauthor ${who} ${ts} +0000\ncommitter ${who} ${ts} +0000\n`);
    parts.push(dataBlock(i === 1 ? 'Initial commit' : `Commit ${i}`));
    if (i === 1) {
      parts.push(`M 100644 inline README.md\n${dataBlock(`# Emulated repository\n`)}`);
      for (const [path, content] of Object.entries(spec.files ?? {})) {
        parts.push(`M 100644 inline ${path.replace(/^\/+/, '')}\n${dataBlock(content)}`);
      }
    }
    parts.push(`M 100644 inline counter.txt\n${dataBlock(`${i}\n`)}`);
    parts.push('\n');
  }
  const tip = mark;
  let ts = start + (spec.commits + 1) * 60;
  for (const b of spec.branches ?? []) {
    const name = typeof b === 'string' ? b : b.name;
    const n = typeof b === 'string' ? 1 : (b.commits ?? 1);
    let from = `:${tip}`;
    for (let j = 1; j <= n; j++) {
      mark++;
      ts += 60;
      parts.push(`commit refs/heads/${name}\nmark :${mark}\nauthor ${who} ${ts} +0000\ncommitter ${who} ${ts} +0000\n`);
      parts.push(dataBlock(`Work on ${name} (${j})`));
      parts.push(`from ${from}\n`);
      parts.push(`M 100644 inline branches/${name.replace(/\//g, '-')}.txt\n${dataBlock(`${name} ${j}\n`)}\n`);
      from = `:${mark}`;
    }
  }
  for (const t of spec.tags ?? []) {
    if (typeof t === 'string') {
      parts.push(`reset refs/tags/${t}\nfrom :${tip}\n\n`);
    } else {
      // No blank line after a tag's data: fast-import reads it as an (unsupported) empty command.
      parts.push(`tag ${t.name}\nfrom :${tip}\ntagger ${who} ${ts} +0000\n${dataBlock(t.message ?? `Release ${t.name}`)}`);
    }
  }
  await runGit(['fast-import', '--quiet'], { gitDir, input: parts.join('') });
}

/** Adds one commit writing `files` on top of `branch` (created from `from` when missing). */
export async function commitFiles(
  gitDir: string,
  p: { branch: string; files: Record<string, string | null>; message: string; author: Signature; from?: string },
): Promise<string> {
  const ref = `refs/heads/${p.branch}`;
  const exists = await resolveCommit(gitDir, ref);
  const base = exists ?? (p.from ? await resolveCommit(gitDir, p.from) : null);
  const ts = Math.floor(Date.now() / 1000);
  const who = `${p.author.name} <${p.author.email}>`;
  let stream = `commit ${ref}\nauthor ${who} ${ts} +0000\ncommitter ${who} ${ts} +0000\n${dataBlock(p.message)}`;
  if (base) stream += `from ${base}\n`;
  for (const [path, content] of Object.entries(p.files)) {
    const clean = path.replace(/^\/+/, '');
    stream += content === null ? `D ${clean}\n` : `M 100644 inline ${clean}\n${dataBlock(content)}`;
  }
  stream += '\n';
  await runGit(['fast-import', '--quiet', '--force'], { gitDir, input: stream });
  const sha = await resolveCommit(gitDir, ref);
  if (!sha) throw new Error('commit was not written');
  return sha;
}

export interface RefEntry {
  name: string;
  objectId: string;
  /** For annotated tags: the commit the tag points to. */
  peeledObjectId?: string;
}

export async function listRefs(gitDir: string): Promise<RefEntry[]> {
  const text = await gitText(gitDir, ['for-each-ref', '--format=%(refname)%00%(objectname)%00%(*objectname)']);
  const refs: RefEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [name = '', objectId = '', peeled = ''] = line.split('\0');
    const entry: RefEntry = { name, objectId };
    if (peeled) entry.peeledObjectId = peeled;
    refs.push(entry);
  }
  return refs;
}

export async function resolveCommit(gitDir: string, rev: string): Promise<string | null> {
  if (rev.startsWith('-')) return null;
  const r = await runGit(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`], { gitDir, okCodes: [0, 1, 128] });
  const sha = r.stdout.toString('utf8').trim();
  return r.code === 0 && /^[0-9a-f]{40}$/.test(sha) ? sha : null;
}

export interface CommitInfo {
  commitId: string;
  treeId: string;
  parents: string[];
  author: { name: string; email: string; date: string };
  committer: { name: string; email: string; date: string };
  comment: string;
  changeCounts: { Add: number; Edit: number; Delete: number };
  /** What the commit changed against its first parent: A/M/D and the path. */
  changes: Array<{ changeType: 'add' | 'edit' | 'delete'; path: string }>;
}

const LOG_FORMAT = '%x1e%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B%x00';

function isoUtc(date: string): string {
  return new Date(date).toISOString().replace('.000Z', 'Z');
}

function parseLog(text: string): CommitInfo[] {
  const commits: CommitInfo[] = [];
  for (const record of text.split('\x1e')) {
    if (!record.trim()) continue;
    const fields = record.split('\0');
    const [commitId = '', treeId = '', parents = '', an = '', ae = '', ad = '', cn = '', ce = '', cd = '', body = ''] = fields;
    const rest = fields.slice(10).join('\0');
    const counts = { Add: 0, Edit: 0, Delete: 0 };
    const changes: CommitInfo['changes'] = [];
    for (const line of rest.split('\n')) {
      const [status, path = ''] = line.split('\t');
      if (status === 'A') counts.Add++;
      else if (status === 'M' || status === 'T') counts.Edit++;
      else if (status === 'D') counts.Delete++;
      else continue;
      changes.push({ changeType: status === 'A' ? 'add' : status === 'D' ? 'delete' : 'edit', path: `/${path}` });
    }
    commits.push({
      commitId,
      treeId,
      parents: parents ? parents.split(' ') : [],
      author: { name: an, email: ae, date: isoUtc(ad) },
      committer: { name: cn, email: ce, date: isoUtc(cd) },
      comment: body.replace(/\n+$/, ''),
      changeCounts: counts,
      changes,
    });
  }
  return commits;
}

export interface CommitFilter {
  skip?: number;
  top?: number;
  /** Leave out commits reachable from these (compareVersion). */
  not?: string[];
  /** Author name or e-mail contains this (case-insensitive). */
  author?: string;
  /** Committer date bounds, ISO 8601. */
  since?: string;
  until?: string;
  /** Only commits touching this path (no leading slash). */
  path?: string;
}

export async function readCommits(gitDir: string, from: string, opts: CommitFilter = {}): Promise<CommitInfo[]> {
  const args = ['log', `--format=${LOG_FORMAT}`, '--name-status', '--no-renames', '--regexp-ignore-case', '--fixed-strings'];
  if (opts.skip) args.push(`--skip=${opts.skip}`);
  if (opts.top !== undefined) args.push(`--max-count=${opts.top}`);
  if (opts.author) args.push(`--author=${opts.author}`);
  if (opts.since) args.push(`--since=${opts.since}`);
  if (opts.until) args.push(`--until=${opts.until}`);
  args.push(from);
  for (const n of opts.not ?? []) args.push(`^${n}`);
  args.push('--');
  if (opts.path) args.push(opts.path);
  return parseLog(await gitText(gitDir, args));
}

export async function readCommit(gitDir: string, sha: string): Promise<CommitInfo | null> {
  const resolved = await resolveCommit(gitDir, sha);
  if (!resolved) return null;
  const [c] = await readCommits(gitDir, resolved, { top: 1 });
  return c ?? null;
}

export interface TreeItem {
  objectId: string;
  type: 'blob' | 'tree' | 'commit';
  content?: Buffer;
}

/** Looks up `path` (leading slash optional) at `commit`; null when it does not exist. */
export async function readItem(gitDir: string, commit: string, path: string, withContent: boolean): Promise<TreeItem | null> {
  const rel = path.replace(/^\/+/, '').replace(/\/+$/, '');
  const spec = rel === '' ? `${commit}^{tree}` : `${commit}:${rel}`;
  const r = await runGit(['rev-parse', '--verify', '--quiet', spec], { gitDir, okCodes: [0, 1, 128] });
  if (r.code !== 0) return null;
  const objectId = r.stdout.toString('utf8').trim();
  const type = (await gitText(gitDir, ['cat-file', '-t', objectId])).trim() as TreeItem['type'];
  const item: TreeItem = { objectId, type };
  if (withContent && type === 'blob') {
    item.content = (await runGit(['cat-file', 'blob', objectId], { gitDir })).stdout;
  }
  return item;
}

/**
 * Merges `source` into `target` the way a pull request's merge ref is built (a two-parent commit on
 * the target), without a work tree. Returns null on conflicts.
 */
export async function createMergeCommit(
  gitDir: string,
  p: { target: string; source: string; message: string; author: Signature },
): Promise<string | null> {
  const merge = await runGit(['merge-tree', '--write-tree', '--no-messages', p.target, p.source], { gitDir, okCodes: [0, 1] });
  if (merge.code !== 0) return null;
  const tree = merge.stdout.toString('utf8').split('\n')[0]?.trim() ?? '';
  const ident = {
    GIT_AUTHOR_NAME: p.author.name,
    GIT_AUTHOR_EMAIL: p.author.email,
    GIT_COMMITTER_NAME: p.author.name,
    GIT_COMMITTER_EMAIL: p.author.email,
  };
  const r = await runGit(['commit-tree', tree, '-p', p.target, '-p', p.source, '-m', p.message], { gitDir, env: ident });
  return r.stdout.toString('utf8').trim();
}

/** Commits reachable from `tips` but from none of `known` (what a push brought in), newest first. */
export async function newCommits(gitDir: string, tips: string[], known: string[]): Promise<string[]> {
  if (tips.length === 0) return [];
  const r = await runGit(['rev-list', ...tips, ...(known.length ? ['--not', ...known] : [])], { gitDir });
  return r.stdout
    .toString('utf8')
    .split('\n')
    .filter((l) => /^[0-9a-f]{40}$/.test(l));
}

/** Commits `a` has that `b` lacks, and the other way round (branch statistics). */
export async function aheadBehind(gitDir: string, a: string, b: string): Promise<{ ahead: number; behind: number }> {
  const r = await runGit(['rev-list', '--left-right', '--count', `${a}...${b}`], { gitDir });
  const [ahead = '0', behind = '0'] = r.stdout.toString('utf8').trim().split(/\s+/);
  return { ahead: Number(ahead), behind: Number(behind) };
}

export async function updateRef(gitDir: string, ref: string, sha: string): Promise<void> {
  await runGit(['update-ref', ref, sha], { gitDir });
}

/** The branch HEAD names, read from disk without spawning git. */
export function headRef(gitDir: string): string | undefined {
  try {
    const m = /^ref:\s*(\S+)/.exec(readFileSync(join(gitDir, 'HEAD'), 'utf8'));
    return m?.[1];
  } catch {
    return undefined;
  }
}

export function refExistsOnDisk(gitDir: string, ref: string): boolean {
  if (existsSync(join(gitDir, ref))) return true;
  try {
    return readFileSync(join(gitDir, 'packed-refs'), 'utf8')
      .split('\n')
      .some((l) => l.endsWith(` ${ref}`));
  } catch {
    return false;
  }
}

export async function setHead(gitDir: string, ref: string): Promise<void> {
  await runGit(['symbolic-ref', 'HEAD', ref], { gitDir });
}

/** Approximate on-disk size of the object store, like the `size` the REST API reports. */
export function repositorySize(gitDir: string): number {
  let total = 0;
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else total += st.size;
    }
  };
  walk(join(gitDir, 'objects'));
  return total;
}
