// Collecting files for the repository's scripts (check-cycles.mjs, run-tests.mjs): node 20 has no
// recursive glob, and both skip what is not the project's own (node_modules, dot folders).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Pushes onto `files` every file at or under `root` that `keep` accepts, skipping node_modules,
 * names starting with a dot and any path `skip` names. A root that does not exist adds nothing.
 */
export function collectFiles(root, files, keep, skip = () => false) {
  if (skip(root)) return;
  let st;
  try {
    st = statSync(root);
  } catch {
    return;
  }
  if (st.isFile()) {
    if (keep(root)) files.push(root);
    return;
  }
  for (const name of readdirSync(root)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    collectFiles(join(root, name), files, keep, skip);
  }
}
