#!/usr/bin/env node
// Fails when modules import each other in a circle (docs/architecture.md).
// Reads the static `import … from` / `export … from` / `import '…'` statements of every
// .ts/.tsx/.mjs/.js file under the given roots and follows relative specifiers only.
// Type-only imports count too: they vanish at run time, but a circle of types is still two modules
// that cannot be understood (or moved) apart. Dynamic `import()` runs later and is not counted.
// Usage: node scripts/check-cycles.mjs [root…]   (default: src emulator web/src test bench scripts bin)
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { collectFiles } from './walk.mjs';

const EXTENSIONS = ['.ts', '.tsx', '.mts', '.mjs', '.js'];
const STATEMENT = /^\s*(import|export)\b([^;'"]*?)(?:\bfrom\s*)?['"]([^'"]+)['"]/gm;

/** The modules one file's source imports statically, as written (type-only imports included). */
export function staticSpecifiers(source) {
  const out = [];
  for (const m of source.matchAll(STATEMENT)) {
    const [, keyword, clause, specifier] = m;
    const head = clause.trim();
    if (keyword === 'export' && !/^(type\s*)?[{*]/.test(head)) continue; // `export const x = '…'`
    if (/^[(.]/.test(head)) continue; // import('…'), import.meta
    out.push(specifier);
  }
  return out;
}

function resolveRelative(fromFile, specifier) {
  if (!specifier.startsWith('.')) return undefined;
  const base = resolve(dirname(fromFile), specifier);
  const candidates = [base, ...EXTENSIONS.map((e) => base + e), ...EXTENSIONS.map((e) => join(base, 'index' + e))];
  if (base.endsWith('.js')) candidates.push(base.slice(0, -3) + '.ts', base.slice(0, -3) + '.tsx');
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

const isSource = (file) => EXTENSIONS.some((e) => file.endsWith(e)) && !file.endsWith('.d.ts');
const isBuildOutput = (path) => basename(path) === 'dist';

/**
 * The import cycles among the files under `roots`: one per strongly connected group of files, as
 * { cycle: shortest circle through the group's first file (first path repeated last), files: the group }.
 */
export function findCycles(roots) {
  const files = [];
  for (const r of roots) collectFiles(resolve(r), files, isSource, isBuildOutput);
  const graph = new Map();
  for (const f of files) {
    const targets = new Set();
    for (const s of staticSpecifiers(readFileSync(f, 'utf8'))) {
      const t = resolveRelative(f, s);
      if (t && t !== f) targets.add(t);
    }
    graph.set(f, [...targets].sort());
  }
  // Tarjan's strongly connected components; each component of more than one file holds a cycle.
  let index = 0;
  const idx = new Map(),
    low = new Map(),
    stack = [],
    onStack = new Set(),
    components = [];
  const strong = (v) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const c = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1) components.push(c);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) strong(v);
  // One shortest cycle per component, through its first file (enough to name the problem).
  const shortest = (c) => {
    const members = new Set(c);
    const start = [...c].sort()[0];
    const prev = new Map([[start, undefined]]);
    const queue = [start];
    while (queue.length) {
      const v = queue.shift();
      for (const w of graph.get(v)) {
        if (!members.has(w)) continue;
        if (w === start) {
          const path = [start];
          for (let x = v; x !== start; x = prev.get(x)) path.splice(1, 0, x);
          return [...path, start];
        }
        if (!prev.has(w)) {
          prev.set(w, v);
          queue.push(w);
        }
      }
    }
    return [...c, c[0]];
  };
  return components.map((c) => ({ cycle: shortest(c), files: [...c].sort() }));
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const args = process.argv.slice(2);
  const roots = args.length ? args : ['src', 'emulator', 'web/src', 'test', 'bench', 'scripts', 'bin'].map((r) => join(repo, r));
  const cycles = findCycles(roots);
  const show = (f) => relative(process.cwd(), f);
  for (const { cycle, files } of cycles) {
    console.error('import cycle: ' + cycle.map(show).join(' -> '));
    if (files.length > cycle.length - 1) console.error('  (and more circles among: ' + files.map(show).join(', ') + ')');
  }
  if (cycles.length) {
    console.error(`check-cycles: ${cycles.length} import cycle(s); see docs/architecture.md`);
    process.exit(1);
  }
}
