// /device and /device?code=ABCD-EFGH: approve the device-code sign-in of a CLI on another machine. Two steps:
// the code, then where and when that sign-in was started, confirmed by hand (a code can be sent by someone
// else: the device authorization grant's phishing risk, RFC 8628 §5.4).
import { api, errorText, formatTime, requireSignIn, say } from '/assets/api.js';

const lookup = document.getElementById('lookup');
const approve = document.getElementById('approve');
const input = lookup.elements.userCode;
const mine = document.getElementById('mine');
const approveButton = approve.querySelector('button[type="submit"]');
const user = await requireSignIn();
document.getElementById('question').textContent = `You are signed in as ${user.username}.`;
input.value = new URLSearchParams(location.search).get('code') ?? '';
lookup.hidden = false;
let userCode = '';

lookup.addEventListener('submit', async (event) => {
  event.preventDefault();
  userCode = input.value.trim().toUpperCase();
  if (!userCode) return say('Enter the code the CLI shows.', 'alert');
  const result = await api('POST', '/api/v1/auth/device/check', { userCode });
  // The server's message says what to check (mistyped or expired code).
  if (!result.ok) return say(errorText(result, 'Cannot find that sign-in'), 'alert');
  const { requestedFrom, requestedAt } = result.data;
  const minutes = Math.max(0, Math.round((Date.now() - requestedAt) / 60_000));
  document.getElementById('origin').textContent =
    `The CLI sign-in ${userCode} was started from ${requestedFrom ?? 'an unknown address'}, ` +
    `${minutes === 0 ? 'less than a minute' : `${minutes} minute${minutes === 1 ? '' : 's'}`} ago (${formatTime(requestedAt)}).`;
  say('');
  lookup.hidden = true;
  mine.checked = false;
  approveButton.disabled = true;
  approve.hidden = false;
});

mine.addEventListener('change', () => {
  approveButton.disabled = !mine.checked;
});

document.getElementById('cancel').addEventListener('click', () => {
  approve.hidden = true;
  lookup.hidden = false;
});

approve.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (!mine.checked) return;
  approveButton.disabled = true;
  const result = await api('POST', '/api/v1/auth/device/approve', { userCode });
  approveButton.disabled = false;
  if (!result.ok) return say(errorText(result, 'Approval failed'), 'alert');
  approve.hidden = true;
  say(`Approved. The CLI is now signed in as ${user.username}; you can close this tab.`);
});
