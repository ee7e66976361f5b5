// The one way a route records what it did. `run` wraps the route's work: it records success with
// what the result adds (a created thing's id, the details worth keeping), or, when the work throws,
// failure with the error's stable code, then rethrows. A route that audits its success therefore
// audits its failures too; nobody has to remember the catch block.
import type { FastifyRequest } from 'fastify';
import { errorCode, forbidden } from '../../http/errors.ts';
import { clientInfo } from '../identity/client-info.ts';
import type { AuditAction } from './actions.ts';
import type { AuditEntry, AuditLog, AuditOutcome, AuditTarget } from './service.ts';

/** What a route's event is, known before the work runs. */
export interface RouteEvent {
  action: AuditAction;
  target?: AuditTarget;
  /** What was asked: recorded on success and on failure alike. Keyway's own words, never a request body. */
  details?: Record<string, unknown>;
  /** Default: the request's principal. */
  actor?: AuditEntry['actor'];
  /** Default: the actor's organization. */
  organizationId?: string | null;
}

/** What the result adds to the record of work that did not throw. */
export interface RouteEventResult {
  target?: AuditTarget;
  details?: Record<string, unknown>;
  /** A check that ran and found a fault (a credential test that failed) is a failure without an error. */
  outcome?: AuditOutcome;
  /**
   * The organization the success belongs to, when only the result knows it (one just created, an
   * invitation's). A failure stays where the event put it: never in an organization the caller named
   * but may not belong to.
   */
  organizationId?: string | null;
}

export interface RouteAudit {
  /** Runs `work`, then records its success (with what `describe` takes from the result) or its failure. */
  run<T>(request: FastifyRequest, event: RouteEvent, work: () => Promise<T>, describe?: (result: T) => RouteEventResult): Promise<T>;
  /** Records one event whose outcome the route decided itself (a callback's result, say). */
  record(request: FastifyRequest, event: RouteEvent & { outcome: AuditOutcome }): Promise<void>;
  /** Refuses the caller: records `authorization.denied` on this route, then throws a 403 saying `message`. */
  deny(request: FastifyRequest, message: string, actor?: AuditEntry['actor']): Promise<never>;
}

export function createRouteAudit(audit: Pick<AuditLog, 'record'>): RouteAudit {
  function entry(request: FastifyRequest, event: RouteEvent): Omit<AuditEntry, 'outcome'> {
    const actor = event.actor ?? request.principal ?? { kind: 'anonymous' as const };
    return {
      ...(event.organizationId !== undefined ? { organizationId: event.organizationId } : {}),
      actor,
      action: event.action,
      ...(event.target ? { target: event.target } : {}),
      client: clientInfo(request),
      ...(event.details ? { details: event.details } : {}),
    };
  }

  return {
    async run(request, event, work, describe) {
      let result;
      try {
        result = await work();
      } catch (err) {
        const base = entry(request, event);
        await audit.record({ ...base, outcome: 'failure', details: { ...base.details, reason: errorCode(err) } });
        throw err;
      }
      const added = describe?.(result) ?? {};
      const base = entry(request, {
        ...event,
        target: added.target ?? event.target,
        ...(added.organizationId !== undefined ? { organizationId: added.organizationId } : {}),
      });
      await audit.record({
        ...base,
        outcome: added.outcome ?? 'success',
        ...(added.details ? { details: { ...base.details, ...added.details } } : {}),
      });
      return result;
    },

    async record(request, event) {
      await audit.record({ ...entry(request, event), outcome: event.outcome });
    },

    async deny(request, message, actor) {
      await audit.record({
        ...entry(request, {
          action: 'authorization.denied',
          target: { type: 'route', id: `${request.method} ${request.routeOptions.url ?? ''}` },
          ...(actor ? { actor } : {}),
        }),
        outcome: 'denied',
      });
      throw forbidden(message);
    },
  };
}
