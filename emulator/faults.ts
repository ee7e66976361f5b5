// Throttling and fault injection: rules matched per listener, method and path, applied by an
// onRequest hook on every listener. Azure DevOps throttling (docs/throttling.md): `Retry-After`, the
// `X-RateLimit-*` headers (which may arrive on a 200 before any delay) and 429 with TF400733.
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { adoErrorBody } from './ado/errors.ts';

export type ListenerName = 'login' | 'services' | 'vssps' | 'server';

export interface FaultRuleInput {
  /** Listener the rule applies to; default every listener. */
  listener?: ListenerName | '*';
  /** HTTP method; default any. */
  method?: string;
  /**
   * Path pattern on the URL path (no query): a glob where `*` matches within one segment and `**`
   * across segments (`/myorg/_apis/**`), or a RegExp. Default: every path.
   */
  path?: string | RegExp;
  /** Over the control API: a regular expression source instead of a glob. */
  pathRegex?: string;
  /** Delay before the request is handled (or before the fault is served). */
  latencyMs?: number;
  /** What to do with a matching request besides the latency. */
  action?: 'none' | 'status' | 'throttle' | 'reset';
  /** For action 'status': the status to answer (a 5xx); default 503. */
  status?: number;
  /** For action 'throttle': the Retry-After value; default 1. */
  retryAfterSeconds?: number;
  /** The action fires on this many matching requests, then stops; default unlimited. */
  times?: number;
  /** The action fires with this probability (0–1) on each matching request; default 1. */
  probability?: number;
  /** Send X-RateLimit-* headers on every matching response (throttling rules imply it). */
  rateLimitHeaders?: boolean;
}

export interface FaultRule extends Omit<FaultRuleInput, 'path'> {
  id: string;
  path?: string | RegExp;
  /** How many times the action has fired. */
  fired: number;
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        re += '.*';
        i++;
      } else re += '[^/]*';
    } else re += c.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 'i');
}

export function pathMatches(pattern: string | RegExp | undefined, path: string): boolean {
  if (pattern === undefined) return true;
  if (pattern instanceof RegExp) return pattern.test(path);
  return globToRegExp(pattern).test(path);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Faults {
  private readonly rules: FaultRule[] = [];
  private next = 1;

  add(input: FaultRuleInput): string {
    if (input.action === 'status' && input.status !== undefined && (input.status < 400 || input.status > 599)) {
      throw new Error('status must be between 400 and 599');
    }
    if (input.probability !== undefined && (input.probability < 0 || input.probability > 1)) {
      throw new Error('probability must be between 0 and 1');
    }
    const id = `fault-${this.next++}`;
    const rule: FaultRule = { ...input, id, fired: 0 };
    if (input.pathRegex !== undefined) rule.path = new RegExp(input.pathRegex, 'i');
    delete rule.pathRegex;
    this.rules.push(rule);
    return id;
  }

  remove(id: string): boolean {
    const i = this.rules.findIndex((r) => r.id === id);
    if (i < 0) return false;
    this.rules.splice(i, 1);
    return true;
  }

  clear(): void {
    this.rules.length = 0;
  }

  list(): Array<Omit<FaultRule, 'path'> & { path?: string }> {
    return this.rules.map((r) => ({ ...r, path: r.path instanceof RegExp ? `re:${r.path.source}` : r.path }));
  }

  private matching(listener: ListenerName, method: string, path: string): FaultRule[] {
    return this.rules.filter(
      (r) =>
        (!r.listener || r.listener === '*' || r.listener === listener) &&
        (!r.method || r.method.toUpperCase() === method.toUpperCase()) &&
        pathMatches(r.path, path),
    );
  }

  /** The onRequest hook for one listener. Control API paths (/_emulator) are never faulted. */
  hook(listener: ListenerName): onRequestAsyncHookHandler {
    return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
      const path = req.url.split('?')[0] ?? '/';
      if (path.startsWith('/_emulator')) return;
      const rules = this.matching(listener, req.method, path);
      if (rules.length === 0) return;
      const throttling = rules.some((r) => r.rateLimitHeaders || r.action === 'throttle');
      let delay = 0;
      let action: FaultRule | undefined;
      for (const r of rules) {
        const spent = r.times !== undefined && r.fired >= r.times;
        if (spent) continue;
        delay = Math.max(delay, r.latencyMs ?? 0);
        if (!action && r.action && r.action !== 'none' && (r.probability === undefined || Math.random() < r.probability)) action = r;
      }
      for (const r of rules) {
        // A rule without an action is spent by the requests its latency applied to.
        if (r.times !== undefined && r.fired < r.times && (!r.action || r.action === 'none') && (r.latencyMs ?? 0) > 0) r.fired++;
      }
      if (action) action.fired++;
      if (throttling) reply.headers(rateLimitHeaders(delay, action?.action === 'throttle'));
      if (delay > 0) await sleep(delay);
      if (!action) return;
      if (action.action === 'reset') {
        reply.hijack();
        req.raw.socket.destroy();
        return;
      }
      if (action.action === 'throttle') {
        const retry = action.retryAfterSeconds ?? 1;
        reply.code(429).header('Retry-After', String(retry));
        await reply.send(
          listener === 'login'
            ? entraError('temporarily_unavailable', 'AADSTS90033: A transient error has occurred. Please try again.')
            : throttleBody(),
        );
        return;
      }
      const status = action.status ?? 503;
      await reply
        .code(status)
        .send(
          listener === 'login'
            ? entraError(
                status === 503 ? 'temporarily_unavailable' : 'server_error',
                'AADSTS90033: A transient error has occurred. Please try again.',
              )
            : adoErrorBody(
                'TF400898: An Internal Error Occurred. Activity Id: 00000000-0000-0000-0000-000000000000.',
                'InternalServerErrorException',
              ),
        );
    };
  }
}

/** X-RateLimit-* as the service sends them: delay in seconds, reset in epoch seconds. */
function rateLimitHeaders(delayMs: number, blocked: boolean): Record<string, string> {
  return {
    'X-RateLimit-Resource': 'Core',
    'X-RateLimit-Delay': (delayMs / 1000).toFixed(3),
    'X-RateLimit-Limit': '200',
    'X-RateLimit-Remaining': blocked ? '0' : '150',
    'X-RateLimit-Reset': String(Math.floor(Date.now() / 1000) + 300),
  };
}

function throttleBody(): ReturnType<typeof adoErrorBody> {
  // TF400733 wording beyond the code is unconfirmed.
  return adoErrorBody(
    "TF400733: The request has been canceled: Request was blocked due to exceeding usage of resource 'Core' in namespace 'User'.",
    'RequestBlockedException',
  );
}

function entraError(error: string, description: string): Record<string, unknown> {
  return {
    error,
    error_description: description,
    error_codes: [90033],
    timestamp: new Date().toISOString().replace('T', ' ').slice(0, 19) + 'Z',
  };
}
