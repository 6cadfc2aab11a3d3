// The console's one helper module: JSON calls to the same-origin API (cookie + CSRF header), messages in an
// aria-live region, a tiny element builder, the sign-in guard and the open-redirect check for `next`.

const CSRF_KEY = 'sesame.csrf';

export function rememberCsrf(token) {
  if (typeof token === 'string' && token) sessionStorage.setItem(CSRF_KEY, token);
}

export function forgetCsrf() {
  sessionStorage.removeItem(CSRF_KEY);
}

async function csrfToken(fresh = false) {
  const kept = fresh ? null : sessionStorage.getItem(CSRF_KEY);
  if (kept) return kept;
  const response = await fetch('/api/v1/auth/csrf', { credentials: 'same-origin' });
  if (!response.ok) return '';
  const { csrfToken: token } = await response.json().catch(() => ({}));
  rememberCsrf(token);
  return token ?? '';
}

async function send(method, path, body, fresh) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') {
    const token = await csrfToken(fresh);
    if (token) headers['x-csrf-token'] = token;
  }
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? {} : await response.json().catch(() => ({}));
  return { ok: response.ok, status: response.status, data };
}

/**
 * Calls the API and answers `{ ok, status, data }`; never throws for an HTTP error. A state change refused
 * for a stale CSRF token (another tab signed in again) is retried once with a fresh one.
 */
export async function api(method, path, body) {
  try {
    let result = await send(method, path, body, false);
    if (result.status === 403 && /csrf/i.test(result.data?.error?.message ?? '')) {
      sessionStorage.removeItem(CSRF_KEY);
      result = await send(method, path, body, true);
    }
    return result;
  } catch {
    return {
      ok: false,
      status: 0,
      data: {
        error: { code: 'UNAVAILABLE', message: 'The server cannot be reached. Check your connection.' },
      },
    };
  }
}

/** The message a person should see for a failed call. */
export function errorText(result, fallback = 'That did not work') {
  const message = result.data?.error?.message;
  if (result.status === 429 && !message) return 'Too many attempts. Wait a few minutes, then try again.';
  return message
    ? `${message.charAt(0).toUpperCase()}${message.slice(1)}`
    : `${fallback} (HTTP ${result.status}).`;
}

/** Writes into the page's live region (#message): kind 'alert' for errors, 'status' for progress. */
export function say(text, kind = 'status') {
  const region = document.getElementById('message');
  if (!region) return;
  region.setAttribute('role', kind);
  region.textContent = text;
}

/** Builds an element; children are nodes or strings (strings always become text, never HTML). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === undefined || value === null) continue;
    if (name.startsWith('on') && typeof value === 'function') node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  node.append(...children.filter((child) => child !== undefined && child !== null && child !== false));
  return node;
}

/** Shows `section` in place of the page's current step and moves focus to its heading (or first field). */
export function showStep(container, section) {
  container.replaceChildren(section);
  const target = section.querySelector('h2, h1') ?? section.querySelector('input, button');
  if (target?.matches('h1, h2')) target.setAttribute('tabindex', '-1');
  target?.focus();
}

/**
 * A same-origin relative path (`/x?y#z`) or null: `next` and `redirect` come from URLs anyone can craft, so
 * `//evil.example`, `/\evil.example`, `/.//evil.example`, `https://…` and `javascript:` are all refused (open
 * redirect).
 */
export function safePath(value) {
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//')) return null;
  // URL parsing drops tabs and newlines (`/\t/evil.example` is `//evil.example`), so no control characters.
  if (value.startsWith('/\\') || [...value].some((c) => c.charCodeAt(0) < 32 || c === '\u007f')) return null;
  try {
    const url = new URL(value, location.origin);
    if (url.origin !== location.origin) return null;
    // Resolved, `/.//evil.example` (or `/%2e//…`, `/a/..//…`) is `//evil.example`: another host again.
    const path = `${url.pathname}${url.search}${url.hash}`;
    return path.startsWith('//') ? null : path;
  } catch {
    return null;
  }
}

/** This page's address as a `next` value. */
export function here() {
  return `${location.pathname}${location.search}`;
}

/** The signed-in user (GET /api/v1/me), or a trip to /login that comes back here afterwards. */
export async function requireSignIn() {
  const result = await api('GET', '/api/v1/me');
  if (result.ok) return result.data.user;
  if (result.status === 401) location.assign(`/login?next=${encodeURIComponent(here())}`);
  else say(errorText(result, 'Cannot load your account. Reload the page to try again'), 'alert');
  // The page stops here: nothing below the guard runs without a signed-in user.
  return new Promise(() => {});
}

/** Signs out this browser and goes to the sign-in page. */
export async function signOut() {
  const result = await api('POST', '/api/v1/auth/logout');
  if (!result.ok && result.status !== 401) return say(errorText(result, 'Sign-out failed'), 'alert');
  forgetCsrf();
  location.assign('/login');
}

export function formatTime(value) {
  if (value === undefined || value === null || value === '') return '—';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}
