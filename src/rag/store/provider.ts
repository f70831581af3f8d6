// The store provider a config names: `store: { provider: "lancedb", path? }` or
// `store: { provider: "postgres", url }` in infuse.config.json (or `--store` on the command line),
// LanceDB in `<dataDir>/collections` when the section is absent.
import { STORE_PROVIDERS, type ResolvedConfig } from "../../core/config.js";
import { InfuseError } from "../../core/errors.js";
import type { AnnSettings } from "./lance-index.js";
import { LanceDbStoreProvider } from "./lancedb-provider.js";
import { PostgresStoreProvider } from "./postgres/provider.js";
import type { StoreProvider } from "./types.js";

export function storeProvider(config: Pick<ResolvedConfig, "dataDir" | "store">): StoreProvider {
  const store = config.store ?? { provider: "lancedb" };
  switch (store.provider) {
    case "lancedb":
      return new LanceDbStoreProvider(config.dataDir, {
        ...(store.path !== undefined ? { path: store.path } : {}),
        ...(store.ann !== undefined ? { ann: withoutUndefined(store.ann) as Partial<AnnSettings> } : {}),
      });
    case "postgres":
      return new PostgresStoreProvider(store.url);
    default:
      throw new InfuseError(
        "config.store_provider",
        `unknown store provider "${String((store as { provider: unknown }).provider)}"`,
        {
          kind: "usage",
          hint: `set "store.provider" in infuse.config.json to one of: ${STORE_PROVIDERS.join(", ")}`,
          details: { known: [...STORE_PROVIDERS] },
        },
      );
  }
}

function withoutUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
