// `keyway apply` asks whether a value it sealed equals what a runner already holds, so a re-apply
// of an unchanged file writes nothing. Shared by both planes. Nothing here is a plaintext secret:
// candidates travel sealed to the runner with the associated data of their record, and the answer
// is one boolean per item.

export const SEALED_COMPARISON_REQUEST = 'sealed-values.compare';

export type SealedComparisonKind = 'integration-client-secret' | 'app-connection-secret' | 'sync-variables';
export const SEALED_COMPARISON_KINDS: readonly SealedComparisonKind[] = [
  'integration-client-secret',
  'app-connection-secret',
  'sync-variables',
];

export interface SealedComparisonItem {
  kind: SealedComparisonKind;
  /** The integration, app connection or sync. */
  id: string;
  /** The candidate, sealed with the record's associated data (docs/sealing.md). */
  sealed: string;
  /** integration-client-secret: the sealed secret the management plane keeps (null when none). */
  stored?: string | null;
}

export interface SealedComparisonPayload {
  items: SealedComparisonItem[];
}

/** `same` is false when nothing is stored, or the candidate does not open for the record. */
export interface SealedComparisonResult {
  results: { kind: SealedComparisonKind; id: string; same: boolean }[];
}
