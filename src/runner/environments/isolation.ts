// Isolated workspaces (issue 15). By default every environment's git runs as the runner's Unix user,
// so any process of one environment can read another's workspace: the trust boundary is the
// runner. With KEYWAY_WORKSPACE_UIDS=first-last (Linux, the runner running as root or with
// CAP_SETUID, CAP_SETGID and CAP_CHOWN), each environment gets a user id of its own from that range:
// its workspace and files belong to it (0700, git runs with umask 077), its credential socket
// accepts only it, and its git runs as it. One environment's processes can then neither read
// another's files nor ask another's socket for a token. The ids need no /etc/passwd entry.

import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

export interface WorkspaceIsolation {
  first: number;
  last: number;
}

/** The lowest id of the range no environment holds; undefined when all are taken. */
export function allocateUid(range: WorkspaceIsolation, used: ReadonlySet<number>): number | undefined {
  for (let uid = range.first; uid <= range.last; uid++) if (!used.has(uid)) return uid;
  return undefined;
}

/**
 * Refuses to start isolated workspaces that could not work: the runner must be able to hand files
 * to other users (root), and those users must be able to reach the workspaces directory, so every
 * directory above it must be searchable by others (the directory itself is made 0711).
 */
export async function checkIsolationPossible(workspacesDir: string): Promise<void> {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    throw new Error(
      'KEYWAY_WORKSPACE_UIDS needs a Linux runner running as root: it gives each workspace to its own user and runs git as that user',
    );
  }
  for (let dir = dirname(resolve(workspacesDir)); ; dir = dirname(dir)) {
    const st = await stat(dir).catch(() => undefined);
    if (st && (st.mode & 0o001) === 0) {
      throw new Error(
        `KEYWAY_WORKSPACES_DIR (${workspacesDir}): ${dir} is not searchable by other users, so the environments' users could not reach their workspaces; allow it (chmod o+x ${dir}) or choose a directory elsewhere, e.g. /var/lib/keyway-workspaces`,
      );
    }
    if (dir === dirname(dir)) break;
  }
}
