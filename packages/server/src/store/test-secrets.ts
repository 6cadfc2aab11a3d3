// Test support: the secrets key of stores opened by tests (fixed, so a store reopened by another process opens
// them), and a store opened on a server's data directory the way the server opens it.
import { join } from 'node:path';
import { loadSecretsKey } from '../secrets-key.ts';
import { openStore } from './open-store.ts';
import { createSecretBox } from './secret-box.ts';
import type { Store } from './types.ts';

export const TEST_SECRETS_KEY = Buffer.alloc(32, 7);
export const TEST_SECRETS = createSecretBox(TEST_SECRETS_KEY);

/** The SQLite store in a server's data directory, with that directory's secrets key (made if missing). */
export async function openDataDirectoryStore(dataDir: string): Promise<Store> {
  const { box } = await loadSecretsKey({ configured: undefined, dataDir, create: true });
  return openStore({ secrets: box, sqlitePath: join(dataDir, 'sesame.db') });
}
