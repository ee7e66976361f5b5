// Shared pieces of the benchmarks: how a figure is printed, percentiles, timing, child processes.
// Every benchmark measures its baseline in the same run, on the same machine, so ratios compare
// like with like even on a busy 2-core box.
import { availableParallelism, cpus } from 'node:os';
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface BenchOptions {
  /** CI mode: lower durations and counts, same shape of results. */
  short: boolean;
  log: (line: string) => void;
}

export type FigureKind =
  /** A wrong answer (more than one refresh, a write for an unchanged group): fails the run. */
  | 'correctness'
  /** Speed: reported met/NOT MET; fails the run only with --strict. */
  | 'performance'
  /** Context for the other figures; no target. */
  | 'info';

export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** Printed after the value, e.g. "2 calls". */
  detail?: string;
  baseline?: { value: number; unit?: string; label?: string };
  ratio?: number;
  /** Human form, e.g. "≥ 0.7× baseline". */
  target?: string;
  met?: boolean;
  kind: FigureKind;
}

export interface BenchResult {
  id: string;
  title: string;
  figures: Figure[];
  /** Set when the thing to measure does not exist yet (or cannot run here); says why. */
  notAvailable?: string;
  notes: string[];
}

export interface Benchmark {
  id: string;
  title: string;
  run(options: BenchOptions): Promise<BenchResult>;
}

export function round(value: number, digits = 2): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function show(value: number, unit: string): string {
  const v = Math.abs(value) >= 100 ? Math.round(value).toString() : round(value, Math.abs(value) >= 10 ? 1 : 2).toString();
  return unit ? `${v} ${unit}` : v;
}

/** `name: value (baseline X, ratio R, target T — met/NOT MET)` */
export function formatFigure(f: Figure): string {
  const parts: string[] = [];
  if (f.baseline)
    parts.push(`baseline ${f.baseline.label ? `${f.baseline.label} ` : ''}${show(f.baseline.value, f.baseline.unit ?? f.unit)}`);
  if (f.ratio !== undefined) parts.push(`ratio ${round(f.ratio, 2)}`);
  let tail = parts.join(', ');
  if (f.target) tail += `${tail ? ', ' : ''}target ${f.target} — ${f.met ? 'met' : 'NOT MET'}`;
  return `${f.name}: ${show(f.value, f.unit)}${f.detail ? `, ${f.detail}` : ''}${tail ? ` (${tail})` : ''}`;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? NaN;
}

export function summarize(samples: readonly number[]): { n: number; p50: number; p99: number; mean: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((s, v) => s + v, 0) / Math.max(1, sorted.length);
  return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), mean, max: sorted[sorted.length - 1] ?? NaN };
}

export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = nowMs();
  const value = await fn();
  return { ms: nowMs() - start, value };
}

export function machine(): string {
  const model = cpus()[0]?.model?.trim() ?? 'unknown CPU';
  return `${availableParallelism()} cores (${model}), Node ${process.version}, ${process.platform}/${process.arch}`;
}

export function notAvailable(id: string, title: string, reason: string, notes: string[] = []): BenchResult {
  return { id, title, figures: [], notAvailable: reason, notes };
}

/** Not available because `what` (the code under measurement) failed to import: the first line of why. */
export function didNotLoad(id: string, title: string, what: string, err: unknown): BenchResult {
  return notAvailable(id, title, `${what} did not load: ${(err as Error).message.split('\n')[0]}`);
}

/** Lower-is-better figure with a ratio against the baseline. */
export function lowerIsBetter(
  name: string,
  value: number,
  unit: string,
  baseline: { value: number; label?: string } | undefined,
  maxRatio: number | undefined,
  extra: Partial<Figure> = {},
): Figure {
  const ratio = baseline && baseline.value > 0 ? value / baseline.value : undefined;
  return {
    name,
    value,
    unit,
    ...(baseline ? { baseline } : {}),
    ...(ratio !== undefined ? { ratio } : {}),
    ...(maxRatio !== undefined && ratio !== undefined ? { target: `≤ ${maxRatio}× baseline`, met: ratio <= maxRatio } : {}),
    kind: 'performance',
    ...extra,
  };
}

/** Context beside a baseline, with their ratio (when the baseline is not 0); no target. */
export function compared(name: string, value: number, unit: string, baseline: { value: number; label?: string }): Figure {
  return lowerIsBetter(name, value, unit, baseline, undefined, { kind: 'info' });
}

/** A count that must be zero: failed requests, errors. */
export function noneExpected(name: string, count: number): Figure {
  return { name, value: count, unit: '', target: '0', met: count === 0, kind: 'correctness' };
}

export const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));

export interface Worker<Out> {
  child: ChildProcess;
  /** The next message of the given type. */
  next<T extends Out>(type: string, timeoutMs?: number): Promise<T>;
  send(message: unknown): void;
  stop(): Promise<void>;
}

/**
 * A `node --import tsx` child process running one of the bench workers, talking over IPC. Each
 * message is `{ type, ... }`; an `{ type: 'error', message }` from the worker rejects the waiter.
 */
export function startWorker<Out extends { type: string }>(
  script: string,
  env: Record<string, string> = {},
  options: { execArgv?: string[] } = {},
): Worker<Out> {
  const child = fork(script, [], {
    execArgv: ['--import', 'tsx', ...(options.execArgv ?? [])],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const queue: Out[] = [];
  const waiters: { type: string; resolve: (m: Out) => void; reject: (e: Error) => void }[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.on('message', (raw) => {
    const message = raw as Out & { message?: string };
    if (message.type === 'error') {
      const waiter = waiters.shift();
      if (waiter) waiter.reject(new Error(`worker ${script}: ${message.message}`));
      return;
    }
    const i = waiters.findIndex((w) => w.type === message.type);
    if (i >= 0) waiters.splice(i, 1)[0]?.resolve(message);
    else queue.push(message);
  });
  child.once('exit', (code) => {
    for (const w of waiters.splice(0)) w.reject(new Error(`worker ${script} exited with ${code}`));
  });
  return {
    child,
    next<T extends Out>(type: string, timeoutMs = 120_000): Promise<T> {
      const i = queue.findIndex((m) => m.type === type);
      if (i >= 0) return Promise.resolve(queue.splice(i, 1)[0] as T);
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`worker ${script}: no "${type}" within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          type,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m as T);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
      });
    },
    send(message) {
      child.send(message as Parameters<ChildProcess['send']>[0]);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** In a worker: report an error to the parent and exit. */
export function workerFailed(err: unknown): never {
  process.send?.({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
}
