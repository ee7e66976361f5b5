import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Serves the web UI's built assets (web/dist, from `npm run build:web`) with a strict CSP, and
 * index.html for every other GET that is not an API or operations path, so the single-page app's
 * history routes (/runners/run_1) survive a reload. Until the UI is built, `/` says where the API is.
 */
export async function registerWebAssets(app: FastifyInstance, webDist?: string): Promise<void> {
  const dist = webDist === undefined ? findWebDist() : existsSync(join(webDist, 'index.html')) ? resolve(webDist) : undefined;
  await app.register(async (scope) => {
    scope.addHook('onSend', async (request, reply, payload) => {
      if (isServerPath(request.url.split('?')[0] ?? '')) return payload;
      void reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
      void reply.header('x-frame-options', 'DENY');
      // The root hook answers `no-store` for everything; built assets carry a content hash in
      // their names and never change, and the HTML revalidates so a new build shows at once.
      if (reply.statusCode < 400) {
        void reply.header('cache-control', request.url.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
      }
      return payload;
    });

    if (!dist) {
      // Said at start, not only to the first person who opens the page.
      app.log.warn(
        'the web interface is not built, so / only points at the API: run npm run build:web (an installed package ships it built) and restart',
      );
      scope.get('/', { schema: { hide: true } }, async (_request, reply) => reply.type('text/html; charset=utf-8').send(FALLBACK_PAGE));
      return;
    }

    await scope.register(fastifyStatic, { root: dist, serve: false, cacheControl: false, dotfiles: 'ignore', index: false });
    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
      const path = `/${(request.params as { '*'?: string })['*'] ?? ''}`;
      if (isServerPath(path)) return reply.callNotFound();
      const file = builtFile(dist, path);
      if (file) return reply.sendFile(file, dist);
      // A missing file (/assets/old-hash.js, /robots.txt) is a 404, not the app: the browser
      // would otherwise try to run or parse HTML.
      if (path.startsWith('/assets/') || /\.[A-Za-z0-9]+$/.test(path)) return reply.callNotFound();
      return reply.sendFile('index.html', dist);
    };
    scope.get('/', { schema: { hide: true } }, handler);
    scope.get('/*', { schema: { hide: true } }, handler);
  });
}

export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

// Paths the server owns. Their real routes match first; anything else under them is a 404 from the
// server's own handler (with its JSON error shape and authentication), never the app's HTML.
const SERVER_PATHS = ['/api', '/healthz', '/readyz', '/metrics', '/sign-in/link'];

function isServerPath(path: string): boolean {
  return SERVER_PATHS.some((p) => path === p || path.startsWith(`${p}/`) || (p === '/sign-in/link' && path.startsWith(p)));
}

/** `path` relative to `dist` if it names a file inside it; nothing outside `dist`, no dotfiles. */
function builtFile(dist: string, path: string): string | undefined {
  if (path === '/' || path.split('/').some((segment) => segment.startsWith('.'))) return undefined;
  const absolute = resolve(dist, `.${path}`);
  if (!absolute.startsWith(dist + sep)) return undefined;
  try {
    return statSync(absolute).isFile() ? absolute.slice(dist.length + 1) : undefined;
  } catch {
    return undefined;
  }
}

/** web/dist of the checkout this module runs from: two levels up from src/management, three from dist/src/management. */
function findWebDist(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let level = 0; level < 4; level++) {
    dir = dirname(dir);
    const dist = join(dir, 'web', 'dist');
    if (existsSync(join(dist, 'index.html'))) return dist;
  }
  return undefined;
}

const FALLBACK_PAGE =
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Keyway</title></head><body><main><h1>Keyway</h1>' +
  '<p>The web interface is not built: run <code>npm run build:web</code> (or <code>npm start</code>, which builds it) and restart Keyway.</p>' +
  '<p>The API is described at <a href="/api/openapi.json">/api/openapi.json</a>.</p></main></body></html>';
