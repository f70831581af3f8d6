// SciFact (BEIR test split) nDCG@10 of bm25 and hybrid on each store, through the library call
// `infuse eval retrieval` makes (evaluateRetrievalConfigs), with the model-free hashing embedder:
// one JSON line per store × retriever, the Postgres lines with their ratio to LanceDB's figure.
// Goal: Postgres BM25 within 0.005 nDCG@10 of LanceDB's (same analyzer, same BM25 formula).
// Usage: npm run bench -- store-scifact [--url postgres://…] [--retrievers bm25,hybrid] [--data DIR]
// The URL defaults to INFUSE_BENCH_POSTGRES_URL, else the test server (.ci/services.sh).
import os from "node:os";
import path from "node:path";
import { loadConfig, type ResolvedConfig } from "../src/core/config.js";
import { evaluateRetrievalConfigs } from "../src/eval/run-retrieval.js";
import { parseRecipeShorthand } from "../src/rag/recipe/shorthand.js";
import { maskUrl } from "../src/rag/store/index.js";
import { fixture } from "../test/helpers/fixtures.js";
import { serviceUrl } from "../test/helpers/services.js";
import { emit, log } from "./emit.js";

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

const round = (x: number) => Math.round(x * 1e4) / 1e4;

export default async function storeScifact(args: string[]): Promise<void> {
  const retrievers = (flag(args, "--retrievers") ?? "bm25,hybrid").split(",");
  const dataDir = flag(args, "--data") ?? path.join(os.tmpdir(), "infuse-bench-store-scifact");
  const base = flag(args, "--url") ?? process.env["INFUSE_BENCH_POSTGRES_URL"] ?? serviceUrl("postgres");
  if (!base) throw new Error("no Postgres server: pass --url postgres://… or set INFUSE_BENCH_POSTGRES_URL");
  const pgUrl = base.includes("schema=") ? base : `${base}${base.includes("?") ? "&" : "?"}schema=bench_scifact`;
  const beir = fixture("datasets/scifact");
  const loaded = await loadConfig({ env: { INFUSE_HOME: dataDir } });
  const stores: [string, ResolvedConfig["store"]][] = [
    ["lancedb", { provider: "lancedb", path: path.join(dataDir, "collections") }],
    ["postgres", { provider: "postgres", url: pgUrl }],
  ];
  const lance = new Map<string, number>();
  for (const [store, section] of stores) {
    const config: ResolvedConfig = { ...loaded, ...(section ? { store: section } : {}) };
    const t0 = performance.now();
    const report = await evaluateRetrievalConfigs({
      beir,
      recipes: retrievers.map((r) => parseRecipeShorthand(r)),
      config,
      embedder: "hash",
      topK: 100,
      onNote: (text) => log(`${store}: ${text}`),
    });
    log(
      `${store} (${store === "postgres" ? maskUrl(pgUrl) : dataDir}): ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    for (const r of report.results) {
      const ndcg = r["ndcg@10"];
      if (store === "lancedb") lance.set(r.retriever, ndcg);
      const ref = lance.get(r.retriever);
      emit({
        bench: "store-scifact",
        store,
        retriever: r.retriever,
        "ndcg@10": round(ndcg),
        "recall@100": round(r["recall@100"]),
        queries: r.queries,
        documents: report.documents,
        ...(store !== "lancedb" && ref !== undefined
          ? { lancedb_ndcg10: round(ref), ratio: round(ndcg / ref), delta: round(ndcg - ref) }
          : {}),
      });
    }
  }
}
