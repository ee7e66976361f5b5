import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import SQLite from 'better-sqlite3';
import type { KeywayConfig } from '../config/config.ts';
import { runnerPaths } from '../runner/identity.ts';
import { VERSION } from '../version.ts';
import { managementDatabaseUrl, openManagementDatabase } from './planes.ts';
import { openRunnerStore, runnerDatabaseUrl } from '../runner/store.ts';
import { UsageError } from './usage-error.ts';

/**
 * `keyway backup` / `keyway restore`: the embedded SQLite databases (through SQLite's online backup,
 * so a copy is consistent while Keyway keeps serving and writing) and the key files without which
 * stored credentials cannot be read. PostgreSQL databases are backed up with pg_dump instead (README).
 */

const MANIFEST = 'keyway-backup.json';
const TYPE = 'keyway-backup';

interface ManifestFile {
  /** Name inside the backup directory. */
  name: string;
  /** What it is, for people and for restore. */
  role: 'management-database' | 'runner-database' | 'encryption-keys' | 'runner-key' | 'runner-registration';
  sha256: string;
  bytes: number;
}

interface Manifest {
  type: typeof TYPE;
  version: 1;
  keywayVersion: string;
  createdAt: string;
  files: ManifestFile[];
  /** What this backup does not hold and must be backed up otherwise. */
  notIncluded: string[];
}

export class BackupError extends UsageError {}

async function sha256(path: string): Promise<{ sha256: string; bytes: number }> {
  const data = await readFile(path);
  return { sha256: createHash('sha256').update(data).digest('hex'), bytes: data.length };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** SQLite's online backup: pages copied under the database's own locking, so writers go on. */
async function backupSqlite(source: string, target: string): Promise<void> {
  const connection = new SQLite(source, { fileMustExist: true, readonly: true });
  try {
    connection.pragma('busy_timeout = 5000');
    await connection.backup(target);
  } finally {
    connection.close();
  }
}

const sqlitePath = (url: string) => (url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : undefined);

export async function runBackup(config: KeywayConfig, to: string, out: (line: string) => void): Promise<Manifest> {
  if (await exists(to)) {
    const entries = await readdir(to);
    if (entries.length) throw new BackupError(`${to} is not empty: back up into a new or empty directory`);
  }
  await mkdir(to, { recursive: true, mode: 0o700 });
  await chmod(to, 0o700);
  const files: ManifestFile[] = [];
  const notIncluded: string[] = [];
  const add = async (name: string, role: ManifestFile['role']) => {
    const path = join(to, name);
    await chmod(path, 0o600);
    files.push({ name, role, ...(await sha256(path)) });
    out(`  ${role}: ${name}`);
  };

  for (const [role, url, name] of [
    ['management-database', managementDatabaseUrl(config), 'management.db'],
    ['runner-database', runnerDatabaseUrl(config), 'runner.db'],
  ] as const) {
    const path = sqlitePath(url);
    if (!path) {
      notIncluded.push(`${role} (PostgreSQL: back it up with pg_dump)`);
      out(`  ${role}: PostgreSQL, not included; back it up with pg_dump`);
      continue;
    }
    if (!(await exists(path))) {
      notIncluded.push(`${role} (no database at ${path})`);
      continue;
    }
    await backupSqlite(path, join(to, name));
    await add(name, role);
  }

  if (config.encryptionKeys) {
    notIncluded.push('encryption keys (they come from KEYWAY_ENCRYPTION_KEYS: keep that value with the backup, in your secret store)');
    out('  encryption-keys: from KEYWAY_ENCRYPTION_KEYS, not included; keep that value with this backup');
  } else {
    const keyFile = config.encryptionKeyFile ?? join(config.dataDir, 'encryption-keys');
    if (await exists(keyFile)) {
      await copyFile(keyFile, join(to, 'encryption-keys'));
      await add('encryption-keys', 'encryption-keys');
    } else notIncluded.push(`encryption keys (no key file at ${keyFile})`);
  }
  const paths = runnerPaths(config.dataDir);
  for (const [path, role] of [
    [paths.key, 'runner-key'],
    [paths.registration, 'runner-registration'],
  ] as const) {
    if (!(await exists(path))) continue;
    await copyFile(path, join(to, basename(path)));
    await add(basename(path), role);
  }
  const manifest: Manifest = { type: TYPE, version: 1, keywayVersion: VERSION, createdAt: new Date().toISOString(), files, notIncluded };
  await writeFile(join(to, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  return manifest;
}

async function readManifest(from: string): Promise<Manifest> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(join(from, MANIFEST), 'utf8')) as Manifest;
  } catch {
    throw new BackupError(`${from} holds no readable ${MANIFEST}: is it a directory written by keyway backup?`);
  }
  if (manifest.type !== TYPE || manifest.version !== 1 || !Array.isArray(manifest.files))
    throw new BackupError(`${join(from, MANIFEST)} is not a Keyway backup manifest this version reads`);
  for (const file of manifest.files) {
    if (basename(file.name) !== file.name) throw new BackupError(`${MANIFEST} names a file outside the backup (${file.name})`);
    const actual = await sha256(join(from, file.name)).catch(() => undefined);
    if (!actual) throw new BackupError(`${file.name} is missing from ${from}`);
    if (actual.sha256 !== file.sha256)
      throw new BackupError(`${file.name} in ${from} does not match its checksum: the backup is damaged or was changed`);
  }
  return manifest;
}

/**
 * Restores into an empty data directory (stop Keyway first; never over live data). Only the
 * embedded databases restore this way; with PostgreSQL, restore the pg_dump and the key files.
 */
export async function runRestore(config: KeywayConfig, from: string, out: (line: string) => void): Promise<void> {
  const manifest = await readManifest(from);
  const target = config.dataDir;
  const targets: Record<ManifestFile['role'], string | undefined> = {
    'management-database': sqlitePath(managementDatabaseUrl(config)),
    'runner-database': sqlitePath(runnerDatabaseUrl(config)),
    'encryption-keys': config.encryptionKeys ? undefined : (config.encryptionKeyFile ?? join(target, 'encryption-keys')),
    'runner-key': runnerPaths(target).key,
    'runner-registration': runnerPaths(target).registration,
  };
  for (const file of manifest.files) {
    const path = targets[file.role];
    if (!path)
      throw new BackupError(
        `the backup holds the ${file.role}, but this configuration keeps it elsewhere (PostgreSQL or KEYWAY_ENCRYPTION_KEYS): restore without those variables, or restore that part yourself`,
      );
    if (await exists(path))
      throw new BackupError(
        `${path} exists: restore into a new data directory (--data-dir), or stop Keyway and move the old files away first`,
      );
  }
  await mkdir(target, { recursive: true, mode: 0o700 });
  const written: string[] = [];
  try {
    for (const file of manifest.files) {
      const path = targets[file.role]!;
      await copyFile(join(from, file.name), path);
      await chmod(path, 0o600);
      written.push(path);
      out(`  ${file.role}: ${path}`);
    }
    // The restored pieces must fit together: migrations apply, and the data keys open the store.
    if (targets['management-database'] && manifest.files.some((f) => f.role === 'management-database'))
      await (await openManagementDatabase(managementDatabaseUrl(config))).close();
    if (manifest.files.some((f) => f.role === 'runner-database')) await (await openRunnerStore(config)).database.close();
  } catch (err) {
    // A failed check never leaves half a restore behind.
    for (const path of written) await rm(path, { force: true });
    for (const suffix of ['-wal', '-shm']) for (const path of written) await rm(`${path}${suffix}`, { force: true });
    throw err;
  }
  for (const missing of manifest.notIncluded) out(`  not in the backup: ${missing}`);
}
