// test/contract/web-api-types.ts is a compile-time check (`npm run typecheck`): the web's types
// against the API's response schemas. This proves it bites: compiled with the TypeScript compiler
// API, it passes as the tree is, and fails, naming the route and field, when either side is altered
// in memory (nothing on disk changes).
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('..', import.meta.url));
const CHECK = `${root}test/contract/web-api-types.ts`;

function compilerOptions(): ts.CompilerOptions {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    `${root}tsconfig.json`,
    { noEmit: true },
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => assert.fail(ts.flattenDiagnosticMessageText(d.messageText, '\n')),
    },
  );
  assert.ok(parsed);
  return parsed.options;
}

let options: ts.CompilerOptions;
let previous: ts.Program | undefined;

/** The check's own errors, with `file` (relative to the root) edited by `edit` first. */
function checkErrors(file?: string, edit?: (text: string) => string): string[] {
  const host = ts.createCompilerHost(options);
  const target = file && `${root}${file}`;
  const original = target ? readFileSync(target, 'utf8') : '';
  const changed = edit ? edit(original) : original;
  if (target) assert.notEqual(changed, original, `the edit changes ${file}`);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, onError, shouldCreate) =>
    target && ts.sys.resolvePath(name) === target
      ? ts.createSourceFile(name, changed, language)
      : getSourceFile(name, language, onError, shouldCreate);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => (target && ts.sys.resolvePath(name) === target ? changed : readFile(name));
  const program = ts.createProgram([CHECK], options, host, previous);
  previous = program;
  const source = program.getSourceFile(CHECK);
  assert.ok(source);
  return [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)].map((d) =>
    ts.flattenDiagnosticMessageText(d.messageText, '\n'),
  );
}

function replaceOnce(from: string, to: string) {
  return (text: string) => {
    assert.ok(text.includes(from), `the file contains ${from}`);
    return text.replace(from, to);
  };
}

describe('the web types are checked against the API schemas (test/contract/web-api-types.ts)', () => {
  before(() => {
    options = compilerOptions();
  });

  it('passes as the tree is', () => {
    assert.deepEqual(checkErrors(), []);
  });

  it('fails when the web reads a field the server never sends', () => {
    const errors = checkErrors('web/src/types.ts', replaceOnce('hasPassword: boolean', 'hasPassword: boolean; locale?: string'));
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0]!, /user\.locale: the web reads it, the server never sends it/);
  });

  it('fails when the web expects a type the server does not send', () => {
    const errors = checkErrors('web/src/types.ts', replaceOnce('  version: string | null;', '  version: number | null;'));
    assert.ok(errors.length >= 1, 'an error');
    assert.ok(
      errors.every((e) => /version: the server sends another type/.test(e)),
      errors.join('\n'),
    );
  });

  it('fails when the server renames a field the web reads', () => {
    const errors = checkErrors(
      'src/management/identity/schema.ts',
      replaceOnce('hasPassword: Type.Boolean()', 'passwordSet: Type.Boolean()'),
    );
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0]!, /user\.hasPassword: required in the web, the server never sends it/);
  });

  it('fails when the server may send null or leave a field out where the web reads a value', () => {
    const nullable = checkErrors(
      'src/management/projects/schema.ts',
      replaceOnce('slug: Type.String(),', 'slug: Type.Union([Type.String(), Type.Null()]),'),
    );
    assert.ok(nullable.length >= 1);
    assert.ok(
      nullable.every((e) => /slug: the server may send null/.test(e)),
      nullable.join('\n'),
    );
    const optional = checkErrors(
      'src/management/syncs/schema.ts',
      replaceOnce('running: Type.Boolean(),', 'running: Type.Optional(Type.Boolean()),'),
    );
    assert.ok(optional.length >= 1);
    assert.ok(
      optional.every((e) => /running: optional on the server, required in the web/.test(e)),
      optional.join('\n'),
    );
  });
});
