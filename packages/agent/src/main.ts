import { Command } from 'commander';
import { agentCommands } from './commands.ts';

const program = new Command('sesame-agent')
  .description('Sesame agent: dials out to the Sesame server and serves shells; listens on no port')
  .showHelpAfterError();
agentCommands(program);
program.parseAsync().catch((error: Error) => {
  process.stderr.write(`sesame-agent: ${error.message}\n`);
  process.exit(1);
});
