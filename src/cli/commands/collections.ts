// `infuse collections [list|show NAME|compact NAME|delete NAME|repair NAME]`: the collections of the
// configured store. Listings show damaged collections apart (with why) instead of failing on them.
import { InfuseError } from "../../core/errors.js";
import {
  storeProvider,
  summarize,
  type CollectionManifest,
  type CompactReport,
  type DamagedCollection,
  type RepairReport,
  type StoreProvider,
} from "../../rag/store/index.js";
import { humanBytes } from "../output.js";
import type { RegisterCommand } from "../runtime.js";

export const registerCollections: RegisterCommand = (program, run) => {
  const collections = program
    .command("collections")
    .description("list, show or delete collections")
    .addHelpText(
      "after",
      "\nExamples:\n  infuse collections\n  infuse collections show handbook --json\n  infuse collections compact handbook\n  infuse collections delete handbook",
    )
    .action(
      run(async (rt) => {
        const provider = storeProvider(await rt.config());
        const { healthy, damaged } = await listing(provider);
        rt.out.result([...healthy, ...damaged.map(damagedEntry)], () =>
          healthy.length + damaged.length === 0
            ? `no collections in ${provider.describe()} (create one with \`infuse ingest PATH --collection NAME\`)`
            : [
                ...healthy.map(
                  (c) =>
                    `${c.name.padEnd(20)} ${String(c.chunks).padStart(7)} chunks  ${String(c.units).padStart(5)} files  ${c.embedder}  ${c.splitter}  updated ${c.updatedAt}`,
                ),
                ...damaged.map(renderDamaged),
              ].join("\n"),
        );
      }),
    );
  collections
    .command("list")
    .description("list collections (the default)")
    .action(
      run(async (rt) => {
        const { healthy, damaged } = await listing(storeProvider(await rt.config()));
        rt.out.result(
          [...healthy, ...damaged.map(damagedEntry)],
          () => [...healthy.map((c) => c.name), ...damaged.map(renderDamaged)].join("\n") || "(none)",
        );
      }),
    );
  collections
    .command("show")
    .argument("<name>", "collection name")
    .description("show a collection's settings and files")
    .action(
      run(async (rt, name: string) => {
        const m = await storeProvider(await rt.config()).requireManifest(name);
        rt.out.result(
          {
            ...summarize(m),
            fts: m.fts,
            splitterSettings: m.splitter,
            embedderSpec: m.embedder.spec,
            ...(m.embedder.endpoint ? { embedderEndpoint: m.embedder.endpoint } : {}),
            revision: m.revision,
            files: m.units,
          },
          () => renderShow(m),
        );
      }),
    );
  collections
    .command("compact")
    .argument("<name>", "collection name")
    .description("compact storage and drop old versions (after many re-ingests)")
    .action(
      run(async (rt, name: string) => {
        const report = await storeProvider(await rt.config()).compact(name);
        rt.out.result(
          report,
          (r: CompactReport) =>
            `compacted "${r.collection}": ${r.versionsRemoved} old versions and ${humanBytes(r.bytesRemoved)} removed`,
        );
      }),
    );
  collections
    .command("delete")
    .argument("<name>", "collection name")
    .description("delete a collection and its index")
    .action(
      run(async (rt, name: string) => {
        if (!name) throw new InfuseError("rag.collection_name", "name the collection to delete", { kind: "usage" });
        await storeProvider(await rt.config()).delete(name);
        rt.out.result({ deleted: name }, () => `deleted collection "${name}"`);
      }),
    );
  collections
    .command("repair")
    .argument("<name>", "collection name")
    .description("rebuild a damaged collection's manifest from what survives")
    .action(
      run(async (rt, name: string) => {
        const report = await storeProvider(await rt.config()).repair(name);
        rt.out.result(report, renderRepair);
      }),
    );
};

async function listing(provider: StoreProvider) {
  const [healthy, damaged] = await Promise.all([provider.list(), provider.damaged()]);
  return { healthy, damaged };
}

function damagedEntry(d: DamagedCollection) {
  return { name: d.name, damaged: true, error: d.error, message: d.message };
}

function renderDamaged(d: DamagedCollection): string {
  return `${d.name.padEnd(20)} DAMAGED: ${d.message}\n${" ".repeat(21)}repair it with \`infuse collections repair ${d.name}\`, or delete it with \`infuse collections delete ${d.name}\``;
}

function renderRepair(r: RepairReport): string {
  if (r.status === "healthy")
    return `collection "${r.collection}" reads fine: nothing to repair (${r.chunks} chunks, revision ${r.revision})`;
  return [
    `repaired collection "${r.collection}": ${r.chunks} chunks from ${r.units} files, revision ${r.revision}`,
    ...r.notes.map((n) => `  ${n}`),
  ].join("\n");
}

function renderShow(m: CollectionManifest): string {
  const units = Object.entries(m.units);
  return [
    `collection ${m.name}`,
    `  embedder  ${m.embedder.id} (${m.embedder.dimension} dims; spec "${m.embedder.spec}"${m.embedder.endpoint?.baseUrl ? ` at ${m.embedder.endpoint.baseUrl}` : ""})`,
    `  splitter  ${m.splitter.kind}, chunk ${m.splitter.chunkSize}, overlap ${m.splitter.overlap}`,
    `  bm25      ${m.fts.language}, stem ${m.fts.stem}, stop words ${m.fts.removeStopWords}`,
    `  chunks    ${m.chunks} from ${units.length} files/records`,
    `  created   ${m.createdAt}, updated ${m.updatedAt}`,
    ...units.slice(0, 50).map(([key, u]) => `  ${String(u.chunks).padStart(5)}  ${key}`),
    ...(units.length > 50 ? [`  … and ${units.length - 50} more`] : []),
  ].join("\n");
}
