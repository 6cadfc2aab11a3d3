import { Command, CommanderError } from 'commander';
import { registerCommands } from './commands.ts';
import { CliError, ExitCodes } from './errors.ts';

const program = new Command('sesame')
  .description('Sesame: shells on your servers without open ports; every session recorded')
  .showHelpAfterError()
  .exitOverride();
registerCommands(program);

program.parseAsync().catch((error: unknown) => {
  if (error instanceof CommanderError) {
    process.exit(error.exitCode === 0 ? 0 : ExitCodes.INVALID);
  }
  const exitCode = error instanceof CliError ? error.exitCode : ExitCodes.FAILURE;
  process.stderr.write(`sesame: ${(error as Error).message}\n`);
  process.exit(exitCode);
});
