import type { EnvironmentConfig } from '../../config/config.ts';
import type { EnvironmentServiceOptions } from './service.ts';

/** The runner's side of the environment settings (KEYWAY_RUNNER_*, KEYWAY_GIT_*, idle, workspaces, repository cache). */
export function environmentOptionsFromConfig(c: EnvironmentConfig): Partial<EnvironmentServiceOptions> {
  return {
    maxEnvironments: c.runnerMax,
    maxClones: c.runnerMaxClones,
    stallTimeoutMs: c.gitStallTimeoutSeconds * 1000,
    cloneTimeoutMs: c.gitCloneTimeoutMinutes * 60_000,
    idleTimeoutMs: c.idleHours * 3_600_000,
    ...(c.workspacesDir ? { workspacesDir: c.workspacesDir } : {}),
    ...(c.workspaceUids ? { isolation: c.workspaceUids } : {}),
    repositoryCache: {
      ...(c.repositoryCacheDir ? { dir: c.repositoryCacheDir } : {}),
      maxBytes: c.repositoryCacheMb * 1024 * 1024,
      freshMs: c.repositoryCacheFreshSeconds * 1000,
    },
  };
}
