// /login: user name and password (or an SSO provider), then whatever the sign-in result asks for.
// `/login#flow=…&status=mfa-required&methods=…` is where SSO lands when Sesame's own MFA comes on top, and
// `/login#sso-error` where it lands when it failed (the message in a cookie the server set, not the address).
import { api, el, errorText, safePath, say } from '/assets/api.js';
import { continueSignIn } from '/assets/sign-in-flow.js';

const container = document.getElementById('step');
const form = document.getElementById('login');
const requested = new URLSearchParams(location.search).get('next');
const next = safePath(requested) ?? undefined;

// Why single sign-on failed, by the server's error code. Only these texts are ever shown: the server puts a
// code in the cookie, and its own words only for FORBIDDEN (Sesame refusing an account the IdP vouched for).
const SSO_FAILURES = {
  FORBIDDEN: 'Sesame does not let this account sign in',
  UNAUTHENTICATED:
    "the identity provider's answer was not accepted. Start the sign-in again; if it keeps failing, an administrator can see why in the server log",
  NOT_FOUND: 'that sign-in provider is not enabled here',
  UNAVAILABLE: 'the identity provider could not be reached. Try again later',
  RATE_LIMITED: 'too many sign-ins were started from here. Wait a minute and try again',
};
const SSO_FAILED_OTHERWISE = 'something went wrong. An administrator can see why in the server log';

/** The value of the cookie `name`, which is deleted (with `attributes` as it was set), or null. */
function takeCookie(name, attributes) {
  const prefix = `${name}=`;
  const cookie = document.cookie.split('; ').find((c) => c.startsWith(prefix));
  if (!cookie) return null;
  // biome-ignore lint/suspicious/noDocumentCookie: one fixed deletion; the Cookie Store API is not in every browser.
  document.cookie = `${name}=; Max-Age=0; SameSite=Lax${attributes}`;
  return cookie.slice(prefix.length);
}

/** The server's word on a failed single sign-on: a cookie it set on the redirect here, shown once. */
function takeSsoError() {
  // Over https the server names it __Host- (path /), which a sibling subdomain cannot plant, when it knows its
  // public address is https. Behind a TLS proxy without publicUrl it sets the plain name: that one is still read,
  // but only its code, told in this page's words (a sibling subdomain could have planted its text).
  const secure = location.protocol === 'https:';
  const hostOnly = secure ? takeCookie('__Host-sesame_sso_error', '; Path=/; Secure') : null;
  const raw = hostOnly ?? takeCookie('sesame_sso_error', '; Path=/login');
  if (raw === null) return null;
  let value;
  try {
    value = decodeURIComponent(raw);
  } catch {
    return SSO_FAILED_OTHERWISE;
  }
  const [code, ...rest] = value.split(':');
  if (code === 'FORBIDDEN' && rest.length > 0 && (hostOnly !== null || !secure)) return rest.join(':');
  return Object.hasOwn(SSO_FAILURES, code) ? SSO_FAILURES[code] : SSO_FAILED_OTHERWISE;
}

function resumeFromFragment() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const flow = fragment.get('flow');
  if (location.hash === '#sso-error') {
    history.replaceState(null, '', `${location.pathname}${location.search}`);
    const error = takeSsoError();
    if (error) say(`Single sign-on did not sign you in: ${error}`, 'alert');
  }
  if (!flow) return false;
  // The flow is a one-use secret: keep it out of the history and of anything that copies the address.
  history.replaceState(null, '', `${location.pathname}${location.search}`);
  const status = fragment.get('status') ?? 'mfa-required';
  const methods = (fragment.get('methods') ?? '').split(',').filter(Boolean);
  continueSignIn({ status, flow, methods }, { container, next });
  return true;
}

async function showProviders() {
  const result = await api('GET', '/api/v1/auth/options');
  if (!result.ok) return;
  const { providers = [], passwordSignIn = true } = result.data;
  if (!passwordSignIn) form.hidden = true;
  const list = document.getElementById('sso-providers');
  for (const provider of providers) {
    const query = new URLSearchParams({ client: 'web', ...(next ? { next } : {}) });
    const href = `/sso/${encodeURIComponent(provider.id)}/start?${query}`;
    list.append(el('li', {}, el('a', { href }, `Sign in with ${provider.name}`)));
  }
  document.getElementById('sso').hidden = providers.length === 0;
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const username = form.elements.username.value.trim();
  const password = form.elements.password.value;
  if (!username || !password) return say('Enter your user name and your password.', 'alert');
  const button = form.querySelector('button');
  button.disabled = true;
  say('Signing in…');
  const result = await api('POST', '/api/v1/auth/login', {
    username,
    password,
    client: 'web',
    ...(next ? { next } : {}),
  });
  button.disabled = false;
  if (!result.ok) {
    form.elements.password.value = '';
    form.elements.password.focus();
    return say(errorText(result, 'Sign-in failed'), 'alert');
  }
  say('');
  continueSignIn(result.data, { container, next });
});

if (requested && !next)
  say('The link asked to continue to another site; you will go to the console instead.');
// A link to /login#flow=… followed from /login itself changes only the fragment: no new page load.
window.addEventListener('hashchange', resumeFromFragment);
if (!resumeFromFragment()) {
  showProviders();
  form.elements.username.focus();
}
