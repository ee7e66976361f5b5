// keyway/boundaries: which folders may import which (docs/architecture.md). Each zone names the
// files it applies to (`from`), what they may not import (`disallow`) and the exceptions (`allow`),
// as paths from the repository root: `dir/` for a folder and everything under it, else one file.
// Only relative specifiers are checked (packages and node: builtins are not a plane); the
// specifier is resolved against the importing file's own folder, so `../../runner/x.ts` and
// `../../../src/runner/x.ts` are the same import. Static imports, `export … from` and `import()`.
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function fromRoot(absolute) {
  const rel = relative(ROOT, absolute);
  return rel.startsWith('..') || isAbsolute(rel) ? undefined : rel.split(sep).join('/');
}

const within = (path, prefixes = []) => prefixes.some((p) => (p.endsWith('/') ? path.startsWith(p) : path === p));

const paths = { type: 'array', items: { type: 'string' } };

export default {
  meta: {
    type: 'problem',
    docs: { description: 'Keeps the planes apart: a file may not import across the boundaries its zone names.' },
    schema: [
      {
        type: 'array',
        items: {
          type: 'object',
          properties: { from: paths, disallow: paths, allow: paths, because: { type: 'string' } },
          required: ['from', 'disallow', 'because'],
          additionalProperties: false,
        },
      },
    ],
    messages: { crossing: '{{file}} may not import {{target}}: {{because}} (docs/architecture.md)' },
  },
  create(context) {
    const file = fromRoot(context.filename);
    const zones = file ? (context.options[0] ?? []).filter((z) => within(file, z.from)) : [];
    if (zones.length === 0) return {};
    const check = (source) => {
      if (!source || source.type !== 'Literal' || typeof source.value !== 'string' || !source.value.startsWith('.')) return;
      const target = fromRoot(resolve(dirname(context.filename), source.value));
      if (!target) return;
      for (const zone of zones) {
        if (within(target, zone.disallow) && !within(target, zone.allow)) {
          context.report({ node: source, messageId: 'crossing', data: { file, target, because: zone.because } });
          return;
        }
      }
    };
    return {
      ImportDeclaration: (node) => check(node.source),
      ExportNamedDeclaration: (node) => check(node.source),
      ExportAllDeclaration: (node) => check(node.source),
      ImportExpression: (node) => check(node.source),
    };
  },
};
