import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserOpener } from './browser.ts';

const url = 'https://sesame.example.com/cli-login?port=1&state=s';
const yes = () => true;

test('$BROWSER wins, with %s replaced or the URL appended', () => {
  assert.deepEqual(browserOpener({ BROWSER: 'firefox' }, 'linux', yes)?.(url), {
    command: 'firefox',
    args: [url],
  });
  assert.deepEqual(browserOpener({ BROWSER: 'chromium --new-window %s:firefox' }, 'linux', yes)?.(url), {
    command: 'chromium',
    args: ['--new-window', url],
  });
  assert.deepEqual(browserOpener({ BROWSER: 'w3m', SSH_CONNECTION: '1 2 3 4' }, 'linux', yes)?.(url), {
    command: 'w3m',
    args: [url],
  });
});

test('xdg-open on a Linux desktop, open on macOS', () => {
  assert.deepEqual(browserOpener({ DISPLAY: ':0' }, 'linux', yes)?.(url), {
    command: 'xdg-open',
    args: [url],
  });
  assert.deepEqual(browserOpener({ WAYLAND_DISPLAY: 'wayland-0' }, 'linux', yes)?.(url)?.command, 'xdg-open');
  assert.deepEqual(browserOpener({}, 'darwin', yes)?.(url), { command: 'open', args: [url] });
});

test('no browser over SSH, without a display, or without xdg-open: the device code is used instead', () => {
  assert.equal(browserOpener({ DISPLAY: ':0', SSH_CONNECTION: '1 2 3 4' }, 'linux', yes), undefined);
  assert.equal(browserOpener({ SSH_TTY: '/dev/pts/1' }, 'darwin', yes), undefined);
  assert.equal(browserOpener({}, 'linux', yes), undefined);
  assert.equal(
    browserOpener({ DISPLAY: ':0' }, 'linux', () => false),
    undefined,
  );
});
