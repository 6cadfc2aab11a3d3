export { ApiClient } from './api.ts';
export { CliError, ExitCodes } from './errors.ts';
export { startSession } from './shell-client.ts';
