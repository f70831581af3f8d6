// `infuse collections [list|show NAME|delete NAME]`: the collections in the data folder.
import { InfuseError } from "../../core/errors.js";
import {
  deleteCollection,
  listCollections,
  requireManifest,
  summarize,
  type CollectionSummary,
} from "../../rag/store/index.js";
import { openCollection, type CollectionManifest, type CompactReport } from "../../rag/store/index.js";
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
        const config = await rt.config();
        rt.out.result(await listCollections(config.dataDir), (list: CollectionSummary[]) =>
          list.length === 0
            ? `no collections in ${config.dataDir} (create one with \`infuse ingest PATH --collection NAME\`)`
            : list
                .map(
                  (c) =>
                    `${c.name.padEnd(20)} ${String(c.chunks).padStart(7)} chunks  ${String(c.units).padStart(5)} files  ${c.embedder}  ${c.splitter}  updated ${c.updatedAt}`,
                )
                .join("\n"),
        );
      }),
    );
  collections
    .command("list")
    .description("list collections (the default)")
    .action(
      run(async (rt) => {
        const config = await rt.config();
        rt.out.result(
          await listCollections(config.dataDir),
          (list: CollectionSummary[]) => list.map((c) => c.name).join("\n") || "(none)",
        );
      }),
    );
  collections
    .command("show")
    .argument("<name>", "collection name")
    .description("show a collection's settings and files")
    .action(
      run(async (rt, name: string) => {
        const config = await rt.config();
        const m = await requireManifest(config.dataDir, name);
        rt.out.result(
          { ...summarize(m), fts: m.fts, splitterSettings: m.splitter, embedderSpec: m.embedder.spec, files: m.units },
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
        const config = await rt.config();
        const store = await openCollection(config.dataDir, name);
        try {
          const report = await store.compact();
          rt.out.result(
            report,
            (r: CompactReport) =>
              `compacted "${r.collection}": ${r.versionsRemoved} old versions and ${humanBytes(r.bytesRemoved)} removed`,
          );
        } finally {
          store.close();
        }
      }),
    );
  collections
    .command("delete")
    .argument("<name>", "collection name")
    .description("delete a collection and its index")
    .action(
      run(async (rt, name: string) => {
        const config = await rt.config();
        if (!name) throw new InfuseError("rag.collection_name", "name the collection to delete", { kind: "usage" });
        await deleteCollection(config.dataDir, name);
        rt.out.result({ deleted: name }, () => `deleted collection "${name}"`);
      }),
    );
};

function renderShow(m: CollectionManifest): string {
  const units = Object.entries(m.units);
  return [
    `collection ${m.name}`,
    `  embedder  ${m.embedder.id} (${m.embedder.dimension} dims; spec "${m.embedder.spec}")`,
    `  splitter  ${m.splitter.kind}, chunk ${m.splitter.chunkSize}, overlap ${m.splitter.overlap}`,
    `  bm25      ${m.fts.language}, stem ${m.fts.stem}, stop words ${m.fts.removeStopWords}`,
    `  chunks    ${m.chunks} from ${units.length} files/records`,
    `  created   ${m.createdAt}, updated ${m.updatedAt}`,
    ...units.slice(0, 50).map(([key, u]) => `  ${String(u.chunks).padStart(5)}  ${key}`),
    ...(units.length > 50 ? [`  … and ${units.length - 50} more`] : []),
  ].join("\n");
}
