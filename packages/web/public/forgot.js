// /forgot: asks for a reset link. The answer is the same whether or not the account exists.
import { api, errorText, say } from '/assets/api.js';

const form = document.getElementById('forgot');
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const username = form.elements.username.value.trim();
  if (!username) return say('Enter your user name.', 'alert');
  const button = form.querySelector('button');
  button.disabled = true;
  const result = await api('POST', '/api/v1/auth/forgot', { username });
  button.disabled = false;
  if (!result.ok) return say(errorText(result, 'The request failed'), 'alert');
  say(result.data.message ?? 'If the account exists and has an email address, a link is on its way.');
});
