// Reading and writing files that hold secret keys (the data key file, the runner key file).
//
// Policy: such a file must be mode 0600 (no group/other bits). A file with looser permissions is
// refused, not silently fixed: others may already have copied the key, and an operator should
// know that (the same stance ssh takes with private keys). Permission bits are not checked on
// Windows, where they do not reflect access. Mounts that cannot represent 0600 (some SMB/Azure
// Files volumes) should provide the keys through KEYWAY_ENCRYPTION_KEYS from a secret store.
//
// Writes are atomic: the text goes to a temporary file (mode 0600, fsynced) in the same directory,
// which is then linked (create) or renamed (replace) into place, so a reader never sees a partial
// file. Creating uses link(), which fails when the file exists, so two processes starting at once
// cannot each write a different key: the loser reads the winner's file.

import { randomUUID } from 'node:crypto';
import { link, mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { KeyConfigError } from './errors.ts';

const checkPermissions = process.platform !== 'win32';

/** The file's text, or undefined when it does not exist. `what` names the file in messages. */
export async function readSecretFile(path: string, what: string): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw new KeyConfigError(`Cannot open ${what} ${path}: ${errorCode(error) ?? 'unknown error'}.`);
  }
  try {
    // fstat on the open handle, so the checked file is the one that is read.
    const stat = await handle.stat();
    if (!stat.isFile()) throw new KeyConfigError(`${what} ${path} is not a regular file.`);
    if (checkPermissions && (stat.mode & 0o077) !== 0) {
      const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
      throw new KeyConfigError(
        `${what} ${path} is accessible by group or others (mode ${mode}). It holds secret keys: restrict it with ` +
          `"chmod 600 ${path}", and consider whether someone could have copied it.`,
      );
    }
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/**
 * Writes `text` atomically with mode 0600, creating the directory (mode 0700) if needed.
 * With `mode: 'create'` an existing file is left alone and false is returned.
 */
export async function writeSecretFile(path: string, text: string, mode: 'create' | 'replace'): Promise<boolean> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.${basename(path)}.${randomUUID()}.tmp`);
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  let written = true;
  try {
    if (mode === 'replace') {
      await rename(temp, path);
    } else {
      written = await linkNoClobber(temp, path);
    }
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  if (written) await syncDirectory(dir);
  return written;
}

async function linkNoClobber(temp: string, path: string): Promise<boolean> {
  try {
    await link(temp, path);
    return true;
  } catch (error) {
    const code = errorCode(error);
    if (code === 'EEXIST') return false;
    // File systems without hard links: fall back to rename, which is atomic but would replace a
    // file another process created in the moment since the caller looked.
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
      await rename(temp, path);
      return true;
    }
    throw error;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  // Makes the new directory entry durable on POSIX; not possible (and not needed) on Windows.
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Best effort.
  }
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}
