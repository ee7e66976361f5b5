// Runs the system git for environments, always asynchronously (a synchronous spawn would block the
// runner's event loop, including the credential socket git itself is waiting on).
import { spawn } from 'node:child_process';
import { redactAzureDevOpsPats } from '../../azure-devops/pat.ts';
import { createProgressParser } from './progress.ts';
import { inSpan } from '../../telemetry/spans.ts';
import type { CloneProgress } from './progress.ts';

export interface GitOutcome {
  code: number;
  stdout: string;
  /** git's last non-progress stderr lines (redacted). */
  messages: string[];
}

/** The git subcommand of an argument list (`clone` in `-c a=b clone --progress …`). */
export function subcommand(args: readonly string[]): string {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-c' || a === '-C') i++;
    else if (!a.startsWith('-')) return a;
  }
  return '';
}

export const seconds = (ms: number): string => (ms < 10_000 ? (ms / 1000).toFixed(1).replace(/\.0$/, '') : String(Math.round(ms / 1000)));

/** git was stopped: nothing arrived for `ms` (`stalled`), or the work's time ran out (`deadline`). */
export class GitTimeoutError extends Error {
  constructor(
    readonly reason: 'stalled' | 'deadline',
    readonly ms: number,
    readonly args: string[],
  ) {
    super(
      reason === 'stalled'
        ? `git ${subcommand(args)} made no progress for ${seconds(ms)} s and was stopped`
        : `git ${subcommand(args)} ran out of time and was stopped`,
    );
    this.name = 'GitTimeoutError';
  }
}

export interface RunGitOptions {
  cwd?: string;
  signal?: AbortSignal;
  onProgress?: (progress: CloneProgress) => void;
  env?: NodeJS.ProcessEnv;
  /** Stop git when it writes nothing (progress or otherwise) for this long. */
  stallTimeoutMs?: number;
  /** Stop git after this long in any case. */
  timeoutMs?: number;
  /** Run as this Unix user and group (isolated workspaces; the runner needs the right to). */
  uid?: number;
  gid?: number;
  /** File mode creation mask for git and everything it starts, e.g. 0o077. */
  umask?: number;
}

export class GitCommandError extends Error {
  constructor(
    readonly args: string[],
    readonly outcome: GitOutcome,
  ) {
    // The message names the subcommand only: arguments may be long and are in the log context anyway.
    super(`git ${subcommand(args)} failed (${outcome.code}): ${outcome.messages.slice(-3).join(' ') || 'no message'}`);
    this.name = 'GitCommandError';
  }
}

/**
 * The environment git runs with: the runner's own, minus variables that would point git at another
 * repository, in the C locale (progress phases are parsed in English), never prompting.
 */
export function gitEnvironment(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const name of [
    'GIT_DIR',
    'GIT_WORK_TREE',
    'GIT_INDEX_FILE',
    'GIT_OBJECT_DIRECTORY',
    'GIT_ALTERNATE_OBJECT_DIRECTORIES',
    'GIT_NAMESPACE',
    'GIT_CEILING_DIRECTORIES',
  ]) {
    delete env[name];
  }
  env.LC_ALL = 'C';
  env.LANGUAGE = 'C';
  env.GIT_TERMINAL_PROMPT = '0';
  // Empty disables askpass programs: a missing credential fails instead of opening a dialog.
  env.GIT_ASKPASS = '';
  env.SSH_ASKPASS = '';
  return env;
}

/**
 * Runs git in a process group of its own, so that stopping it (abort, stall, deadline) also stops
 * what it started: git-remote-https, the credential helpers, their curl.
 */
export function runGit(args: string[], options: RunGitOptions = {}): Promise<GitOutcome> {
  const subcommand = args.find((a) => !a.startsWith('-') && !a.includes('=')) ?? '';
  // A child span of whatever asked (an environment's control request): arguments stay out, they hold URLs and paths.
  return inSpan(`git ${subcommand}`, { 'process.executable.name': 'git', 'keyway.git.subcommand': subcommand }, () =>
    spawnGit(args, options),
  );
}

function spawnGit(args: string[], options: RunGitOptions): Promise<GitOutcome> {
  return new Promise((resolve, reject) => {
    // Node cannot set a child's umask: a shell sets it and then becomes git.
    const [command, argv] =
      options.umask === undefined
        ? ['git', args]
        : ['/bin/sh', ['-c', `umask ${options.umask.toString(8).padStart(3, '0')} && exec git "$@"`, 'git', ...args]];
    const child = spawn(command, argv, {
      cwd: options.cwd,
      env: options.env ?? gitEnvironment(),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      ...(options.uid !== undefined ? { uid: options.uid, gid: options.gid ?? options.uid } : {}),
    });
    const parser = createProgressParser((p) => options.onProgress?.(p));
    const out: Buffer[] = [];
    let stopped: 'aborted' | 'stalled' | 'deadline' | undefined;
    let stallTimer: NodeJS.Timeout | undefined;
    const stop = (why: NonNullable<typeof stopped>) => {
      if (stopped || child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      stopped = why;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    const armStall = () => {
      if (options.stallTimeoutMs === undefined) return;
      clearTimeout(stallTimer);
      stallTimer = setTimeout(() => stop('stalled'), options.stallTimeoutMs);
    };
    const deadlineTimer = options.timeoutMs === undefined ? undefined : setTimeout(() => stop('deadline'), Math.max(0, options.timeoutMs));
    const onAbort = () => stop('aborted');
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    armStall();
    child.stdout.on('data', (c: Buffer) => {
      out.push(c);
      armStall();
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => {
      parser.feed(c);
      armStall();
    });
    const cleanup = () => {
      clearTimeout(stallTimer);
      clearTimeout(deadlineTimer);
      options.signal?.removeEventListener('abort', onAbort);
    };
    child.on('error', (err) => {
      cleanup();
      reject(new Error(`git could not be started: ${(err as NodeJS.ErrnoException).code ?? err.message}; install git on the runner`));
    });
    child.on('close', (code) => {
      cleanup();
      parser.end();
      if (stopped === 'aborted' || options.signal?.aborted) return reject(options.signal?.reason ?? new Error('aborted'));
      if (stopped === 'stalled') return reject(new GitTimeoutError('stalled', options.stallTimeoutMs ?? 0, args));
      if (stopped === 'deadline') return reject(new GitTimeoutError('deadline', options.timeoutMs ?? 0, args));
      const outcome = { code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), messages: parser.tail().map(redactAzureDevOpsPats) };
      if (outcome.code !== 0) reject(new GitCommandError(args, outcome));
      else resolve(outcome);
    });
  });
}
