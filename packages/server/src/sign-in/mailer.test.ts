import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SesameError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { createMailer } from './mailer.ts';
import { type SmtpSink, startSmtpSink } from './smtp-sink.test-support.ts';

function capturedLog() {
  const lines: string[] = [];
  return {
    lines,
    log: createLogger({ level: 'debug', destination: { write: (line: string) => lines.push(line) } }),
  };
}

/** A port nothing listens on: bind one, then let it go. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}

const PASSWORD = 'hunter2-very-secret';
const CODE = '493817';

describe('mailer', () => {
  let sink: SmtpSink;
  before(async () => {
    sink = await startSmtpSink();
  });
  after(() => sink.close());

  test('delivers text and html to the SMTP server and never logs the body', async () => {
    const { lines, log } = capturedLog();
    const mailer = createMailer({
      smtp: { host: '127.0.0.1', port: sink.port, from: 'Sesame <sesame@example.test>' },
      log,
    });
    await mailer.send({
      to: 'alice@example.test',
      subject: 'Your Sesame sign-in code',
      text: `Your code is ${CODE}. It expires in 10 minutes.`,
      html: `<p>Your code is <b>${CODE}</b>.</p>`,
    });
    const message = await sink.waitForMessage((m) => m.to.includes('alice@example.test'), 5_000);
    assert.equal(message.from, 'sesame@example.test');
    assert.equal(message.subject, 'Your Sesame sign-in code');
    assert.match(message.headers.from ?? '', /Sesame <sesame@example\.test>/);
    assert.equal(message.text, `Your code is ${CODE}. It expires in 10 minutes.`);
    assert.equal(message.html, `<p>Your code is <b>${CODE}</b>.</p>`);
    const logged = lines.join('');
    assert.match(logged, /email sent/);
    assert.doesNotMatch(logged, new RegExp(CODE));
  });

  test('non-ASCII subjects and long lines survive the trip', async () => {
    const { log } = capturedLog();
    const mailer = createMailer({
      smtp: { host: '127.0.0.1', port: sink.port, from: 'sesame@example.test' },
      log,
    });
    const text = `Grüße — ${'x'.repeat(200)}`;
    await mailer.send({ to: 'zoë@example.test', subject: 'Anmeldung bestätigen ✓', text });
    const message = await sink.waitForMessage((m) => m.to.includes('zoë@example.test'));
    assert.equal(message.subject, 'Anmeldung bestätigen ✓');
    assert.equal(message.text, text);
    assert.equal(message.html, undefined);
  });

  test('authenticates with user and password when given', async () => {
    const authSink = await startSmtpSink({ auth: { user: 'mailer', password: PASSWORD } });
    try {
      const { lines, log } = capturedLog();
      const smtp = {
        host: '127.0.0.1',
        port: authSink.port,
        user: 'mailer',
        password: PASSWORD,
        from: 's@x.test',
      };
      await createMailer({ smtp, log }).send({ to: 'bob@example.test', subject: 'hi', text: 'hello' });
      const message = await authSink.waitForMessage();
      assert.equal(message.authUser, 'mailer');
      assert.doesNotMatch(lines.join(''), new RegExp(PASSWORD));
    } finally {
      await authSink.close();
    }
  });

  test('a wrong password is UNAVAILABLE and the message does not contain the password', async () => {
    const authSink = await startSmtpSink({ auth: { user: 'mailer', password: 'the-right-one' } });
    try {
      const { lines, log } = capturedLog();
      const smtp = {
        host: '127.0.0.1',
        port: authSink.port,
        user: 'mailer',
        password: PASSWORD,
        from: 's@x.test',
      };
      const error = await createMailer({ smtp, log })
        .send({ to: 'bob@example.test', subject: 'hi', text: CODE })
        .then(
          () => assert.fail('sending should have failed'),
          (e: unknown) => e,
        );
      assert.ok(error instanceof SesameError);
      assert.equal(error.code, 'UNAVAILABLE');
      assert.match(error.message, /^could not send email: /);
      assert.match(error.message, /Invalid username or password/);
      for (const text of [error.message, JSON.stringify(error), lines.join('')]) {
        assert.doesNotMatch(text, new RegExp(PASSWORD));
        assert.doesNotMatch(text, new RegExp(Buffer.from(PASSWORD).toString('base64')));
        assert.doesNotMatch(text, new RegExp(CODE));
      }
      assert.equal(authSink.messages.length, 0);
    } finally {
      await authSink.close();
    }
  });

  test('a refused connection is UNAVAILABLE with a clear message and no password', async () => {
    const { lines, log } = capturedLog();
    const port = await closedPort();
    const mailer = createMailer({
      smtp: { host: '127.0.0.1', port, user: 'mailer', password: PASSWORD, from: 'sesame@example.test' },
      log,
    });
    const error = await mailer.send({ to: 'alice@example.test', subject: 'code', text: CODE }).then(
      () => assert.fail('sending should have failed'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof SesameError);
    assert.equal(error.code, 'UNAVAILABLE');
    assert.match(error.message, /^could not send email: /);
    assert.match(error.message, /ECONNREFUSED/);
    assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.equal(error.cause, undefined, 'the raw nodemailer error is not carried along');
    for (const text of [error.message, lines.join('')]) {
      assert.doesNotMatch(text, new RegExp(PASSWORD));
      assert.doesNotMatch(text, new RegExp(CODE));
    }
    assert.match(lines.join(''), /email not sent/);
  });

  test('a mail server on another machine must offer TLS, unless plaintext is allowed', async () => {
    // The sink (no STARTTLS) reached by an address that is not spelled as this machine's.
    const host = '::ffff:127.0.0.1';
    const message = { to: 'alice@example.test', subject: 'code', text: CODE };
    const strict = createMailer({
      smtp: { host, port: sink.port, from: 'sesame@example.test' },
      log: capturedLog().log,
    });
    const error = await strict.send(message).then(
      () => assert.fail('sending without TLS should have failed'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof SesameError);
    assert.equal(error.code, 'UNAVAILABLE');
    assert.ok(
      !sink.messages.some(
        (m) => m.text.includes(CODE) && m.to.includes('alice@example.test') && m.subject === 'code',
      ),
    );
    const allowed = createMailer({
      smtp: { host, port: sink.port, from: 'sesame@example.test', plaintext: true },
      log: capturedLog().log,
    });
    await allowed.send(message);
    await sink.waitForMessage((m) => m.subject === 'code');
  });
});
