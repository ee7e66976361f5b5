// Request counters per route template ('GET /{org}/_apis/projects'), counted when a request arrives
// (faulted attempts included), so resilience tests can assert how often a client called.
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';

export class Counters {
  private rest = new Map<string, number>();
  private git = 0;
  private gitByService: Record<string, number> = {};
  private gitBytesServed = 0;

  /** Bytes of git smart HTTP answers (advertisements and packs), headers aside. */
  gitBytes(bytes: number): void {
    this.gitBytesServed += bytes;
  }

  hook(): onRequestAsyncHookHandler {
    return async (req: FastifyRequest): Promise<void> => {
      const template = req.routeOptions.url;
      if (!template || template.startsWith('/_emulator')) return;
      const readable = template.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      if (template.includes('/_git/')) {
        this.git++;
        const path = req.url.split('?')[0] ?? '';
        const service = /service=(git-[a-z-]+)/.exec(req.url)?.[1] ?? /(git-(?:upload|receive)-pack)$/.exec(path)?.[1] ?? 'other';
        this.gitByService[service] = (this.gitByService[service] ?? 0) + 1;
        return;
      }
      if (template.includes('/_apis')) {
        const key = `${req.method} ${readable}`;
        this.rest.set(key, (this.rest.get(key) ?? 0) + 1);
      }
    };
  }

  snapshot(): { restCalls: Record<string, number>; gitRequests: number; gitByService: Record<string, number>; gitBytesServed: number } {
    return {
      restCalls: Object.fromEntries(this.rest),
      gitRequests: this.git,
      gitByService: { ...this.gitByService },
      gitBytesServed: this.gitBytesServed,
    };
  }

  reset(): void {
    this.rest = new Map();
    this.git = 0;
    this.gitByService = {};
    this.gitBytesServed = 0;
  }
}
