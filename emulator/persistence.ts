// The emulator's state on disk, so a restart keeps what clients hold: app registrations and their
// secrets, users, refresh tokens, PATs, organizations, the listener ports and the control token.
// Git repositories already live under the data directory; this file holds everything else.
// node:v8 keeps Map, Set and Date as they are; crypto keys are exported to PEM by their owners.
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import type { ListenerName } from './faults.ts';
import type { EntraState } from './entra/index.ts';
import type { WorldState } from './ado/world.ts';

export const STATE_FILE = 'state.v8';
/** Raised whenever a change to the saved shapes would make an older file misread. */
export const STATE_VERSION = 1;
/** A mutating request is saved this long after it, so a burst of requests costs one write. */
export const SAVE_DELAY_MS = 200;

export interface EmulatorState {
  version: number;
  controlToken: string;
  ports: Record<ListenerName, number>;
  defaultTenantId: string;
  entra: EntraState;
  world: WorldState;
  /** Values callers keep beside the emulator's own (the demo's PAT and app secret, shown once). */
  extras: Map<string, unknown>;
}

export type LoadedState = { state: EmulatorState; notice?: undefined } | { state?: undefined; notice?: string };

/**
 * Reads the saved state. A file this version cannot read is set aside (renamed, never deleted) and
 * the emulator starts afresh, saying so: a demo keeps working, and nothing is lost for good.
 */
export function loadState(dataDir: string, now: () => number = Date.now): LoadedState {
  const file = join(dataDir, STATE_FILE);
  if (!existsSync(file)) return {};
  let reason: string;
  try {
    const state = deserialize(readFileSync(file)) as Partial<EmulatorState> | null;
    if (state && typeof state === 'object' && state.version === STATE_VERSION) return { state: state as EmulatorState };
    reason = `it was written by another version of the emulator (state version ${String(state?.version ?? 'unknown')}, this one reads ${STATE_VERSION})`;
  } catch (err) {
    reason = `it cannot be read (${err instanceof Error ? err.message : String(err)})`;
  }
  const kept = `${file}.incompatible-${now()}`;
  renameSync(file, kept);
  return {
    notice: `The emulator's saved state was not loaded: ${reason}. It was moved to ${kept} and the emulator starts afresh (new app registrations, users and tokens); delete that file once you no longer need it.`,
  };
}

/**
 * Writes the state atomically (a temporary file renamed over the old one, mode 0600: it holds
 * secrets). Writes are chained so two saves never interleave.
 */
export class StateWriter {
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly dataDir: string,
    private readonly snapshot: () => EmulatorState,
  ) {}

  /** Saves soon; repeated calls within the delay make one write. */
  schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // No caller to tell: a warning, and the next save (or close) tries again.
      this.save().catch((err: unknown) =>
        process.emitWarning(`the emulator's state was not saved: ${err instanceof Error ? err.message : String(err)}`),
      );
    }, SAVE_DELAY_MS);
    this.timer.unref();
  }

  /** Saves now (after any write in progress); rejects if this write fails. */
  save(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    // Serialized at once, so the file holds the state as of this call.
    const bytes = serialize(this.snapshot());
    const file = join(this.dataDir, STATE_FILE);
    const temp = `${file}.${process.pid}.tmp`;
    const write = this.chain.then(async () => {
      await writeFile(temp, bytes, { mode: 0o600 });
      await rename(temp, file);
    });
    this.chain = write.catch(() => undefined);
    return write;
  }
}
