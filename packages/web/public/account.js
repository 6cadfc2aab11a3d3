// /account: who I am, my second-factor devices (add, rename, remove) and my sign-in sessions (revoke).
import { api, el, errorText, formatTime, requireSignIn, say, showStep, signOut } from '/assets/api.js';
import { totpEnrolment, webauthnEnrolment } from '/assets/mfa-forms.js';

const KINDS = { totp: 'Authenticator app', webauthn: 'Security key or passkey' };
const enrolArea = document.getElementById('enrol');

function listText(values) {
  if (!values || values.length === 0) return 'none';
  return values.map((value) => (typeof value === 'string' ? value : (value.name ?? value.id))).join(', ');
}

function tagsText(tags) {
  const entries = Object.entries(tags ?? {});
  if (entries.length === 0) return 'none';
  return entries.map(([key, value]) => `${key}=${Array.isArray(value) ? value.join('|') : value}`).join(', ');
}

function showUser(user) {
  const signIn = user.signIn ?? {};
  const mfa = signIn.mfa ?? {};
  const how = [signIn.method, signIn.provider].filter(Boolean).join(' via ') || 'unknown';
  const rows = [
    ['User name', user.username],
    ['Email', user.email ?? 'none'],
    ['Groups', listText(user.groups)],
    ['Tags', tagsText(user.tags)],
    ['Permission sets', listText(user.permissionSets)],
    ['Signed in with', how],
    ['Sign-in ends', formatTime(signIn.expiresAt)],
    [
      'Second step',
      mfa.present
        ? `done with ${mfa.method ?? 'a device'} at ${formatTime(mfa.authenticatedAt)}`
        : 'not used',
    ],
  ];
  document
    .getElementById('whoami')
    .replaceChildren(...rows.flatMap(([term, value]) => [el('dt', {}, term), el('dd', {}, String(value))]));
}

function renameForm(device, cell) {
  const id = `rename-${device.id}`;
  const form = el(
    'form',
    { novalidate: true },
    el('label', { for: id }, `New name for ${device.name}`),
    el('input', {
      id,
      name: 'deviceName',
      type: 'text',
      value: device.name,
      maxlength: '64',
      required: true,
    }),
    el('button', { type: 'submit' }, 'Save'),
    el('button', { type: 'button', onclick: () => loadDevices() }, 'Cancel'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const name = form.elements.deviceName.value.trim();
    if (!name) return say('Enter a name.', 'alert');
    const result = await api('PATCH', `/api/v1/me/mfa-devices/${encodeURIComponent(device.id)}`, { name });
    if (!result.ok) return say(errorText(result, 'Renaming failed'), 'alert');
    say(`Renamed to ${name}.`);
    await loadDevices();
  });
  cell.replaceChildren(form);
  form.elements.deviceName.focus();
}

async function removeDevice(device, last) {
  const warning = last
    ? `Remove ${device.name}, your only second factor? Your next sign-in will ask you to set up a new one, and anyone who knows your password could set up theirs. Add another device first to avoid that.`
    : `Remove ${device.name}? You can no longer sign in with it.`;
  if (!window.confirm(warning)) return;
  const result = await api('DELETE', `/api/v1/me/mfa-devices/${encodeURIComponent(device.id)}`);
  if (!result.ok) return say(errorText(result, 'Removing failed'), 'alert');
  say(`Removed ${device.name}.`);
  await loadDevices();
}

async function loadDevices() {
  const result = await api('GET', '/api/v1/me/mfa-devices');
  if (!result.ok) return say(errorText(result, 'Cannot list your devices'), 'alert');
  const body = document.querySelector('#devices tbody');
  const devices = (result.data.devices ?? []).map((device) => ({
    ...device,
    name: device.name || KINDS[device.kind] || device.kind,
  }));
  body.replaceChildren(
    ...devices.map((device) => {
      const nameCell = el('td', {}, device.name);
      const actions = el(
        'td',
        {},
        el(
          'button',
          { type: 'button', onclick: () => renameForm(device, nameCell) },
          `Rename ${device.name}`,
        ),
        ' ',
        el(
          'button',
          { type: 'button', onclick: () => removeDevice(device, devices.length === 1) },
          `Remove ${device.name}`,
        ),
      );
      return el(
        'tr',
        { 'data-device': device.id },
        nameCell,
        el('td', {}, KINDS[device.kind] ?? device.kind),
        el('td', {}, formatTime(device.createdAt)),
        el('td', {}, formatTime(device.lastUsedAt)),
        actions,
      );
    }),
  );
  if (devices.length === 0) body.append(el('tr', {}, el('td', { colspan: '5' }, 'No devices yet.')));
}

async function revoke(session) {
  const result = await api('DELETE', `/api/v1/me/sign-ins/${encodeURIComponent(session.id)}`);
  if (!result.ok) return say(errorText(result, 'Revoking failed'), 'alert');
  if (session.current) return location.assign('/login');
  say('Signed out that session.');
  await loadSessions();
}

async function loadSessions() {
  const result = await api('GET', '/api/v1/me/sign-ins');
  if (!result.ok) return say(errorText(result, 'Cannot list your sign-ins'), 'alert');
  const body = document.querySelector('#sessions tbody');
  body.replaceChildren(
    ...(result.data.sessions ?? []).map((session) => {
      const how = [session.method, session.provider, session.client].filter(Boolean).join(', ');
      const label = session.current
        ? 'Sign out this browser'
        : `Revoke sign-in from ${formatTime(session.createdAt)}`;
      return el(
        'tr',
        {},
        el('td', {}, formatTime(session.createdAt), session.current ? ' (this browser)' : ''),
        el('td', {}, how),
        el('td', {}, session.sourceAddress ?? '—'),
        el('td', {}, formatTime(session.expiresAt)),
        el('td', {}, el('button', { type: 'button', onclick: () => revoke(session) }, label)),
      );
    }),
  );
}

async function added(result) {
  enrolArea.replaceChildren();
  say(`Added ${result.device?.name ?? 'the device'}.`);
  await loadDevices();
}

document.getElementById('add-totp').addEventListener('click', async () => {
  const section = await totpEnrolment({
    start: () => api('POST', '/api/v1/me/mfa-devices/totp'),
    confirm: (code, name, started) =>
      api('POST', '/api/v1/me/mfa-devices/totp/confirm', {
        enrolment: started.enrolment,
        code,
        ...(name ? { name } : {}),
      }),
    done: added,
  });
  if (section) showStep(enrolArea, section);
});

document.getElementById('add-webauthn').addEventListener('click', () => {
  const section = webauthnEnrolment({
    begin: () => api('POST', '/api/v1/me/mfa-devices/webauthn-options'),
    finish: (response, name, begun) =>
      api('POST', '/api/v1/me/mfa-devices/webauthn', {
        enrolment: begun.enrolment,
        response,
        ...(name ? { name } : {}),
      }),
    done: added,
  });
  showStep(enrolArea, section);
});

document.getElementById('sign-out').addEventListener('click', signOut);

const user = await requireSignIn();
showUser(user);
await Promise.all([loadDevices(), loadSessions()]);
