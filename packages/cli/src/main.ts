import { tuneHeap } from '@sesame/agent/heap';
import { Command, CommanderError } from 'commander';
import { registerCommands } from './commands.ts';
import { CliError, ExitCodes } from './errors.ts';
import { printable } from './output.ts';
import { relaying } from './shell-client.ts';

const program = new Command('sesame')
  .description('Sesame: shells on your servers without open ports; every session recorded')
  .showHelpAfterError()
  .exitOverride();
registerCommands(program);
// `sesame ssh` relays output floods; see tuneHeap.
tuneHeap();

// The event loop ran dry while a command was still waiting (for input that never came): say so, and fail,
// rather than exit 0 as if it had worked.
let finished = false;
process.on('beforeExit', () => {
  if (finished) return;
  finished = true;
  process.stderr.write(
    'sesame: stopped before finishing: nothing more to wait for (did standard input end early?)\n',
  );
  process.exitCode = ExitCodes.FAILURE;
});

// A reader that went (`sesame sessions | head`) ends the output, quietly, as it ends a download.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (relaying.started) return; // the session ended or ends, and says so; its exit code stands
  if (error.code !== 'EPIPE') throw error;
  finished = true;
  process.exit(ExitCodes.OK);
});

program.parseAsync().then(
  () => {
    finished = true;
  },
  (error: unknown) => {
    finished = true;
    if (error instanceof CommanderError) {
      process.exit(error.exitCode === 0 ? 0 : ExitCodes.INVALID);
    }
    const exitCode = error instanceof CliError ? error.exitCode : ExitCodes.FAILURE;
    process.stderr.write(`sesame: ${printable((error as Error).message, { message: true })}\n`);
    process.exit(exitCode);
  },
);
