import type { Runner } from '../types.ts';

/** The <option>s of a runner picker: each runner by name, with its status unless it is online. */
export function RunnerOptions({ runners }: { runners: Runner[] }) {
  return runners.map((r) => (
    <option key={r.id} value={r.id}>
      {r.name}
      {r.status !== 'online' ? ` (${r.status})` : ''}
    </option>
  ));
}
