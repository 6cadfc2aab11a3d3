// /login: user name and password (or an SSO provider), then whatever the sign-in result asks for.
// `/login#flow=…&status=mfa-required&methods=…` is where SSO lands when Sesame's own MFA comes on top, and
// `/login#error=…` where it lands when it failed.
import { api, el, errorText, safePath, say } from '/assets/api.js';
import { continueSignIn } from '/assets/sign-in-flow.js';

const container = document.getElementById('step');
const form = document.getElementById('login');
const requested = new URLSearchParams(location.search).get('next');
const next = safePath(requested) ?? undefined;

function resumeFromFragment() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const flow = fragment.get('flow');
  const error = fragment.get('error');
  if (error) {
    history.replaceState(null, '', `${location.pathname}${location.search}`);
    say(`Single sign-on did not sign you in: ${error}`, 'alert');
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
