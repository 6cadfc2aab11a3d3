// /cli-login?port=…&state=…&code_challenge=…[&provider=…]: the loopback sign-in of `sesame login` (RFC 8252).
// The signed-in person confirms; the server issues a one-time code and builds the callback address.
import { api, errorText, here, requireSignIn, say } from '/assets/api.js';

const query = new URLSearchParams(location.search);
const port = Number(query.get('port'));
const state = query.get('state') ?? '';
const codeChallenge = query.get('code_challenge') ?? '';
const provider = query.get('provider');
const form = document.getElementById('authorize');

/** Only the loopback callback the CLI listens on, never a page elsewhere. */
function isLoopbackCallback(value) {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' && url.hostname === '127.0.0.1' && url.port === String(port);
  } catch {
    return false;
  }
}

async function signedInUser() {
  // `sesame login --sso <provider>`: straight to that identity provider when nobody is signed in yet.
  if (provider) {
    const probe = await api('GET', '/api/v1/me');
    if (probe.ok) return probe.data.user;
    if (probe.status === 401) {
      const start = new URLSearchParams({ client: 'web', next: here() });
      location.assign(`/sso/${encodeURIComponent(provider)}/start?${start}`);
      return new Promise(() => {});
    }
  }
  return requireSignIn();
}

function setBusy(busy) {
  for (const button of form.querySelectorAll('button')) button.disabled = busy;
}

if (!Number.isInteger(port) || port < 1 || port > 65535 || !state || !codeChallenge) {
  say('This sign-in link is incomplete. Run `sesame login` again and use the link it opens.', 'alert');
} else {
  const user = await signedInUser();
  document.getElementById('question').textContent =
    `Sign in the Sesame CLI on this computer as ${user.username}? It is waiting on port ${port}.`;
  form.hidden = false;
  // Not focused: keys held down on the page that opened this one must not press Allow.
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    setBusy(true);
    const result = await api('POST', '/api/v1/auth/cli/authorize', { port, state, codeChallenge });
    if (!result.ok || !isLoopbackCallback(result.data.redirect)) {
      setBusy(false);
      return say(errorText(result, 'The CLI could not be signed in'), 'alert');
    }
    say('Allowed. Handing over to the CLI…');
    location.assign(result.data.redirect);
  });
  document.getElementById('deny').addEventListener('click', () => {
    setBusy(true);
    say('Denied. The CLI was not signed in.');
    // Tell the waiting CLI (its loopback accepts an `error` with its own state), so it stops waiting.
    const callback = new URL(`http://127.0.0.1:${port}/callback`);
    callback.search = new URLSearchParams({
      error: 'access_denied',
      error_description: 'denied in the browser',
      state,
    }).toString();
    location.assign(callback.href);
  });
}
