// The one-time token travels in the URL fragment (#token=…), which browsers never send to the server.
const form = document.getElementById('setup');
const message = document.getElementById('message');
const token = new URLSearchParams(location.hash.slice(1)).get('token') ?? '';

function say(text, role) {
  message.textContent = text;
  message.setAttribute('role', role);
}

if (!token) say('This link has no setup token. Ask your administrator for a new link.', 'alert');

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const password = form.password.value;
  if (password.length < 12) return say('The password must be at least 12 characters long.', 'alert');
  if (password !== form.confirm.value) return say('The two passwords differ.', 'alert');
  const response = await fetch('/api/v1/auth/setup', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token, password }),
  });
  const result = await response.json().catch(() => ({}));
  if (!response.ok) return say(result.error?.message ?? `Setup failed (HTTP ${response.status}).`, 'alert');
  history.replaceState(null, '', '/setup');
  form.reset();
  say(
    `Password set for ${result.user.username}. Sign in with: sesame login --url ${location.origin} --user ${result.user.username}`,
    'status',
  );
});
