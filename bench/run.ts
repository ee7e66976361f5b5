// `npm run bench [-- --short] [--only 1,3] [--json FILE] [--strict]`: runs the benchmarks one
// after another (never in parallel: they would measure each other) and prints each figure as
// `name: value (baseline X, ratio R, target T — met/NOT MET)`.
//
// Exit status: 1 when a benchmark crashed or a correctness target was missed (more than one
// refresh per storm, a write for an unchanged group); speed targets missed only with --strict,
// because a shared CI machine cannot promise speed.
import { writeFileSync } from 'node:fs';
import { formatFigure, machine } from './lib.ts';
import type { BenchResult, Benchmark } from './lib.ts';

const MODULES = [
  './01-credential-hot-path.ts',
  './02-git-helper.ts',
  './03-refresh-storm.ts',
  './04-context-resolution.ts',
  './05-variable-group-sync.ts',
  './06-scale.ts',
  './07-throttling.ts',
  './08-repository-cache.ts',
] as const;

function parseArgs(argv: string[]) {
  const args = { short: false, strict: false, only: undefined as Set<string> | undefined, json: undefined as string | undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--short') args.short = true;
    else if (a === '--strict') args.strict = true;
    else if (a === '--only') args.only = new Set((argv[++i] ?? '').split(',').map((s) => s.trim().replace(/^0/, '')));
    else if (a === '--json') args.json = argv[++i];
    else if (a === '--help' || a === '-h') {
      console.log('usage: npm run bench -- [--short] [--only 1,3,6] [--json FILE] [--strict]');
      process.exit(0);
    } else {
      console.error(`bench: unknown argument ${a}; see --help`);
      process.exit(2);
    }
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
// The code under test logs through pino; the figures are what this run prints.
process.env.KEYWAY_LOG_LEVEL ??= 'silent';
console.log(`Keyway benchmarks${args.short ? ' (short)' : ''} on ${machine()}`);
console.log(`started ${new Date().toISOString()}\n`);

const results: (BenchResult & { seconds: number; crashed?: string })[] = [];
let failed = false;
for (const path of MODULES) {
  if (args.only && !args.only.has(String(Number(/\/(\d+)-/.exec(path)?.[1])))) continue;
  const { benchmark } = (await import(path)) as { benchmark: Benchmark };
  console.log(`== ${benchmark.id}. ${benchmark.title}`);
  const started = Date.now();
  try {
    const result = await benchmark.run({ short: args.short, log: (line) => console.log(line) });
    const seconds = (Date.now() - started) / 1000;
    if (result.notAvailable) console.log(`not available: ${result.notAvailable}`);
    for (const figure of result.figures) {
      console.log(formatFigure(figure));
      if (figure.met === false && (figure.kind === 'correctness' || args.strict)) failed = true;
    }
    for (const note of result.notes) console.log(`  note: ${note}`);
    console.log(`  (${seconds.toFixed(1)} s)\n`);
    results.push({ ...result, seconds });
  } catch (err) {
    failed = true;
    const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
    console.log(`CRASHED: ${message}\n`);
    results.push({
      id: benchmark.id,
      title: benchmark.title,
      figures: [],
      notes: [],
      seconds: (Date.now() - started) / 1000,
      crashed: message.split('\n')[0] ?? '',
    });
  }
}

console.log('== summary');
for (const r of results) {
  const missed = r.figures.filter((f) => f.met === false).map((f) => f.name);
  const state = r.crashed
    ? `CRASHED (${r.crashed})`
    : r.notAvailable
      ? `not available (${r.notAvailable})`
      : missed.length
        ? `targets NOT MET: ${missed.join('; ')}`
        : 'all targets met';
  console.log(`${r.id}. ${r.title}: ${state}`);
}
if (args.json)
  writeFileSync(
    args.json,
    `${JSON.stringify({ machine: machine(), short: args.short, at: new Date().toISOString(), results }, null, 2)}\n`,
  );
// Pools and servers are closed by each benchmark; exit anyway so a stray handle cannot hang CI.
process.exit(failed ? 1 : 0);
