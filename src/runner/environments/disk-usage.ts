// How much disk a workspace takes, as `du` counts it (allocated blocks), without following links
// and without starting a process. Reported to the management plane so users and admins see which
// environments are worth deleting.
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Bytes allocated under `root` (0 when it does not exist). Entries that vanish meanwhile are skipped. */
export async function diskUsage(root: string): Promise<number> {
  let total = 0;
  const pending = [root];
  while (pending.length > 0) {
    // A directory level at a time, in batches: bounded concurrency, no recursion depth limit.
    const batch = pending.splice(0, 64);
    await Promise.all(
      batch.map(async (path) => {
        let st;
        try {
          st = await lstat(path);
        } catch {
          return;
        }
        // `blocks` is in 512-byte units (POSIX); platforms without it report 0, then the size counts.
        total += st.blocks > 0 ? st.blocks * 512 : st.size;
        if (!st.isDirectory()) return;
        try {
          for (const name of await readdir(path)) pending.push(join(path, name));
        } catch {
          // Unreadable or removed meanwhile.
        }
      }),
    );
  }
  return total;
}
