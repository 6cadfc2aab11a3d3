// The persistence layer: one Store over SQLite (embedded default) or PostgreSQL (scale-out).
export type { StoreConfig } from './open-store.ts';
export { openStore } from './open-store.ts';
export { isPostgresUrl } from './postgres-connection.ts';
export type { ForgetRequest, Forgotten, Rotated, RotateRequest, SealedAtOpen } from './sealed-columns.ts';
export { SecretsKeyMismatchError } from './sealed-columns.ts';
export type { SecretBox } from './secret-box.ts';
export { createSecretBox, isSealed, SecretBoxError } from './secret-box.ts';
export type { StoreQueryEvent, StoreQueryListener } from './store-connection.ts';
export type { StoreErrorCode } from './store-error.ts';
export { SesameStoreError, STORE_ERROR_CODES } from './store-error.ts';
export type {
  AccessSnapshot,
  Activation,
  ApiToken,
  Assignment,
  AssignmentFilter,
  AuditEvent,
  AuditFilter,
  AuditOutcome,
  AuthFlow,
  Group,
  GroupPatch,
  IdentityProviderKind,
  IdentityProviderRecord,
  Instance,
  InstanceKind,
  InstanceStatus,
  Inventory,
  ManagedPolicy,
  ManagedPolicyPatch,
  MfaDevice,
  MfaDeviceKind,
  NewSetupToken,
  NewUser,
  PermissionSet,
  PermissionSetPatch,
  PrincipalType,
  SessionFilter,
  SessionPatch,
  SessionRecord,
  SessionState,
  SignInClient,
  SignInSession,
  Store,
  StoreDialect,
  Tags,
  Throttle,
  User,
} from './types.ts';
