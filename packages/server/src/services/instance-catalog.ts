import { type RequestContext, resourceContext } from '@sesame/policy';
import { type ArnSettings, instanceArn, SHELL_DOCUMENT } from '../arn.ts';
import type { Instance, Store } from '../store/index.ts';

export type CatalogEntry = { instance: Instance; arn: string; context: RequestContext };

/** An instance's side of a policy decision: its tags (aws:ResourceTag/…, alias ssm:resourceTag/…) and the shell document. */
export function instanceContext(tags: Instance['tags']): RequestContext {
  return resourceContext(tags, { sessionDocumentName: SHELL_DOCUMENT });
}

type Deps = { store: Pick<Store, 'listInstances' | 'getInstance'>; arn: ArnSettings };

const byNameThenId = (a: CatalogEntry, b: CatalogEntry) =>
  a.instance.name < b.instance.name
    ? -1
    : a.instance.name > b.instance.name
      ? 1
      : a.instance.id < b.instance.id
        ? -1
        : a.instance.id > b.instance.id
          ? 1
          : 0;

/**
 * Every registered instance in memory, with its ARN and its policy context (its tags) built once, so that
 * listing what a user may reach costs only the policy decisions, not a database read of every instance and
 * tag. Loaded on first use; each write to an instance (registration, tags, inventory, deletion) refreshes
 * that one entry from the store.
 */
export function createInstanceCatalog({ store, arn }: Deps) {
  let entries: Map<string, CatalogEntry> | undefined;
  let loading: Promise<Map<string, CatalogEntry>> | undefined;
  let sorted: CatalogEntry[] | undefined;
  /** Refreshes started per id that have not finished yet, counted (see refresh). */
  const started = new Map<string, number>();

  const entry = (instance: Instance): CatalogEntry => ({
    instance,
    arn: instanceArn(arn, instance),
    context: instanceContext(instance.tags),
  });

  async function load(): Promise<Map<string, CatalogEntry>> {
    if (entries) return entries;
    loading ??= store.listInstances().then(
      (all) => {
        entries = new Map(all.map((i) => [i.id, entry(i)]));
        return entries;
      },
      (error: unknown) => {
        loading = undefined; // the next call tries again
        throw error;
      },
    );
    return loading;
  }

  return {
    /** All instances, ordered by name then id. */
    async all(): Promise<readonly CatalogEntry[]> {
      const map = await load();
      sorted ??= [...map.values()].sort(byNameThenId);
      return sorted;
    },

    /** Re-reads one instance after a write (or forgets it when it is gone). */
    async refresh(id: string): Promise<void> {
      // Not loaded and not loading: the first load will read it. Loading: the load may have read the store
      // before this write, so refresh after it.
      if (!entries && !loading) return;
      if (!entries) await loading?.catch(() => undefined);
      if (!entries) return;
      // Reads may finish out of order (PostgreSQL's pool): only the newest refresh of an id is applied, since it
      // started after every write that asked for the earlier ones.
      const mine = (started.get(id) ?? 0) + 1;
      started.set(id, mine);
      const instance = await store.getInstance(id);
      if (started.get(id) !== mine) return;
      started.delete(id);
      if (instance) entries.set(id, entry(instance));
      else entries.delete(id);
      sorted = undefined;
    },
  };
}

export type InstanceCatalog = ReturnType<typeof createInstanceCatalog>;
