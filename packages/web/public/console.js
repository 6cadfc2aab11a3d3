// /console/ and /console/connect?target=<instance>: a minimal landing, and a shell in the browser on the target
// (with the `sesame ssh` command as a fallback) until the full console arrives.
import { el, requireSignIn, say } from '/assets/api.js';

const user = await requireSignIn();
document
  .getElementById('whoami')
  .replaceChildren(
    'Signed in as ',
    el('strong', {}, user.username),
    '. ',
    el('a', { href: '/account' }, 'Your account'),
  );

const target = new URLSearchParams(location.search).get('target');
// Instance ids (i-…, mi-…) and names; anything else could smuggle shell syntax into the command to copy.
const INSTANCE = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
if (location.pathname === '/console/connect' && target && !INSTANCE.test(target)) {
  say(
    'That link does not name a valid instance (expected an id like i-0123456789abcdef0 or a name).',
    'alert',
  );
} else if (location.pathname === '/console/connect' && target) {
  // Text only: the target comes from a link anyone can craft.
  const command = `sesame ssh ${target}`;
  document.getElementById('target').textContent = target;
  document.getElementById('command').textContent = command;
  document.getElementById('connect').hidden = false;
  document.getElementById('landing').hidden = true;
  document.getElementById('copy').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(command);
      say('Command copied.');
    } catch {
      const selection = getSelection();
      selection.selectAllChildren(document.getElementById('command'));
      say('Copying is not allowed here; the command is selected, press Ctrl+C (or ⌘C).');
    }
  });
  // A link anyone can send must not open a shell by itself (the cookie rides along on a top-level visit from
  // another site): the session starts only when the person asks for it here.
  const start = document.getElementById('start');
  // Once a session is over, or could not start, the same button starts another in a fresh terminal.
  const again = () => {
    start.textContent = 'Start a new session';
    start.hidden = false;
  };
  start.addEventListener('click', async () => {
    start.hidden = true;
    document.getElementById('start-note').hidden = true;
    say(`Connecting to ${target}…`);
    const container = document.getElementById('terminal');
    container.replaceChildren();
    try {
      const { openShell } = await import('/assets/shell.js');
      await openShell(container, target, say, again);
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      say(`${text.charAt(0).toUpperCase()}${text.slice(1)}`, 'alert');
      again();
    }
  });
  // Not focused on arrival: keys held down on the page that opened this one would press it.
} else if (location.pathname === '/console/connect') {
  say('No instance was given. Links to an instance look like /console/connect?target=i-…', 'alert');
}
