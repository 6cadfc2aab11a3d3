// /device and /device?code=ABCD-EFGH: approve the device-code sign-in of a CLI on another machine.
import { api, errorText, requireSignIn, say } from '/assets/api.js';

const form = document.getElementById('approve');
const input = form.elements.userCode;
const user = await requireSignIn();
document.getElementById('question').textContent = `You are signed in as ${user.username}.`;
input.value = new URLSearchParams(location.search).get('code') ?? '';
form.hidden = false;
input.focus();

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const userCode = input.value.trim().toUpperCase();
  if (!userCode) return say('Enter the code the CLI shows.', 'alert');
  const button = form.querySelector('button');
  button.disabled = true;
  const result = await api('POST', '/api/v1/auth/device/approve', { userCode });
  button.disabled = false;
  // The server's message says what to check (mistyped or expired code).
  if (!result.ok) return say(errorText(result, 'Approval failed'), 'alert');
  form.hidden = true;
  say(`Approved. The CLI is now signed in as ${user.username}; you can close this tab.`);
});
