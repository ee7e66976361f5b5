// Where an environment lives on the runner's disk, and the credential helper installed into it.
//
//   {dataDir}/workspaces/{envId}/            0700 (KEYWAY_WORKSPACES_DIR replaces {dataDir}/workspaces)
//     {repo}/                                the clone (the workspace path users see)
//     .keyway/credential-helper              0700, the script git runs (a few lines around curl)
//     .keyway/secret                         0600, "Authorization: Bearer <secret>" (curl -H @file)
//     .keyway/network.gitconfig              0644, included by the clone's .git/config (network.ts)
//
// With isolated workspaces (KEYWAY_WORKSPACE_UIDS) the environment's directory and files belong to
// the environment's own Unix user, and the directory holding the workspaces is 0711 (enter, not list).
//
// The secret lives in a file so that it never appears in a command line (process list) nor in
// .git/config; the helper reads it with `curl -H @file`. Names from Azure DevOps are only ever used
// as a path segment after sanitizing (repositoryDirName).

import { chmod, chown, mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { HandlerError } from '../agent.ts';

export const ENVIRONMENT_ID = /^env_[A-Za-z0-9_-]{8,64}$/;

export function assertEnvironmentId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !ENVIRONMENT_ID.test(id)) {
    throw new HandlerError('invalid_request', 'environmentId must look like env_ followed by 8–64 letters, digits, _ or -');
  }
}

/**
 * A directory name for a repository: letters, digits, `.`, `_` and `-` only, no leading dot (so
 * never `.`, `..` or `.keyway`), at most 64 characters; `repo` when nothing is left.
 */
export function repositoryDirName(repository: string): string {
  const cleaned = repository
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[.-]+/, '')
    .slice(0, 64)
    .replace(/[.-]+$/, '');
  return cleaned || 'repo';
}

export interface WorkspaceLayout {
  /** `{dataDir}/workspaces/{envId}`: removed as a whole when the environment is deleted. */
  root: string;
  /** The clone. */
  worktree: string;
  helperPath: string;
  secretPath: string;
  /** git's network settings for this environment (no redirects, the vetted addresses). */
  networkConfigPath: string;
}

/** `workspacesDir` (KEYWAY_WORKSPACES_DIR) replaces `{dataDir}/workspaces`. */
export function workspaceLayout(dataDir: string, environmentId: string, repository: string, workspacesDir?: string): WorkspaceLayout {
  assertEnvironmentId(environmentId);
  const base = resolve(workspacesDir ?? resolve(dataDir, 'workspaces'));
  const root = resolve(base, environmentId);
  // Defence in depth: the id pattern already rules out separators and dots.
  if (!root.startsWith(base + sep)) throw new HandlerError('invalid_request', 'environmentId is not a plain name');
  const keyway = join(root, '.keyway');
  return {
    root,
    worktree: join(root, repositoryDirName(repository)),
    helperPath: join(keyway, 'credential-helper'),
    secretPath: join(keyway, 'secret'),
    networkConfigPath: join(keyway, 'network.gitconfig'),
  };
}

/** POSIX shell single-quoting: safe for any path. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Git runs a `!` helper as `sh -c '<command> "$@"' <command> get|store|erase`. Only `get` asks
 * anything: the wrapper answers `store` and `erase` in the one shell git starts, without starting
 * the helper behind it (git calls every helper to store after each successful command).
 */
function getOnly(command: string): string {
  return `!f() { [ "$1" != get ] || exec ${command} get; }; f`;
}

/**
 * The first `credential.helper`: git's built-in credential-cache client asking the environment's
 * own socket (environment-socket.ts), for `get` and `erase` (git's report, after a 401, that the
 * token was refused: the runner then refreshes it once). Never `store`: with the socket gone, the
 * client would start a cache daemon of its own there and keep the token (`erase` starts none).
 */
export function cacheHelperCommand(socketPath: string): string {
  return `!f() { case "$1" in get|erase) exec git credential-cache --socket ${shellQuote(socketPath)} "$1";; esac; }; f`;
}

/** The second `credential.helper`: the script below, which also explains every refusal. */
export function helperCommand(helperPath: string): string {
  return getOnly(shellQuote(helperPath));
}

/**
 * The helper git runs as `credential-helper get|store|erase` with the request on stdin
 * (gitcredentials(7)). Only `get` asks the runner; `store` and `erase` exit at once (git writes its
 * few bytes into the pipe and ignores SIGPIPE, so stdin need not be read). On a failure it prints
 * the reason and tells git to stop (`quit=1`) instead of letting git prompt for a password.
 * One shell and one curl per call: no Node start-up on git's hot path.
 */
export function helperScript(options: { environmentId: string; socketPath: string; secretPath: string }): string {
  const lines = [
    '#!/bin/sh',
    `# Keyway git credential helper for environment ${options.environmentId} (generated; do not edit).`,
    "# Asks the Keyway runner, over its local socket, for the user's current Azure DevOps token.",
    '[ "$1" = get ] || exit 0',
    "nl='",
    "'",
    `answer=$(curl --silent --show-error --max-time 90 --unix-socket ${shellQuote(options.socketPath)} -H @${shellQuote(options.secretPath)} --data-binary @- -w '\\n%{http_code}' http://keyway/v1/git-credential 2>&1)`,
    'code=$?',
    'status=${answer##*"$nl"}',
    'answer=${answer%"$nl"*}',
    'if [ "$code" = 0 ] && [ "$status" = 200 ]; then',
    '  printf \'%s\' "$answer"',
    '  exit 0',
    'fi',
    'if [ "$code" = 0 ]; then',
    '  printf \'keyway: %s\\n\' "${answer%"$nl"}" >&2',
    'else',
    `  printf 'keyway: cannot ask the Keyway runner for a token (curl exit %s): is the runner running, and is the workspace secret file .keyway/secret readable?\\n' "$code" >&2`,
    'fi',
    'echo quit=1',
    '',
  ];
  return lines.join('\n');
}

/**
 * @param owner isolated workspaces: the environment's own user and group, who gets the directory
 *   and its files; the directory of all workspaces is then 0711 so that user can reach its own.
 */
export async function createWorkspace(
  layout: WorkspaceLayout,
  files: { helper: string; secret: string },
  owner?: { uid: number; gid: number },
): Promise<void> {
  const parent = resolve(layout.root, '..');
  await mkdir(parent, { recursive: true, mode: 0o700 });
  if (owner) await chmod(parent, 0o711);
  // Fails when the directory exists: an id is never reused.
  await mkdir(layout.root, { mode: 0o700 });
  await mkdir(join(layout.root, '.keyway'), { mode: 0o700 });
  await writeFile(layout.secretPath, `Authorization: Bearer ${files.secret}\n`, { mode: 0o600, flag: 'wx' });
  await writeFile(layout.helperPath, files.helper, { mode: 0o700, flag: 'wx' });
  // mkdir and writeFile apply the umask; the modes above are what the design promises.
  await chmod(layout.root, 0o700);
  await chmod(layout.secretPath, 0o600);
  await chmod(layout.helperPath, 0o700);
  if (owner) {
    for (const path of [layout.root, join(layout.root, '.keyway'), layout.secretPath, layout.helperPath])
      await chown(path, owner.uid, owner.gid);
  }
}

export async function removeWorkspace(layout: Pick<WorkspaceLayout, 'root'>): Promise<void> {
  await rm(layout.root, { recursive: true, force: true, maxRetries: 3 });
}
