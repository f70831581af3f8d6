// `infuse collections [list|show NAME|remove-file NAME PATH…|compact NAME|delete NAME|repair NAME]`:
// the collections of the configured store. Listings show damaged collections apart (with why)
// instead of failing on them, and leave out evaluation caches unless --all.
import { InfuseError } from "../../core/errors.js";
import {
  storeProvider,
  summarize,
  type CollectionManifest,
  type CollectionSummary,
  type CompactReport,
  type DamagedCollection,
  type RepairReport,
  type StoreProvider,
} from "../../rag/store/index.js";
import { removeSources, type RemoveSourcesReport } from "../../rag/pipeline/remove.js";
import { humanBytes } from "../output.js";
import type { RegisterCommand } from "../runtime.js";

export const registerCollections: RegisterCommand = (program, run) => {
  const collections = program
    .command("collections")
    .description("list, show or delete collections")
    .addHelpText(
      "after",
      "\nExamples:\n  infuse collections\n  infuse collections --all          # caches (beir-*, embed-mine-*) too\n  infuse collections show handbook --json\n  infuse collections remove-file handbook notes/old.md 'drafts/*'\n  infuse collections compact handbook\n  infuse collections delete handbook",
    )
    .option("--all", "also list caches (beir-* made by infuse eval, embed-mine-* by infuse embed mine)")
    .action(
      run(async (rt, flags: { all?: boolean }) => {
        const provider = storeProvider(await rt.config());
        const { healthy, damaged, hidden } = await listing(provider, flags.all === true);
        rt.out.result([...healthy, ...damaged.map(damagedEntry)], () =>
          healthy.length + damaged.length + hidden === 0
            ? `no collections in ${provider.describe()} (create one with \`infuse ingest PATH --collection NAME\`)`
            : [...renderTable(healthy), ...damaged.map(renderDamaged), ...hiddenNote(hidden)].join("\n"),
        );
      }),
    );
  collections
    .command("list")
    .description("list collections by name (the default lists them with their sizes)")
    .option("--all", "also list caches (beir-* made by infuse eval, embed-mine-* by infuse embed mine)")
    .action(
      run(async (rt, flags: { all?: boolean }) => {
        const { healthy, damaged, hidden } = await listing(storeProvider(await rt.config()), flags.all === true);
        rt.out.result(
          [...healthy, ...damaged.map(damagedEntry)],
          () =>
            [...healthy.map((c) => c.name), ...damaged.map(renderDamaged), ...hiddenNote(hidden)].join("\n") ||
            "(none)",
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
            ...(m.tabular ? { tabular: m.tabular } : {}),
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
    .command("remove-file")
    .argument("<name>", "collection name")
    .argument("<paths...>", "sources as ask cites them, globs ('notes/*.md') or folders ending in /")
    .description("remove sources (and their chunks) from a collection; the files themselves stay")
    .action(
      run(async (rt, name: string, paths: string[]) => {
        const config = await rt.config();
        const report = await removeSources(name, paths, {
          dataDir: config.dataDir,
          store: storeProvider(config),
          signal: rt.signal,
        });
        rt.out.result(
          report,
          (r: RemoveSourcesReport) =>
            `removed ${r.removed.length} source${r.removed.length === 1 ? "" : "s"} (${r.chunksRemoved} chunks) from "${r.collection}"; ${r.chunksTotal} chunks left\n` +
            r.removed.map((k) => `  ${k}`).join("\n"),
        );
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

/**
 * Caches: collections `infuse eval` makes of a BEIR corpus (eval/beir-collection.ts names them) and
 * `infuse embed mine` makes of its corpus (rag/embed-data/corpus.ts).
 */
export function isEvalCache(name: string): boolean {
  return name.startsWith("beir-") || name.startsWith("embed-mine-");
}

/** The collections to list: evaluation caches left out unless `all`, with how many were. */
async function listing(provider: StoreProvider, all: boolean) {
  const [every, damaged] = await Promise.all([provider.list(), provider.damaged()]);
  const healthy = all ? every : every.filter((c) => !isEvalCache(c.name));
  return { healthy, damaged, hidden: every.length - healthy.length };
}

function hiddenNote(hidden: number): string[] {
  return hidden > 0 ? [`(${hidden} evaluation cache${hidden === 1 ? "" : "s"} hidden; --all lists them)`] : [];
}

/** Longest name shown whole; longer ones are cut with "…" so the columns stay aligned. */
const NAME_WIDTH = 32;

function fit(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

/** One aligned row per collection: each column as wide as its widest cell (names capped). */
export function renderTable(rows: CollectionSummary[]): string[] {
  if (rows.length === 0) return [];
  const cells = rows.map((c) => [
    fit(c.name, NAME_WIDTH),
    `${c.chunks} chunks`,
    `${c.units} files`,
    c.embedder,
    c.splitter,
    `updated ${c.updatedAt}`,
  ]);
  const widths = cells[0]!.map((_, j) => Math.max(...cells.map((r) => r[j]!.length)));
  const right = new Set([1, 2]);
  return cells.map((r) =>
    r
      .map((cell, j) =>
        j === r.length - 1 ? cell : right.has(j) ? cell.padStart(widths[j]!) : cell.padEnd(widths[j]!),
      )
      .join("  "),
  );
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
    ...(m.tabular
      ? [
          `  tables    ${[
            m.tabular.textColumn !== undefined ? `text column "${m.tabular.textColumn}"` : "",
            m.tabular.idColumn !== undefined ? `id column "${m.tabular.idColumn}"` : "",
          ]
            .filter(Boolean)
            .join(", ")}`,
        ]
      : []),
    `  chunks    ${m.chunks} from ${units.length} files/records`,
    `  created   ${m.createdAt}, updated ${m.updatedAt}`,
    ...units.slice(0, 50).map(([key, u]) => `  ${String(u.chunks).padStart(5)}  ${key}`),
    ...(units.length > 50 ? [`  … and ${units.length - 50} more`] : []),
  ].join("\n");
}
