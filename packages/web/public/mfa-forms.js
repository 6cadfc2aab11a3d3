// The forms that add a second factor, shared by sign-in enrolment and the account page: an authenticator
// app (QR code + code) and a security key or passkey (WebAuthn registration). The caller supplies the calls.
import { el, errorText, say } from '/assets/api.js';
import { qrImage } from '/assets/qr.js';

let fieldCount = 0;
/** A labelled input; ids stay unique when a form is shown twice. */
function field(label, attributes) {
  const id = `${attributes.name}-${++fieldCount}`;
  return [el('label', { for: id }, label), el('input', { id, ...attributes })];
}

export function codeField(label) {
  return field(label, {
    name: 'code',
    type: 'text',
    inputmode: 'numeric',
    autocomplete: 'one-time-code',
    pattern: '[0-9]{6}',
    maxlength: '6',
    required: true,
  });
}

/** Runs a form's submit handler with the button disabled, so a double click sends one request. */
export function onSubmit(form, handler) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const buttons = form.querySelectorAll('button');
    for (const button of buttons) button.disabled = true;
    try {
      await handler(form);
    } finally {
      for (const button of buttons) button.disabled = false;
    }
  });
  return form;
}

/** Why a WebAuthn ceremony in the browser failed, in words. */
export function ceremonyError(error) {
  if (error?.name === 'NotAllowedError' || error?.name === 'AbortError')
    return 'The security key request was cancelled or timed out. Try again, or use another method.';
  if (error?.name === 'InvalidStateError') return 'This security key is already registered.';
  // Browsers refuse security keys on a page opened by address (http://127.0.0.1:8080/…).
  if (error?.name === 'SecurityError' || /invalid domain/i.test(String(error?.message)))
    return `Security keys and passkeys need this page opened by the server's name, not an address: open ${location.protocol}//localhost${location.port ? `:${location.port}` : ''}/ on this machine, or ask your administrator to set the server's public URL to a name.`;
  return `The browser could not use a security key: ${error?.message ?? error}`;
}

/**
 * Authenticator app enrolment. `start()` answers `{ secret, uri, qrSvg, … }`, `confirm(code, name, started)`
 * answers the final result, handed to `done`. Resolves to the section, or null when start failed.
 */
export async function totpEnrolment({ start, confirm, done }) {
  say('Preparing your authenticator app key…');
  const started = await start();
  if (!started.ok) {
    say(errorText(started, 'Cannot start the authenticator app setup'), 'alert');
    return null;
  }
  const { secret, uri, qrSvg } = started.data;
  say('');
  const form = el(
    'form',
    { novalidate: true, 'aria-label': 'Confirm the authenticator app' },
    ...codeField('6-digit code the app shows'),
    ...field('Name for this app (optional)', {
      name: 'deviceName',
      type: 'text',
      value: 'Authenticator app',
      maxlength: '64',
    }),
    el('button', { type: 'submit' }, 'Confirm'),
  );
  onSubmit(form, async () => {
    const code = form.elements.code.value.replace(/\s/g, '');
    if (!/^[0-9]{6}$/.test(code)) return say('Enter the 6 digits your authenticator app shows.', 'alert');
    const result = await confirm(code, form.elements.deviceName.value.trim(), started.data);
    if (!result.ok) return say(errorText(result, 'The code was not accepted'), 'alert');
    await done(result.data);
  });
  return el(
    'section',
    { 'aria-labelledby': 'totp-heading' },
    el('h2', { id: 'totp-heading' }, 'Add an authenticator app'),
    el('p', {}, 'Scan this QR code with an authenticator app (for example Google Authenticator, 1Password).'),
    qrImage(qrSvg, 'QR code to scan with your authenticator app'),
    el('p', {}, 'Cannot scan it? Type this key into the app instead:'),
    el('p', {}, el('code', { id: 'totp-secret' }, secret)),
    el(
      'details',
      {},
      el('summary', {}, 'Setup address (otpauth URI)'),
      el('p', {}, el('code', { id: 'totp-uri' }, uri)),
    ),
    form,
  );
}

/**
 * Security key or passkey registration. `begin()` answers `{ options, … }`, `finish(response, name, begun)`
 * the final result, handed to `done`.
 */
export function webauthnEnrolment({ begin, finish, done }) {
  const form = el(
    'form',
    { novalidate: true, 'aria-label': 'Register a security key' },
    ...field('Name for this key (optional)', {
      name: 'deviceName',
      type: 'text',
      value: 'Security key',
      maxlength: '64',
    }),
    el('button', { type: 'submit' }, 'Register security key'),
  );
  onSubmit(form, async () => {
    const begun = await begin();
    if (!begun.ok) return say(errorText(begun, 'Cannot start the security key registration'), 'alert');
    say('Touch your security key, or confirm in the passkey prompt.');
    let response;
    try {
      const { startRegistration } = await import('/assets/webauthn.js');
      response = await startRegistration({ optionsJSON: begun.data.options });
    } catch (error) {
      return say(ceremonyError(error), 'alert');
    }
    const result = await finish(response, form.elements.deviceName.value.trim(), begun.data);
    if (!result.ok) return say(errorText(result, 'The security key was not accepted'), 'alert');
    await done(result.data);
  });
  return el(
    'section',
    { 'aria-labelledby': 'webauthn-heading' },
    el('h2', { id: 'webauthn-heading' }, 'Add a security key or passkey'),
    el('p', {}, 'Use a USB or NFC security key, or a passkey stored on this device or your phone.'),
    form,
  );
}
