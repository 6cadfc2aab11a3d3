import { readFileSync } from 'node:fs';
import { webRoot } from '@sesame/web';
import type { FastifyInstance } from 'fastify';

const PAGES = {
  '/': 'index.html',
  '/setup': 'setup.html',
} as const;

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** The web console's pages, read once at start and served same-origin with a strict CSP. */
export function registerWebRoutes(app: FastifyInstance): void {
  for (const [route, file] of Object.entries(PAGES)) {
    const html = readFileSync(new URL(file, webRoot), 'utf8');
    app.get(route, async (_request, reply) =>
      reply.headers(SECURITY_HEADERS).type('text/html; charset=utf-8').send(html),
    );
  }
  for (const file of ['console.css', 'setup.js']) {
    const text = readFileSync(new URL(file, webRoot), 'utf8');
    const type = file.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8';
    app.get(`/assets/${file}`, async (_request, reply) =>
      reply.headers(SECURITY_HEADERS).type(type).send(text),
    );
  }
}
