// The shapes the syncs routes answer (exported: the web's types are checked against them, test/contract/).
import { Type } from 'typebox';
import { Nullable } from '../../control/schema.ts';

export const Declared = Type.Object({ name: Type.String(), isSecret: Type.Boolean() });
export const RunSchema = Type.Object({
  id: Type.String(),
  syncId: Type.String(),
  trigger: Type.String({ description: 'manual, change or schedule' }),
  status: Type.String({ description: 'queued, running, succeeded or failed' }),
  createdAt: Type.String(),
  startedAt: Nullable(Type.String()),
  finishedAt: Nullable(Type.String()),
  durationMs: Nullable(Type.Integer()),
  counts: Nullable(Type.Object({ created: Type.Integer(), updated: Type.Integer(), deleted: Type.Integer(), unchanged: Type.Integer() })),
  writes: Nullable(Type.Integer({ description: 'Write requests to Azure DevOps (0 when nothing changed, else 1)' })),
  requests: Nullable(Type.Integer()),
  retries: Nullable(Type.Integer()),
  groupId: Nullable(Type.Integer()),
  error: Nullable(Type.String({ description: 'Why the run failed, in words' })),
});
export const SyncSchema = Type.Object({
  id: Type.String(),
  projectId: Type.String(),
  connectionId: Type.String(),
  name: Type.String(),
  organization: Type.String(),
  project: Type.String(),
  groupName: Type.String(),
  description: Nullable(Type.String()),
  variables: Type.Array(Declared, { description: 'Names and secret flags; values are write-only' }),
  variableCount: Type.Integer(),
  adoptExisting: Type.Boolean({ description: 'A project owner let the sync write into an existing group it did not create' }),
  takeOver: Type.Array(Type.String(), { description: 'Variables Keyway did not write that a project owner let the sync overwrite' }),
  enabled: Type.Boolean(),
  scheduleMinutes: Nullable(Type.Integer()),
  nextRunAt: Nullable(Type.String()),
  running: Type.Boolean(),
  lastRun: Nullable(RunSchema),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

export const SyncList = Type.Object({ syncs: Type.Array(SyncSchema) });
export const CreatedSync = Type.Object({ sync: SyncSchema, runId: Type.Optional(Type.String()) });
export const RunList = Type.Object({ runs: Type.Array(RunSchema) });
export const VariablesResponse = Type.Object({
  variables: Type.Array(Declared),
  runId: Type.Optional(Type.String({ description: 'The run started by the change' })),
});
