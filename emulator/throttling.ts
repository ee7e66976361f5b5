// Azure DevOps's global consumption limit, modelled per identity and organization (docs/throttling.md):
// every request costs TSTUs (throughput units), counted over a sliding window. Past a notice level,
// answers carry X-RateLimit-Resource/-Limit/-Remaining/-Reset; over the limit, requests are delayed
// (X-RateLimit-Delay, Retry-After on the successful answer); far over it, they are blocked with 429,
// Retry-After and TF400733. Pure bookkeeping with an injectable clock; the HTTP side is in
// ado/context.ts (REST) and git/http-backend.ts (git).
//
// Source: "Rate and usage limits" (learn.microsoft.com/azure/devops/integrate/concepts/rate-limits):
// one TSTU is a typical user's load over five minutes, normal spikes stay at or under 10, larger ones
// reach 100, the limit is 200 in any sliding five-minute window, delays go from milliseconds to 30 s,
// all headers but X-RateLimit-Delay come before delays start, Retry-After may come on an HTTP 200.
// Unconfirmed (the service publishes no formula): the cost of each request, where the notice level
// and the block level sit, and how the delay grows. They are configuration, defaulted below.

export interface RouteCost {
  /** `METHOD path` from `_apis/` (or `_git/`) on, e.g. `GET _apis/git/repositories/{repositoryId}/refs`. */
  route: string;
  /** TSTUs every request costs. */
  base: number;
  /** TSTUs per item a list answer returns (refs, groups, projects…). */
  perItem?: number;
}

export interface ThrottleConfig {
  enabled: boolean;
  /** TSTUs in the window before delays start (X-RateLimit-Limit). */
  limit: number;
  windowMs: number;
  /** Usage (as a fraction of the limit) from which answers carry the X-RateLimit-* headers. */
  noticeFraction: number;
  /** Usage above limit × this is blocked with 429; between the limit and this, requests are delayed. */
  blockFactor: number;
  /** The longest delay of one request (the documentation says up to 30 s). */
  maxDelayMs: number;
  /** Per-route costs; the first whose route matches wins, else `defaultCost`. */
  costs: RouteCost[];
  defaultCost: Omit<RouteCost, 'route'>;
  /** Shown in X-RateLimit-Resource and TF400733 (a display string, per the documentation). */
  resource: string;
}

/**
 * Defaults, in the documentation's unit (1 TSTU = a typical user's five minutes): a light read costs
 * 0.01, so a typical user's five minutes is about a hundred of them; listing 1,000 refs costs about
 * 1 TSTU (0.02 + 0.001 per ref), one typical user's five minutes; a full variable-group sweep of
 * 100 groups of 100 variables (a filtered list and a write per group) costs about 10 TSTUs, the
 * documentation's "normal spike". The 200-TSTU limit is then about 20 sweeps, or 200 listings of
 * 1,000 refs, in five minutes. Assumptions, not measurements: see docs/throttling.md.
 */
export const DEFAULT_COSTS: RouteCost[] = [
  { route: 'GET _apis/git/repositories/{repositoryId}/refs', base: 0.02, perItem: 0.001 },
  { route: 'GET _apis/git/repositories/{repositoryId}/refs/*', base: 0.02, perItem: 0.001 },
  { route: 'GET _apis/git/repositories/{repositoryId}/commits', base: 0.02, perItem: 0.002 },
  { route: 'GET _apis/git/repositories/{repositoryId}/items', base: 0.02 },
  { route: 'GET _apis/git/repositories/{repositoryId}/stats/branches', base: 0.02, perItem: 0.002 },
  { route: 'GET _apis/distributedtask/variablegroups', base: 0.01, perItem: 0.01 },
  { route: 'POST _apis/distributedtask/variablegroups', base: 0.09 },
  { route: 'PUT _apis/distributedtask/variablegroups/{groupId}', base: 0.09 },
  { route: 'DELETE _apis/distributedtask/variablegroups/{groupId}', base: 0.05 },
  { route: 'POST _apis/git/repositories/{repositoryId}/pullrequests', base: 0.1 },
  { route: 'PATCH _apis/git/repositories/{repositoryId}/pullrequests/{pullRequestId}', base: 0.1 },
  { route: 'POST _git/git-upload-pack', base: 0.05 },
  { route: 'POST _git/git-receive-pack', base: 0.05 },
];

export const DEFAULT_THROTTLE_CONFIG: Readonly<ThrottleConfig> = Object.freeze({
  enabled: false,
  limit: 200,
  windowMs: 5 * 60_000,
  noticeFraction: 0.5,
  blockFactor: 1.5,
  maxDelayMs: 30_000,
  costs: DEFAULT_COSTS,
  defaultCost: { base: 0.01, perItem: 0.001 },
  resource: 'Core',
});

export interface ThrottleCounters {
  requests: number;
  /** Requests answered with X-RateLimit-* headers. */
  noticed: number;
  delayed: number;
  blocked: number;
  delayMsTotal: number;
  tstus: number;
}

export interface ThrottleKeyState extends ThrottleCounters {
  key: string;
  identity: string;
  organization: string;
  /** TSTUs in the current window. */
  usage: number;
}

export type Admission =
  | { action: 'allow' | 'delay'; delayMs: number; headers: Record<string, string> }
  | { action: 'block'; retryAfterSeconds: number; headers: Record<string, string>; message: string };

interface Entry {
  events: Array<{ at: number; cost: number }>;
  counters: ThrottleCounters;
  identity: string;
  organization: string;
}

const zero = (): ThrottleCounters => ({ requests: 0, noticed: 0, delayed: 0, blocked: 0, delayMsTotal: 0, tstus: 0 });

function validNumber(v: unknown, name: string, min: number, max = Number.POSITIVE_INFINITY): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
    throw new Error(`${name} must be a number from ${min}${Number.isFinite(max) ? ` to ${max}` : ''}`);
  return v;
}

/** Checks a partial configuration (from the control API or start options); throws with the field to fix. */
export function mergeThrottleConfig(base: ThrottleConfig, patch: Partial<ThrottleConfig>): ThrottleConfig {
  const next: ThrottleConfig = { ...base, costs: [...base.costs], defaultCost: { ...base.defaultCost } };
  if (patch.enabled !== undefined) {
    if (typeof patch.enabled !== 'boolean') throw new Error('enabled must be a boolean');
    next.enabled = patch.enabled;
  }
  if (patch.limit !== undefined) next.limit = validNumber(patch.limit, 'limit', Number.MIN_VALUE);
  if (patch.windowMs !== undefined) next.windowMs = validNumber(patch.windowMs, 'windowMs', 1);
  if (patch.noticeFraction !== undefined) next.noticeFraction = validNumber(patch.noticeFraction, 'noticeFraction', 0, 1);
  if (patch.blockFactor !== undefined) next.blockFactor = validNumber(patch.blockFactor, 'blockFactor', 1);
  if (patch.maxDelayMs !== undefined) next.maxDelayMs = validNumber(patch.maxDelayMs, 'maxDelayMs', 0);
  if (patch.resource !== undefined) {
    if (typeof patch.resource !== 'string' || !patch.resource) throw new Error('resource must be a non-empty string');
    next.resource = patch.resource;
  }
  if (patch.defaultCost !== undefined) next.defaultCost = checkCost(patch.defaultCost, 'defaultCost');
  if (patch.costs !== undefined) {
    if (!Array.isArray(patch.costs)) throw new Error('costs must be an array of {route, base, perItem?}');
    // Given costs come first, so they override the defaults for the same route.
    const given = patch.costs.map((c, i) => {
      if (!c || typeof c.route !== 'string' || !/^[A-Z]+ \S+$/.test(c.route))
        throw new Error(`costs[${i}].route must look like "GET _apis/projects"`);
      return { route: c.route, ...checkCost(c, `costs[${i}]`) };
    });
    next.costs = [...given, ...next.costs.filter((d) => !given.some((g) => sameRoute(g.route, d.route)))];
  }
  return next;
}

function checkCost(c: Partial<Omit<RouteCost, 'route'>>, name: string): Omit<RouteCost, 'route'> {
  const out: Omit<RouteCost, 'route'> = { base: validNumber(c?.base, `${name}.base`, 0) };
  if (c.perItem !== undefined) out.perItem = validNumber(c.perItem, `${name}.perItem`, 0);
  return out;
}

const sameRoute = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/**
 * `GET /{org}/{project}/_apis/git/repositories/{repositoryId}/refs` → `GET _apis/git/repositories/{repositoryId}/refs`:
 * the organization- and project-level forms of one resource cost the same.
 */
export function costRoute(method: string, template: string): string {
  const readable = template.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
  const at = readable.search(/\/_(apis|git)\//i);
  let tail = at >= 0 ? readable.slice(at + 1) : readable.replace(/^\/+/, '');
  // Git smart HTTP: `_git/{repo}/*` — the service is what costs, not the repository.
  if (/^_git\//i.test(tail)) tail = `_git/${tail.split('/').pop() ?? ''}`;
  return `${method.toUpperCase()} ${tail}`;
}

export class Throttle {
  private cfg: ThrottleConfig;
  private readonly entries = new Map<string, Entry>();
  private totals = zero();
  private readonly now: () => number;

  constructor(config: Partial<ThrottleConfig> = {}, now: () => number = Date.now) {
    this.cfg = mergeThrottleConfig({ ...DEFAULT_THROTTLE_CONFIG, costs: [...DEFAULT_COSTS] }, config);
    this.now = now;
  }

  get enabled(): boolean {
    return this.cfg.enabled;
  }

  config(): ThrottleConfig {
    return { ...this.cfg, costs: this.cfg.costs.map((c) => ({ ...c })), defaultCost: { ...this.cfg.defaultCost } };
  }

  configure(patch: Partial<ThrottleConfig>): ThrottleConfig {
    this.cfg = mergeThrottleConfig(this.cfg, patch);
    return this.config();
  }

  /** Forgets every identity's usage and the counters (the configuration stays). */
  reset(): void {
    this.entries.clear();
    this.totals = zero();
  }

  cost(route: string, items: number): number {
    const rule = this.cfg.costs.find((c) => sameRoute(c.route, route)) ?? this.cfg.defaultCost;
    return rule.base + (rule.perItem ?? 0) * Math.max(0, items);
  }

  private entry(identity: string, organization: string): Entry {
    const key = `${identity}@${organization}`;
    let e = this.entries.get(key);
    if (!e) {
      e = { events: [], counters: zero(), identity, organization };
      this.entries.set(key, e);
    }
    const horizon = this.now() - this.cfg.windowMs;
    while (e.events.length && e.events[0]!.at <= horizon) e.events.shift();
    return e;
  }

  private usage(e: Entry): number {
    return e.events.reduce((s, ev) => s + ev.cost, 0);
  }

  /** Milliseconds until the window's usage falls to `target` if nothing more is spent. */
  private msUntilUsage(e: Entry, target: number): number {
    let u = this.usage(e);
    const now = this.now();
    for (const ev of e.events) {
      if (u <= target) break;
      u -= ev.cost;
      if (u <= target) return Math.max(0, ev.at + this.cfg.windowMs - now);
    }
    return 0;
  }

  private headers(e: Entry, delayMs: number): Record<string, string> {
    const usage = this.usage(e);
    if (usage < this.cfg.noticeFraction * this.cfg.limit && delayMs === 0) return {};
    const newest = e.events.at(-1)?.at ?? this.now();
    const h: Record<string, string> = {
      'X-RateLimit-Resource': this.cfg.resource,
      'X-RateLimit-Limit': String(this.cfg.limit),
      // "If requests are already delayed or blocked, it's 0."
      'X-RateLimit-Remaining': usage >= this.cfg.limit ? '0' : String(Math.floor((this.cfg.limit - usage) * 1000) / 1000),
      'X-RateLimit-Reset': String(Math.ceil((newest + this.cfg.windowMs) / 1000)),
    };
    if (delayMs > 0) {
      h['X-RateLimit-Delay'] = (delayMs / 1000).toFixed(3);
      h['Retry-After'] = String(Math.max(1, Math.ceil(this.msUntilUsage(e, this.cfg.limit) / 1000)));
    }
    return h;
  }

  /** Decides what happens to a request before it runs (nothing is spent yet). */
  admit(identity: string, organization: string): Admission {
    const e = this.entry(identity, organization);
    e.counters.requests++;
    this.totals.requests++;
    const usage = this.usage(e);
    const { limit, blockFactor, maxDelayMs } = this.cfg;
    if (usage > limit * blockFactor) {
      e.counters.blocked++;
      this.totals.blocked++;
      const retryAfterSeconds = Math.max(1, Math.ceil(this.msUntilUsage(e, limit) / 1000));
      const headers = { ...this.headers(e, 0), 'Retry-After': String(retryAfterSeconds) };
      return {
        action: 'block',
        retryAfterSeconds,
        headers,
        message: `TF400733: The request has been canceled: Request was blocked due to exceeding usage of resource '${this.cfg.resource}' in namespace 'User'.`,
      };
    }
    let delayMs = 0;
    if (usage > limit) {
      // Grows from nothing at the limit to the longest delay at the block level.
      const over = (usage - limit) / (limit * (blockFactor - 1) || 1);
      delayMs = Math.max(1, Math.min(maxDelayMs, Math.round(over * maxDelayMs)));
      e.counters.delayed++;
      this.totals.delayed++;
      e.counters.delayMsTotal += delayMs;
      this.totals.delayMsTotal += delayMs;
    }
    const headers = this.headers(e, delayMs);
    if (Object.keys(headers).length) {
      e.counters.noticed++;
      this.totals.noticed++;
    }
    return { action: delayMs > 0 ? 'delay' : 'allow', delayMs, headers };
  }

  /** Spends the request's TSTUs once its answer is known; returns the headers the answer should carry. */
  charge(identity: string, organization: string, route: string, items: number, delayMs = 0): Record<string, string> {
    const e = this.entry(identity, organization);
    const cost = this.cost(route, items);
    e.events.push({ at: this.now(), cost });
    e.counters.tstus += cost;
    this.totals.tstus += cost;
    return this.headers(e, delayMs);
  }

  snapshot(): { enabled: boolean; totals: ThrottleCounters; identities: ThrottleKeyState[] } {
    const identities = [...this.entries.entries()].map(([key, e]) => {
      this.entry(e.identity, e.organization);
      return { key, identity: e.identity, organization: e.organization, usage: Math.round(this.usage(e) * 1000) / 1000, ...e.counters };
    });
    return { enabled: this.cfg.enabled, totals: { ...this.totals }, identities };
  }
}
