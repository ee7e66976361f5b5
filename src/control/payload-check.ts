// The runner checks each control payload against the registry's schema before the handler runs.
import { Compile } from 'typebox/compile';
import { CONTROL_REQUESTS } from './registry.ts';
import type { ControlKind } from './registry.ts';
import type { ControlFailure } from './protocol.ts';

type Validator = ReturnType<typeof Compile>;
const validators = new Map<ControlKind, Validator>();

function validatorFor(kind: ControlKind): Validator {
  let validator = validators.get(kind);
  if (!validator) {
    validator = Compile(CONTROL_REQUESTS[kind].payload);
    validators.set(kind, validator);
  }
  return validator;
}

/**
 * `/integration/oauth/clientId` → `integration.oauth.clientId`: the field the failure names. A
 * missing field is reported on its parent, with the missing name beside it.
 */
function fieldOf(error: { instancePath: string; params: unknown }): string | undefined {
  const path = error.instancePath.split('/').filter(Boolean);
  const missing = (error.params as { requiredProperties?: string[] } | undefined)?.requiredProperties?.[0];
  const field = [...path, ...(missing ? [missing] : [])].join('.');
  return field || undefined;
}

/**
 * Why a payload does not fit its kind's schema, as the failure the caller gets (`invalid_request`,
 * naming the first field at fault), or undefined when it fits. The message names fields and
 * schema rules only, never a value: payloads carry sealed secrets.
 */
export function checkControlPayload(kind: ControlKind, payload: unknown): ControlFailure | undefined {
  const validator = validatorFor(kind);
  if (validator.Check(payload)) return undefined;
  // The innermost error says most (a union's own "must match a schema" comes after its branches').
  const [first] = validator.Errors(payload);
  const field = first ? fieldOf(first) : undefined;
  const where = field ? ` at ${field}` : '';
  return {
    code: 'invalid_request',
    message: `the "${kind}" request does not fit its schema${where}: ${first?.message ?? 'it is not an object'}; the management plane and this runner may run different versions`,
    ...(field ? { field } : {}),
  };
}
