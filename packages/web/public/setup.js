// /setup#token=… (invitation) and /reset#token=… (password reset): set a password, then continue into the
// MFA or enrolment steps like /login. The token travels in the fragment, which browsers never send.
import { api, errorText, say } from '/assets/api.js';
import { continueSignIn } from '/assets/sign-in-flow.js';

const container = document.getElementById('step');
const form = document.getElementById('setup');
const token = new URLSearchParams(location.hash.slice(1)).get('token') ?? '';
// Out of the address bar and the history: the page keeps the token in memory only.
if (token) history.replaceState(null, '', location.pathname);
// Another link pasted into this tab changes only the fragment, which loads nothing: start again with its token.
window.addEventListener('hashchange', () => {
  if (new URLSearchParams(location.hash.slice(1)).has('token')) location.reload();
});

if (!token) {
  say(
    'This link has no setup token. Ask your administrator for a new link, or ask for one at /forgot.',
    'alert',
  );
  form.hidden = true;
} else {
  form.elements.password.focus();
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const password = form.elements.password.value;
  if (password.length < 12) return say('The password must be at least 12 characters long.', 'alert');
  if (password !== form.elements.confirm.value)
    return say('The two passwords differ. Type them again.', 'alert');
  const button = form.querySelector('button');
  button.disabled = true;
  say('Setting your password…');
  const result = await api('POST', '/api/v1/auth/setup', { token, password, client: 'web' });
  button.disabled = false;
  if (!result.ok) return say(errorText(result, 'Setting the password failed'), 'alert');
  say(
    result.data.status === 'mfa-required'
      ? 'Now confirm with your second factor: the new password is set once you do.'
      : 'Password set.',
  );
  continueSignIn(result.data, { container, next: undefined });
});
