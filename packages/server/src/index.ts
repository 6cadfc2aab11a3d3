export { DEFAULT_CONFIG, loadConfig, type ServerConfig } from './config.ts';
export { type ErrorCode, httpStatus, SesameError } from './errors.ts';
export { createLogger, type Logger } from './log.ts';
export { createServer, type SesameServer, SYSTEM_PRINCIPAL } from './main.ts';
export { parseAsciicast } from './recording/index.ts';
export { stopOnSignals } from './stop-signals.ts';
