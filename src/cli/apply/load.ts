import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { parseDocument } from 'yaml';
import { KeywayFileSchema } from './schema.ts';
import type { KeywayFile, SecretRefValue } from './schema.ts';
import { UsageError } from '../usage-error.ts';

/** The file cannot be applied; the message names the place in the file and what to change. */
export class ApplyFileError extends UsageError {}

let validator: ReturnType<Ajv['compile']> | undefined;
function validate(data: unknown) {
  validator ??= new Ajv({ allErrors: false, strict: false }).compile(KeywayFileSchema);
  return { ok: validator(data) as boolean, errors: validator.errors ?? [] };
}

/** Parses and checks keyway.yaml (YAML or JSON); `source` names it in messages. */
export function parseKeywayFile(text: string, source: string): KeywayFile {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    // yaml's messages quote the offending line: fine here, the file holds no secret values.
    throw new ApplyFileError(`${source}: not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  }
  const data: unknown = doc.toJS();
  const { ok, errors } = validate(data);
  if (!ok) {
    const first = errors[0]!;
    const where = first.instancePath ? first.instancePath.slice(1).replace(/\//g, '.') : '(top level)';
    const extra =
      first.keyword === 'additionalProperties'
        ? `: "${(first.params as { additionalProperty?: string }).additionalProperty}" is not a known key`
        : '';
    const allowed =
      first.keyword === 'const' || first.keyword === 'enum'
        ? ` (${JSON.stringify((first.params as { allowedValue?: unknown; allowedValues?: unknown }).allowedValue ?? (first.params as { allowedValues?: unknown }).allowedValues)})`
        : '';
    throw new ApplyFileError(
      `${source}: ${where} ${first.message ?? 'is not valid'}${allowed}${extra}; the schema is docs/keyway.schema.json`,
    );
  }
  checkUnique(data as KeywayFile, source);
  return data as KeywayFile;
}

function checkUnique(file: KeywayFile, source: string): void {
  const unique = (names: string[], what: string) => {
    const seen = new Set<string>();
    for (const name of names) {
      const key = name.toLowerCase();
      if (seen.has(key)) throw new ApplyFileError(`${source}: ${what} "${name}" appears twice`);
      seen.add(key);
    }
  };
  unique(
    (file.runners ?? []).map((r) => r.name),
    'runner',
  );
  unique(
    (file.projects ?? []).map((p) => p.name),
    'project',
  );
  for (const runner of file.runners ?? [])
    unique(
      (runner.integrations ?? []).map((i) => `${i.host}${i.virtualDirectory ?? ''}`),
      `runners.${runner.name}: integration for host`,
    );
  for (const project of file.projects ?? []) {
    unique(
      (project.appConnections ?? []).map((c) => c.name),
      `projects.${project.name}: app connection`,
    );
    unique(
      (project.syncs ?? []).map((s) => s.name),
      `projects.${project.name}: sync`,
    );
    unique(
      (project.members ?? []).map((m) => m.email),
      `projects.${project.name}: member`,
    );
    for (const sync of project.syncs ?? [])
      unique(
        sync.variables.map((v) => v.name),
        `projects.${project.name}.syncs.${sync.name}: variable`,
      );
  }
}

export async function loadKeywayFile(path: string): Promise<{ file: KeywayFile; baseDir: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ApplyFileError(
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
    );
  }
  return { file: parseKeywayFile(text, path), baseDir: dirname(resolve(path)) };
}

export function isSecretRef(value: unknown): value is SecretRefValue {
  return typeof value === 'object' && value !== null && ('env' in value || 'file' in value);
}

/** How a secret reference reads in a plan: where it comes from, never what it is. */
export function describeRef(ref: SecretRefValue): string {
  return 'env' in ref ? `$${ref.env}` : `file ${ref.file}`;
}

/** Reads secret references (environment variables, files); each is read once per run. */
export function createSecretResolver(baseDir: string, env: Record<string, string | undefined>) {
  const cache = new Map<string, string>();
  return async (ref: SecretRefValue, where: string): Promise<string> => {
    const key = 'env' in ref ? `env:${ref.env}` : `file:${ref.file}`;
    const cached = cache.get(key);
    if (cached !== undefined) return cached;
    let value: string;
    if ('env' in ref) {
      const found = env[ref.env];
      if (found === undefined || found === '') throw new ApplyFileError(`${where}: the environment variable ${ref.env} is not set`);
      value = found;
    } else {
      const path = isAbsolute(ref.file) ? ref.file : resolve(baseDir, ref.file);
      try {
        value = (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
      } catch (err) {
        throw new ApplyFileError(`${where}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
      if (!value) throw new ApplyFileError(`${where}: ${path} is empty`);
    }
    cache.set(key, value);
    return value;
  };
}

export type SecretResolver = ReturnType<typeof createSecretResolver>;
