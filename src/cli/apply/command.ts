import { createInterface } from 'node:readline/promises';
import type { Readable, Writable } from 'node:stream';
import { createApiClient } from '../api-client.ts';
import { exportKeywayFile, formatExport } from './export.ts';
import { createSecretResolver, loadKeywayFile } from './load.ts';
import { buildPlan, formatPlan } from './plan.ts';
import { keywayFileJsonSchema } from './schema.ts';

export interface CommandIo {
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable;
  stderr: Writable;
  env: Record<string, string | undefined>;
}

export interface ApplyOptions {
  file: string;
  server?: string;
  dryRun?: boolean;
  prune?: boolean;
  yes?: boolean;
}

/** `keyway apply -f keyway.yaml`: prints the plan, then (unless --dry-run) carries it out. Exit code 0. */
export async function runApply(options: ApplyOptions, io: CommandIo): Promise<{ changes: number }> {
  const { file, baseDir } = await loadKeywayFile(options.file);
  const api = createApiClient({ server: options.server, env: io.env });
  const plan = await buildPlan({ api, file, secret: createSecretResolver(baseDir, io.env), prune: options.prune === true });
  io.stdout.write(formatPlan(plan));
  if (!plan.changes.length || options.dryRun) {
    if (options.dryRun && plan.changes.length) io.stdout.write('Dry run: nothing was changed.\n');
    return { changes: plan.changes.length };
  }
  if (io.stdin.isTTY && !options.yes) {
    const rl = createInterface({ input: io.stdin, output: io.stdout });
    const answer = await rl.question('Apply these changes? [y/N] ');
    rl.close();
    if (!/^y(es)?$/i.test(answer.trim())) {
      io.stdout.write('Nothing was changed.\n');
      return { changes: 0 };
    }
  }
  let done = 0;
  for (const change of plan.changes) {
    try {
      const notes = await change.apply(plan.context);
      done++;
      io.stdout.write(`${change.action === 'create' ? 'created' : change.action === 'update' ? 'changed' : 'deleted'} ${change.target}\n`);
      for (const note of notes) io.stdout.write(`  ${note}\n`);
    } catch (err) {
      io.stderr.write(`could not ${change.action} ${change.target}: ${(err as Error).message}\n`);
      throw new Error(
        `${done} of ${plan.changes.length} change(s) applied; fix the problem above and apply again (what was applied is not repeated)`,
      );
    }
  }
  io.stdout.write(`Applied ${done} change(s).\n`);
  return { changes: done };
}

/** `keyway export`: the organization as keyway.yaml on stdout (or the file's JSON Schema with --schema). */
export async function runExport(options: { server?: string; schema?: boolean }, io: CommandIo): Promise<void> {
  if (options.schema) {
    io.stdout.write(`${JSON.stringify(keywayFileJsonSchema(), null, 2)}\n`);
    return;
  }
  const api = createApiClient({ server: options.server, env: io.env });
  io.stdout.write(formatExport(await exportKeywayFile(api), api.server));
}
