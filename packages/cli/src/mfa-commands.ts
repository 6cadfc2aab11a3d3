import type { Command } from 'commander';
import { printDevices } from './admin-user-commands.ts';
import { client, enc, type Out, outputOption } from './command-kit.ts';
import { AUTHENTICATOR, retryCode, showTotpEnrolment } from './sign-in/sign-in-steps.ts';

/** `sesame mfa …`: your own MFA devices. */
export function mfaCommands(mfa: Command): void {
  mfa
    .command('list')
    .description('your MFA devices (authenticator apps and security keys)')
    .addOption(outputOption())
    .action(async (o: Out) => {
      const { devices } = await (await client()).call<{ devices: Record<string, unknown>[] }>(
        'GET',
        '/api/v1/me/mfa-devices',
      );
      printDevices(devices, o.output);
    });
  mfa
    .command('add-totp')
    .description('register another authenticator app (security keys are added in the web console)')
    .option('--name <name>', 'what to call it, e.g. "phone"')
    .action(async (o: { name?: string }) => {
      const api = await client();
      const { enrolment, secret, uri } = await api.call<{ enrolment: string; secret: string; uri: string }>(
        'POST',
        '/api/v1/me/mfa-devices/totp',
      );
      await showTotpEnrolment(secret, uri);
      // A mistyped code can be typed again on a terminal (the server counts the attempts).
      const { device } = await retryCode(AUTHENTICATOR, undefined, (code) =>
        api.call<{ device: { id: string; name: string } }>('POST', '/api/v1/me/mfa-devices/totp/confirm', {
          enrolment,
          code,
          ...(o.name ? { name: o.name } : {}),
        }),
      );
      process.stdout.write(`registered ${device.id} (${device.name})\n`);
    });
  mfa
    .command('rename')
    .argument('<device-id>')
    .argument('<name>')
    .action(async (id: string, name: string) => {
      await (await client()).call('PATCH', `/api/v1/me/mfa-devices/${enc(id)}`, { name });
    });
  mfa
    .command('remove')
    .description('remove one of your MFA devices')
    .argument('<device-id>')
    .action(async (id: string) => {
      await (await client()).call('DELETE', `/api/v1/me/mfa-devices/${enc(id)}`);
    });
}
