// Two small real collections for recipe tests: a harbour handbook and a garden guide, written as
// Markdown and ingested with the hashing embedder in chunks of about two sentences, so window
// expansion has neighbours and compression has sentences to remove.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { HashingEmbedder } from "../../../src/rag/embed/hashing.js";
import { ingestPath } from "../../../src/rag/pipeline/ingest.js";

export const HARBOUR = [
  "# Harbour handbook",
  "The harbour office is on the north quay. It is staffed by two harbour masters.",
  "The fuel dock opens at 06:00 and closes at 20:00. Diesel and petrol are sold at the fuel dock.",
  "Visitors moor on the west pontoon. Mooring fees are paid at the harbour office.",
  "Showers are behind the office. The shower code changes every week.",
  "Sailing boats leave by the east channel. Motor boats keep to the marked lane at five knots.",
  "Winter storage opens in October. Boats are lifted out by the harbour crane.",
].join("\n\n");

export const GARDEN = [
  "# Garden guide",
  "Tomatoes need full sun and rich soil. Water tomatoes at the base in the morning.",
  "Roses are pruned in early spring. Cut above an outward-facing bud.",
  "Compost turns faster when it is kept moist. Turn the heap every two weeks.",
  "Slugs eat young lettuce at night. Beer traps catch slugs near the beds.",
].join("\n\n");

export const embedder = new HashingEmbedder();

/** Ingests the harbour (and garden) documents into collections `harbour` and `garden`. */
export async function makeRecipeCollections(dataDir: string): Promise<void> {
  for (const [name, text] of [
    ["harbour", HARBOUR],
    ["garden", GARDEN],
  ] as const) {
    const dir = path.join(dataDir, "docs", name);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, `${name}.md`), text);
    await ingestPath(name, dir, {
      dataDir,
      embedder,
      embedderSpec: "hash",
      splitter: { kind: "recursive", chunkSize: 110, overlap: 0 },
    });
  }
}
