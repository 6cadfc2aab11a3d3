// What follows a password (or an SSO landing, or a setup link): the answer is signed-in, mfa-required or
// enrol-required (API.md, "The sign-in result"). Each step renders into `container` and loops back here.
// Every step that can finish the sign-in says `client: 'web'`, so the answer is a cookie, not a token.
import { api, el, errorText, rememberCsrf, safePath, say, showStep } from '/assets/api.js';
import { ceremonyError, codeField, onSubmit, totpEnrolment, webauthnEnrolment } from '/assets/mfa-forms.js';

/** Handles one sign-in result. `next` is where the person wanted to go (untrusted: checked before use). */
export function continueSignIn(result, { container, next }) {
  const options = { container, next };
  if (result.status === 'signed-in') {
    rememberCsrf(result.csrfToken);
    say('Signed in. Opening the console…');
    location.assign(safePath(result.redirect) ?? safePath(next) ?? '/console/');
    return;
  }
  if (result.status === 'mfa-required') return showStep(container, mfaPrompt(result, options));
  if (result.status === 'enrol-required') return showStep(container, enrolChoice(result, options));
  say('The server answered in a way this page does not understand. Reload and try again.', 'alert');
}

function startOver(next) {
  const href = safePath(next) ? `/login?next=${encodeURIComponent(next)}` : '/login';
  return el('p', {}, el('a', { href }, 'Start over'));
}

async function step(path, body, options) {
  const result = await api('POST', path, body);
  if (!result.ok) return say(errorText(result, 'That did not work'), 'alert');
  say('');
  continueSignIn(result.data, options);
}

function mfaPrompt({ flow, methods = [], emailSentTo }, options) {
  const section = el(
    'section',
    { 'aria-labelledby': 'mfa-heading' },
    el('h2', { id: 'mfa-heading' }, 'Confirm it is you'),
  );
  const mfa = (body) => step('/api/v1/auth/mfa', { flow, client: 'web', ...body }, options);
  if (methods.includes('totp')) {
    const form = el(
      'form',
      { novalidate: true, 'aria-label': 'Authenticator app code' },
      ...codeField('Code from your authenticator app'),
      el('button', { type: 'submit' }, 'Verify'),
    );
    section.append(
      onSubmit(form, () => mfa({ method: 'totp', code: form.elements.code.value.replace(/\s/g, '') })),
    );
  }
  if (methods.includes('webauthn')) {
    const button = el('button', { type: 'button' }, 'Use security key or passkey');
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        const begun = await api('POST', '/api/v1/auth/mfa/webauthn-options', { flow });
        if (!begun.ok) return say(errorText(begun, 'Cannot start the security key check'), 'alert');
        say('Touch your security key, or confirm in the passkey prompt.');
        let response;
        try {
          const { startAuthentication } = await import('/assets/webauthn.js');
          response = await startAuthentication({ optionsJSON: begun.data.options });
        } catch (error) {
          return say(ceremonyError(error), 'alert');
        }
        await mfa({ method: 'webauthn', response });
      } finally {
        button.disabled = false;
      }
    });
    section.append(el('p', {}, button));
  }
  if (methods.includes('email')) section.append(emailCode(flow, emailSentTo, mfa));
  section.append(startOver(options.next));
  return section;
}

function emailCode(flow, emailSentTo, mfa) {
  const note = el('p', {}, emailSentTo ? `We emailed a code to ${emailSentTo}.` : '');
  const form = el(
    'form',
    { novalidate: true, 'aria-label': 'Email code', hidden: !emailSentTo },
    ...codeField('Code from the email'),
    el('button', { type: 'submit' }, 'Verify email code'),
  );
  onSubmit(form, () => mfa({ method: 'email', code: form.elements.code.value.replace(/\s/g, '') }));
  const send = el('button', { type: 'button' }, emailSentTo ? 'Send another code' : 'Email me a code');
  send.addEventListener('click', async () => {
    send.disabled = true;
    const result = await api('POST', '/api/v1/auth/mfa/email', { flow });
    send.disabled = false;
    if (!result.ok) return say(errorText(result, 'Cannot send the email'), 'alert');
    note.textContent = `We emailed a code to ${result.data.emailSentTo}.`;
    say(note.textContent);
    send.textContent = 'Send another code';
    form.hidden = false;
    form.elements.code.focus();
  });
  return el('div', {}, note, el('p', {}, send), form);
}

function enrolChoice({ flow, methods = [] }, options) {
  const section = el(
    'section',
    { 'aria-labelledby': 'enrol-heading' },
    el('h2', { id: 'enrol-heading' }, 'Set up two-step verification'),
    el('p', {}, 'Your account needs a second step at sign-in. Choose how you want to confirm it is you:'),
  );
  const done = (result) => continueSignIn(result, options);
  const choices = el('ul');
  if (methods.includes('totp')) {
    const button = el('button', { type: 'button' }, 'Authenticator app (scan a QR code)');
    button.addEventListener('click', async () => {
      const form = await totpEnrolment({
        start: () => api('POST', '/api/v1/auth/enrol/totp', { flow }),
        confirm: (code, name) =>
          api('POST', '/api/v1/auth/enrol/totp/confirm', {
            flow,
            client: 'web',
            code,
            ...(name ? { name } : {}),
          }),
        done,
      });
      if (form) showStep(options.container, el('div', {}, form, startOver(options.next)));
    });
    choices.append(el('li', {}, button));
  }
  if (methods.includes('webauthn')) {
    const button = el('button', { type: 'button' }, 'Security key or passkey');
    button.addEventListener('click', () => {
      const form = webauthnEnrolment({
        begin: () => api('POST', '/api/v1/auth/enrol/webauthn-options', { flow }),
        finish: (response, name) =>
          api('POST', '/api/v1/auth/enrol/webauthn', {
            flow,
            client: 'web',
            response,
            ...(name ? { name } : {}),
          }),
        done,
      });
      showStep(options.container, el('div', {}, form, startOver(options.next)));
    });
    choices.append(el('li', {}, button));
  }
  if (!choices.children.length)
    choices.append(el('li', {}, 'No method is enabled for you yet. Ask your Sesame administrator.'));
  section.append(choices, startOver(options.next));
  return section;
}
