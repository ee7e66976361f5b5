import { join } from 'node:path';
import { loadOrCreateRunnerKey } from '../crypto/runner-key-file.ts';
import { readSecretFile, writeSecretFile } from '../crypto/secret-file.ts';
import type { RunnerKeyPair } from '../crypto/sealing.ts';

/** What a registered runner keeps on disk (mode 0600): who it is and the token it authenticates with. */
export interface RunnerRegistration {
  serverUrl: string;
  runnerId: string;
  runnerToken: string;
  organizationId: string;
  name: string;
}

export function runnerPaths(dataDir: string) {
  return { key: join(dataDir, 'runner-key.json'), registration: join(dataDir, 'runner-registration.json') };
}

export async function loadRunnerKey(dataDir: string): Promise<{ keyPair: RunnerKeyPair; created: boolean }> {
  return loadOrCreateRunnerKey(runnerPaths(dataDir).key);
}

export async function loadRegistration(dataDir: string): Promise<RunnerRegistration | undefined> {
  const text = await readSecretFile(runnerPaths(dataDir).registration, 'runner registration file');
  if (text === undefined) return undefined;
  const parsed = JSON.parse(text) as Partial<RunnerRegistration>;
  if (!parsed.serverUrl || !parsed.runnerId || !parsed.runnerToken || !parsed.organizationId) {
    throw new Error(
      `${runnerPaths(dataDir).registration} is incomplete; delete it and register the runner again with a new exchange token`,
    );
  }
  return parsed as RunnerRegistration;
}

export async function saveRegistration(dataDir: string, registration: RunnerRegistration): Promise<void> {
  await writeSecretFile(runnerPaths(dataDir).registration, `${JSON.stringify(registration, null, 2)}\n`, 'replace');
}
