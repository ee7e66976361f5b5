// `keyway apply` asks whether a value it sealed equals what a runner already holds, so a re-apply
// of an unchanged file writes nothing. Shared by both planes. Nothing here is a plaintext secret:
// candidates travel sealed to the runner with the associated data of their record, and the answer
// is one boolean per item.
import { Type } from 'typebox';
import type { Static } from 'typebox';
import { Nullable } from './schema.ts';

export const SEALED_COMPARISON_REQUEST = 'sealed-values.compare';

export const SEALED_COMPARISON_KINDS = ['integration-client-secret', 'app-connection-secret', 'sync-variables'] as const;
export type SealedComparisonKind = (typeof SEALED_COMPARISON_KINDS)[number];

export const SealedComparisonItem = Type.Object({
  kind: Type.Enum(SEALED_COMPARISON_KINDS),
  /** The integration, app connection or sync. */
  id: Type.String(),
  /** The candidate, sealed with the record's associated data (docs/sealing.md). */
  sealed: Type.String(),
  /** integration-client-secret: the sealed secret the management plane keeps (null when none). */
  stored: Type.Optional(Nullable(Type.String())),
});
export type SealedComparisonItem = Static<typeof SealedComparisonItem>;

/** How many values one request may compare (one apply file's secrets fit many times over). */
export const MAX_SEALED_COMPARISON_ITEMS = 500;

export const SealedComparisonPayload = Type.Object({ items: Type.Array(SealedComparisonItem, { maxItems: MAX_SEALED_COMPARISON_ITEMS }) });
export type SealedComparisonPayload = Static<typeof SealedComparisonPayload>;

/** `same` is false when nothing is stored, or the candidate does not open for the record. */
export const SealedComparisonResult = Type.Object({
  results: Type.Array(Type.Object({ kind: Type.Enum(SEALED_COMPARISON_KINDS), id: Type.String(), same: Type.Boolean() })),
});
export type SealedComparisonResult = Static<typeof SealedComparisonResult>;
