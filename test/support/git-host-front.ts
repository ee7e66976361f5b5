// An "Azure DevOps Server" host for containment tests: an HTTP server in front of the emulator's
// Server listener that passes the REST API through and does what a test says with git's smart HTTP
// requests: pass them too, redirect them elsewhere, or stall (answer a little, then nothing). It
// records what it saw. Test code, not the emulator: the emulator stays a faithful Azure DevOps.
import { createServer, request as httpRequest } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type GitBehaviour = { kind: 'pass' } | { kind: 'redirect'; to: (path: string) => string } | { kind: 'stall' };

export interface GitHostFront {
  /** `http://{address}:{port}` */
  origin: string;
  port: number;
  /** Requests seen, `METHOD path`. */
  requests: string[];
  /** git's requests only (info/refs, git-upload-pack, git-receive-pack). */
  gitRequests(): string[];
  /** Resolves when a git request is being stalled. */
  stalled(): Promise<void>;
  close(): Promise<void>;
}

const isGit = (path: string) => /\/_git\/[^?]*\/(info\/refs|git-upload-pack|git-receive-pack)(\?|$)/.test(path);

function listen(server: Server, address: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Starts the front on `address` (default 127.0.0.1) and `port` (default any), forwarding to `target` (an origin). */
export async function startGitHostFront(
  target: string,
  behaviour: () => GitBehaviour,
  options: { address?: string; port?: number } = {},
): Promise<GitHostFront> {
  const upstream = new URL(target);
  const requests: string[] = [];
  const held = new Set<Socket>();
  let onStall: (() => void) | undefined;
  const stalledOnce = new Promise<void>((resolve) => (onStall = resolve));

  function forward(req: IncomingMessage, res: ServerResponse) {
    const out = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
  }

  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push(`${req.method} ${path}`);
    const what = isGit(path) ? behaviour() : { kind: 'pass' as const };
    if (what.kind === 'pass') return forward(req, res);
    if (what.kind === 'redirect') {
      res.writeHead(302, { location: what.to(path) });
      res.end();
      return;
    }
    // Stall: git has connected and may have sent its request; it gets headers and then nothing.
    held.add(req.socket);
    req.resume();
    res.writeHead(200, { 'content-type': 'application/x-git-upload-pack-advertisement', 'cache-control': 'no-cache' });
    res.flushHeaders();
    onStall?.();
  });
  server.on('connection', (socket) => socket.on('close', () => held.delete(socket)));
  const port = await listen(server, options.address ?? '127.0.0.1', options.port ?? 0);
  const host = (options.address ?? '127.0.0.1').includes(':') ? `[${options.address}]` : (options.address ?? '127.0.0.1');
  return {
    origin: `http://${host}:${port}`,
    port,
    requests,
    gitRequests: () => requests.filter((r) => isGit(r.split(' ')[1] ?? '')),
    stalled: () => stalledOnce,
    async close() {
      for (const socket of held) socket.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A listener that only counts what reaches it (the address a redirect or a rebinding points at). */
export async function startTrap(address: string, port = 0): Promise<{ port: number; hits: string[]; close(): Promise<void> }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    res.writeHead(404).end();
  });
  const bound = await listen(server, address, port);
  return {
    port: bound,
    hits,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
