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

export class GitCommandError extends Error {
  constructor(
    readonly args: string[],
    readonly outcome: GitOutcome,
  ) {
    // The message names the subcommand only: arguments may be long and are in the log context anyway.
    super(`git ${args.find((a) => !a.startsWith('-') && !a.includes('=')) ?? ''} failed (${outcome.code}): ${outcome.messages.slice(-3).join(' ') || 'no message'}`);
    this.name = 'GitCommandError';
  }
}

/**
 * The environment git runs with: the runner's own, minus variables that would point git at another
 * repository, in the C locale (progress phases are parsed in English), never prompting.
 */
export function gitEnvironment(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const name of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_NAMESPACE', 'GIT_CEILING_DIRECTORIES']) {
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

export function runGit(
  args: string[],
  options: { cwd?: string; signal?: AbortSignal; onProgress?: (progress: CloneProgress) => void; env?: NodeJS.ProcessEnv } = {},
): Promise<GitOutcome> {
  const subcommand = args.find((a) => !a.startsWith('-') && !a.includes('=')) ?? '';
  // A child span of whatever asked (an environment's control request): arguments stay out, they hold URLs and paths.
  return inSpan(`git ${subcommand}`, { 'process.executable.name': 'git', 'keyway.git.subcommand': subcommand }, () => spawnGit(args, options));
}

function spawnGit(args: string[], options: { cwd?: string; signal?: AbortSignal; onProgress?: (progress: CloneProgress) => void; env?: NodeJS.ProcessEnv }): Promise<GitOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd: options.cwd, env: options.env ?? gitEnvironment(), stdio: ['ignore', 'pipe', 'pipe'], signal: options.signal });
    const parser = createProgressParser((p) => options.onProgress?.(p));
    const out: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => parser.feed(c));
    child.on('error', (err) => {
      if ((err as { name?: string }).name === 'AbortError') reject(err);
      else reject(new Error(`git could not be started: ${(err as NodeJS.ErrnoException).code ?? err.message}; install git on the runner`));
    });
    child.on('close', (code) => {
      parser.end();
      if (options.signal?.aborted) return reject(options.signal.reason ?? new Error('aborted'));
      const outcome = { code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), messages: parser.tail().map(redactAzureDevOpsPats) };
      if (outcome.code !== 0) reject(new GitCommandError(args, outcome));
      else resolve(outcome);
    });
  });
}
