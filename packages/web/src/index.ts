import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

/** Where the web console's static files live; the server serves them same-origin. */
export const webRoot: URL = new URL('../public/', import.meta.url);

/** @simplewebauthn/browser's ES modules (esm/index.js and the files it imports), served under /assets/webauthn/. */
export const webauthnBrowserRoot: URL = new URL(
  '../esm/',
  pathToFileURL(createRequire(import.meta.url).resolve('@simplewebauthn/browser')),
);

/** The browser shell's entry module; the server bundles it (with @sesame/protocol and xterm.js) as /assets/shell.js. */
export const shellPageEntry: URL = new URL('./shell-page.js', import.meta.url);

/** xterm.js's style sheet, served as /assets/xterm.css. */
export const xtermCss: URL = pathToFileURL(
  createRequire(import.meta.url).resolve('@xterm/xterm/css/xterm.css'),
);
