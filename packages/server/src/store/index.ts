// The persistence layer: one Store over SQLite (embedded default) or PostgreSQL (scale-out).
export type { StoreConfig } from './open-store.ts';
export { openStore } from './open-store.ts';
export { isPostgresUrl } from './postgres-connection.ts';
export type { StoreErrorCode } from './store-error.ts';
export { SesameStoreError, STORE_ERROR_CODES } from './store-error.ts';
export type {
  Activation,
  ApiToken,
  AuditEvent,
  AuditFilter,
  AuditOutcome,
  Instance,
  InstanceKind,
  InstanceStatus,
  Inventory,
  NewSetupToken,
  NewUser,
  SessionFilter,
  SessionPatch,
  SessionRecord,
  SessionState,
  Store,
  StoreDialect,
  Tags,
  User,
} from './types.ts';
