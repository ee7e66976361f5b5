// Public API of the Azure DevOps + Entra ID emulator.
export { startEmulator, rewriteVisualStudioHost, throttlingFromOptions } from './server.ts';
export { Throttle, DEFAULT_THROTTLE_CONFIG, DEFAULT_COSTS } from './throttling.ts';
export type { ThrottleConfig, RouteCost, ThrottleCounters, ThrottleKeyState } from './throttling.ts';
export type { EmulatorCounters, EmulatorHandle, EmulatorUrls, StartEmulatorOptions } from './server.ts';
export type { FaultRuleInput, ListenerName } from './faults.ts';
export { World, WorldError } from './ado/world.ts';
export type {
  Organization,
  Project,
  Repository,
  User,
  ServicePrincipal,
  PatRecord,
  PullRequest,
  VariableGroup,
  RepositorySeed,
} from './ado/world.ts';
export { generatePat, generateLegacyPat, looksLikePat } from './ado/ids.ts';
export { runEmulatorCommand } from './cli.ts';
export type { EmulatorCommandOptions, EmulatorCommandResult } from './cli.ts';
