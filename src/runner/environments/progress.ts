// git's own progress output (stderr with --progress), read into phases and percentages.
// git rewrites a progress line in place with '\r' and ends it with '\n' (progress.c); the server's
// phases arrive over the sideband prefixed "remote: ". Parsing relies on LC_ALL=C: the phase names
// are translated in other locales.

export interface CloneProgress {
  /** git's phase name, e.g. "Receiving objects", "Resolving deltas", "Updating files". */
  phase: string;
  /** 0–100 within the phase. */
  percent: number;
  /** Every phase seen so far, in order. */
  phases: string[];
}

const WITH_PERCENT = /^(?:remote:\s*)?([A-Z][A-Za-z ]{2,40}?):\s+(\d{1,3})%\s*\((\d+)\/(\d+)\)/;
const COUNT_ONLY = /^(?:remote:\s*)?(Enumerating objects|Counting objects|Compressing objects):\s+(\d+)(?:,\s*done\.)?\s*$/;
const MAX_TAIL_LINES = 20;
// git has a handful of phases; a server could send any "remote: Name: n% (a/b)" line.
const MAX_PHASES = 20;

/**
 * Feeds stderr chunks; calls `onProgress` on every progress line that changes phase or percent, and
 * keeps the last non-progress lines (git's own "fatal: ..." explanation) for error messages.
 */
export function createProgressParser(onProgress: (progress: CloneProgress) => void) {
  let pending = '';
  const phases: string[] = [];
  const tail: string[] = [];
  let last: { phase: string; percent: number } | undefined;

  function emit(phase: string, percent: number): void {
    if (!phases.includes(phase)) {
      if (phases.length >= MAX_PHASES) return;
      phases.push(phase);
    }
    if (last && last.phase === phase && last.percent === percent) return;
    last = { phase, percent };
    onProgress({ phase, percent, phases: [...phases] });
  }

  function line(raw: string): void {
    const text = raw.trim();
    if (!text) return;
    const withPercent = WITH_PERCENT.exec(text);
    if (withPercent) {
      emit(withPercent[1]!, Math.min(100, Number(withPercent[2])));
      return;
    }
    const countOnly = COUNT_ONLY.exec(text);
    if (countOnly) {
      emit(countOnly[1]!, text.endsWith('done.') ? 100 : 0);
      return;
    }
    tail.push(text.slice(0, 500));
    if (tail.length > MAX_TAIL_LINES) tail.shift();
  }

  return {
    feed(chunk: string): void {
      pending += chunk;
      const parts = pending.split(/[\r\n]/);
      pending = parts.pop() ?? '';
      for (const part of parts) line(part);
      // A progress line without its terminator yet is still worth nothing; a runaway line is cut.
      if (pending.length > 4096) pending = pending.slice(-4096);
    },
    end(): void {
      if (pending) line(pending);
      pending = '';
    },
    /** The last lines git wrote that were not progress: its explanation when it fails. */
    tail(): string[] {
      return [...tail];
    },
    phases(): string[] {
      return [...phases];
    },
  };
}
