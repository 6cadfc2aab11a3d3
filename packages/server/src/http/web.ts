import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { shellPageEntry, webauthnBrowserRoot, webRoot, xtermCss } from '@sesame/web';
import { build } from 'esbuild';
import type { FastifyInstance } from 'fastify';

/** Page routes and the HTML file each serves; the pages' scripts fill in the rest. */
const PAGES = {
  '/': 'index.html',
  '/login': 'login.html',
  '/setup': 'setup.html',
  '/reset': 'reset.html',
  '/forgot': 'forgot.html',
  '/account': 'account.html',
  '/cli-login': 'cli-login.html',
  '/device': 'device.html',
  '/console/': 'console.html',
  '/console/connect': 'console.html',
} as const;

const REDIRECTS = { '/console': '/console/' } as const;

/** Files under /assets/, from the web package's public folder. */
const ASSETS = [
  'console.css',
  'api.js',
  'qr.js',
  'mfa-forms.js',
  'sign-in-flow.js',
  'webauthn.js',
  'login.js',
  'setup.js',
  'forgot.js',
  'account.js',
  'cli-login.js',
  'device.js',
  'console.js',
] as const;

/** Scripts bundled from the web package's sources (with their npm dependencies) on first request, then cached. */
const BUNDLES = { '/assets/shell.js': shellPageEntry } as const;

/** Files from dependencies, served under /assets/. */
const VENDOR = { '/assets/xterm.css': xtermCss } as const;

/**
 * Scripts only from this origin (no inline script or style), nothing may frame the console, forms post
 * only here. The enrolment QR code is inlined as parsed SVG elements, so images need no `data:` either.
 */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const TYPES = { css: 'text/css; charset=utf-8', js: 'text/javascript; charset=utf-8' } as const;

/** One ES module holding the entry and everything it imports, for the browser. */
async function bundle(entry: URL): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(entry)],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  return result.outputFiles[0]?.text ?? '';
}

/** @simplewebauthn/browser's ES modules, as `/assets/webauthn/<path>` → file URL. */
function webauthnModules(): [string, URL][] {
  return readdirSync(webauthnBrowserRoot, { recursive: true, encoding: 'utf8' })
    .filter((path) => path.endsWith('.js'))
    .map((path) => [`/assets/webauthn/${path.split('\\').join('/')}`, new URL(path, webauthnBrowserRoot)]);
}

/** The web console's pages and assets, read once at start and served same-origin with a strict CSP. */
export function registerWebRoutes(app: FastifyInstance): void {
  for (const [route, file] of Object.entries(PAGES)) {
    const html = readFileSync(new URL(file, webRoot), 'utf8');
    // Pages show who is signed in once their script ran: Back after signing out must not bring one back.
    app.get(route, async (_request, reply) =>
      reply
        .headers({ ...SECURITY_HEADERS, 'cache-control': 'no-store' })
        .type('text/html; charset=utf-8')
        .send(html),
    );
  }
  for (const [from, to] of Object.entries(REDIRECTS)) {
    app.get(from, async (_request, reply) => reply.redirect(to, 301));
  }
  // Browsers ask for it on every page: no icon, and no 404 in the console for it.
  app.get('/favicon.ico', async (_request, reply) =>
    reply.headers({ 'cache-control': 'max-age=86400' }).status(204).send(),
  );
  const files: [string, URL][] = [
    ...ASSETS.map((file): [string, URL] => [`/assets/${file}`, new URL(file, webRoot)]),
    ...webauthnModules(),
    ...Object.entries(VENDOR),
  ];
  for (const [route, file] of files) {
    const text = readFileSync(file, 'utf8');
    const type = route.endsWith('.css') ? TYPES.css : TYPES.js;
    app.get(route, async (_request, reply) => reply.headers(SECURITY_HEADERS).type(type).send(text));
  }
  for (const [route, entry] of Object.entries(BUNDLES)) {
    let built: Promise<string> | undefined;
    app.get(route, async (_request, reply) => {
      built ??= bundle(entry).catch((error: unknown) => {
        built = undefined; // a later request tries again
        throw error;
      });
      return reply
        .headers(SECURITY_HEADERS)
        .type(TYPES.js)
        .send(await built);
    });
  }
}
