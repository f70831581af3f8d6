// Mining hard negatives on a small real corpus with BM25 (LanceDB's full-text index): a near-duplicate
// of the positive is dropped by --max-relative, the rank range is respected, the positive itself is
// never a negative, the draw is seeded, the statistics add up; plus offline and qrel pairs.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  mineNegatives,
  offlinePairs,
  qrelPairs,
  readPairs,
  type Pair,
  type Passage,
} from "../../src/rag/embed-data/index.js";
import { storeProvider } from "../../src/rag/store/index.js";
import type { ChatMessage, ChatModel } from "../../src/rag/types.js";
import { startModelServer } from "../helpers/model-server.js";
import { offlineConfig } from "../helpers/rag-config.js";
import { infuseErrorOf } from "../helpers/errors.js";

const TOPICS = [
  "Coral reefs bleach when warm water drives out the algae that feed them.",
  "Glaciers retreat as summers lengthen and winter snowfall declines.",
  "Honey bees navigate by the angle of the sun and dance to share directions.",
  "Volcanic ash in the stratosphere cools the planet for a year or two.",
  "Tidal forces slowly lengthen the day as the moon drifts away.",
  "Mangrove roots trap sediment and shelter young fish from predators.",
  "Desert plants store water in thick stems and open their pores at night.",
  "Migratory birds use the magnetic field of the earth to find their way.",
  "Lichens are partnerships of fungi and algae that colonise bare rock.",
  "Deep sea vents feed bacteria that turn chemicals into food without light.",
  "Salmon return to the stream where they hatched by the smell of its water.",
  "Permafrost thaw releases methane that was locked in frozen soil.",
];

/** The positive, a near-duplicate of it, documents sharing some of its words, and unrelated ones. */
function corpus(): Passage[] {
  const docs: Passage[] = [
    {
      id: "pos",
      title: "Reef bleaching",
      text: "Coral reefs bleach when ocean heat waves expel the symbiotic algae from coral tissue.",
    },
    {
      id: "dup",
      title: "Reef bleaching",
      text: "Coral reefs bleach when ocean heat waves expel the symbiotic algae from the coral tissue.",
    },
  ];
  for (let i = 0; i < 8; i++)
    docs.push({
      id: `coral-${i}`,
      text: `Coral ${["gardens", "larvae", "polyps", "skeletons"][i % 4]} grow slowly; ${TOPICS[(i + 1) % TOPICS.length]}`,
    });
  TOPICS.forEach((t, i) => docs.push({ id: `t${i}`, title: `Topic ${i}`, text: `${t} ${t}` }));
  return docs;
}

describe("embed-data: offline, qrels and BM25 mining", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "infuse-embed-mine-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("offline pairs: title → passage and one seeded sentence → the rest", () => {
    const docs: Passage[] = [
      {
        id: "a",
        title: "Bees",
        text: "Bees dance to share directions. The angle of the dance points to the food. Short.",
      },
      { id: "b", text: "Only one sentence here without a title." },
    ];
    const pairs = offlinePairs(docs, { seed: 1 });
    expect(pairs.map((p) => p.source)).toEqual(["title", "inverse-cloze"]);
    expect(pairs[0]).toMatchObject({ query: "Bees", pos: [docs[0]!.text], pos_ids: ["a"] });
    const ict = pairs[1]!;
    expect(["Bees dance to share directions.", "The angle of the dance points to the food."]).toContain(ict.query);
    expect(ict.pos[0]!.startsWith("Bees\n")).toBe(true);
    expect(ict.pos[0]).not.toContain(ict.query);
    // the draw is per passage: the same with other passages around it, and seeds differ somewhere
    expect(offlinePairs([docs[0]!], { seed: 1 })).toEqual(pairs);
    const queries = new Set([0, 1, 2, 3, 4, 5, 6, 7].map((s) => offlinePairs([docs[0]!], { seed: s })[1]!.query));
    expect(queries.size).toBe(2);
  });

  it("qrel pairs: relevant documents as positives, missing ones counted", () => {
    const r = qrelPairs({
      corpus: [
        { id: "d1", title: "T", text: "one" },
        { id: "d2", text: "two" },
      ],
      queries: [
        { id: "q1", text: "first" },
        { id: "q2", text: "second" },
      ],
      qrels: new Map([
        [
          "q1",
          new Map([
            ["d1", 1],
            ["d2", 0],
            ["d9", 1],
          ]),
        ],
        ["q2", new Map([["d9", 2]])],
      ]),
    });
    expect(r.pairs).toEqual([{ query: "first", pos: ["T\none"], source: "qrels", pos_ids: ["d1"] }]);
    expect(r).toMatchObject({ withoutPositive: 1, missingDocs: ["d9"] });
  });

  it("mines with BM25: the near-duplicate is a probable positive, ranks stay in range, stats add up", async () => {
    const config = offlineConfig(dir);
    const pairs: Pair[] = [
      { query: "coral reefs bleach ocean heat algae", pos: [`Reef bleaching\n${corpus()[0]!.text}`], source: "test" },
      { query: "honey bees dance directions sun", pos: ["x"], pos_ids: ["t2"] },
    ];
    const passages = corpus();
    const base = { config, corpus: { passages }, negatives: 5, seed: 3 } as const;
    const loose = await mineNegatives(pairs, { ...base, range: "1-30", maxRelative: 1 });
    const mined = await mineNegatives(pairs, { ...base, range: "1-30" });
    // the positive is found by its text (no pos_ids) and by its id, never a negative
    for (const p of [...loose.pairs, ...mined.pairs]) {
      expect(p.neg_ids).not.toContain("pos");
      expect(p.neg_ids).not.toContain("t2");
      expect(p.neg).toHaveLength(p.neg_ids!.length);
    }
    // with max-relative 1 only candidates above the positive go; at 0.95 the near-duplicate goes too
    expect(loose.pairs[0]!.neg_ids).toContain("dup");
    expect(mined.pairs[0]!.neg_ids).not.toContain("dup");
    expect(mined.pairs[0]!.pos_scores![0]).toBeGreaterThan(0);
    for (const s of mined.pairs[0]!.neg_scores!) expect(s).toBeLessThanOrEqual(0.95 * mined.pairs[0]!.pos_scores![0]!);
    expect(mined.stats.droppedProbablePositive).toBeGreaterThan(loose.stats.droppedProbablePositive - 1);
    expect(mined.stats.droppedPositive).toBe(2);
    expect(mined.stats).toMatchObject({ queries: 2, retriever: "bm25", range: [1, 30], positiveNotScored: 0 });
    const counts = mined.pairs.map((p) => p.neg!.length);
    expect(mined.stats.negatives.histogram).toEqual(
      Object.fromEntries([...new Set(counts)].map((n) => [String(n), counts.filter((c) => c === n).length])),
    );
    expect(mined.stats.short.queries).toBe(counts.filter((n) => n < 5).length);
    // seeded: the same run twice gives the same negatives
    const again = await mineNegatives(pairs, { ...base, range: "1-30" });
    expect(again.pairs).toEqual(mined.pairs);
    expect(again.stats.embedded).toBe(0); // the mining index was found built

    // a range of 3-4 draws only from ranks 3 and 4 of BM25's own ranking in the mining collection
    const narrow = await mineNegatives(pairs, { ...base, range: "3-4", maxRelative: 1, negatives: 30 });
    const store = await storeProvider(config).open(narrow.stats.collection);
    try {
      let inRange = 0;
      for (const [q, p] of narrow.pairs.entries()) {
        const ranked = await store.searchText(pairs[q]!.query, { topK: 30 });
        const ranks34 = ranked.slice(2, 4).map((h) => String(h.chunk.metadata["doc_id"]));
        inRange += ranks34.length;
        for (const id of p.neg_ids!) expect(ranks34).toContain(id);
      }
      expect(narrow.stats.candidates).toBe(inRange);
      expect(inRange).toBeGreaterThan(0);

      // a positive ranked below the range is scored alone (a doc_id filter), with the collection's statistics
      const weak: Pair = { query: pairs[0]!.query, pos: ["t0"], pos_ids: ["t0"] };
      const ranked = await store.searchText(weak.query, { topK: 30 });
      const rank = ranked.findIndex((h) => h.chunk.metadata["doc_id"] === "t0");
      expect(rank).toBeGreaterThan(0);
      const top = await mineNegatives([weak], { ...base, range: `1-${rank}` });
      expect(top.pairs[0]!.pos_scores![0]).toBeCloseTo(ranked[rank]!.score, 5);
      expect(top.stats.droppedProbablePositive).toBe(rank); // everything above it scores higher
      expect(top.stats.short).toEqual({ queries: 1, missing: 5, none: 1 });
    } finally {
      store.close();
    }
  });

  it("dense and hybrid mining compare cosine similarities (hashing embedder)", async () => {
    const config = offlineConfig(dir);
    const pairs: Pair[] = [
      { query: "coral reefs bleach ocean heat algae", pos: [`Reef bleaching\n${corpus()[0]!.text}`], pos_ids: ["pos"] },
    ];
    for (const retriever of ["dense", "hybrid", "hybrid-weighted"] as const) {
      const base = { config, corpus: { passages: corpus() }, retriever, range: "1-30", negatives: 30 } as const;
      const loose = await mineNegatives(pairs, { ...base, maxRelative: 1 });
      const mined = await mineNegatives(pairs, { ...base, maxRelative: 0.95 });
      const p = mined.pairs[0]!;
      expect(p.pos_scores![0]).toBeGreaterThan(0.5); // a cosine, not a fused rank score
      expect(p.pos_scores![0]).toBeLessThanOrEqual(1.0001);
      for (const s of p.neg_scores!) expect(s).toBeLessThanOrEqual(0.95 * p.pos_scores![0]!);
      expect(loose.pairs[0]!.neg_ids).toContain("dup");
      expect(p.neg_ids).not.toContain("dup");
      expect(p.neg_ids).not.toContain("pos");
      expect(mined.stats.retriever).toBe(retriever);
    }
  });

  it("--reranker llm:SPEC re-scores positives and candidates (an LLM rater over HTTP)", async () => {
    const rater: ChatModel = {
      id: "rater",
      async *chat(messages: ChatMessage[]) {
        const text = messages.at(-1)!.content;
        yield /symbiotic algae/.test(text) ? "10" : /Coral/.test(text) ? "Score: 6" : "1";
      },
    };
    const server = await startModelServer({ chat: rater });
    const saved = process.env["OPENAI_BASE_URL"];
    process.env["OPENAI_BASE_URL"] = `${server.url}/v1`;
    try {
      const pairs: Pair[] = [{ query: "coral bleaching", pos: [corpus()[0]!.text], pos_ids: ["pos"] }];
      const r = await mineNegatives(pairs, {
        config: offlineConfig(dir),
        corpus: { passages: corpus() },
        reranker: "llm:openai:rater",
        range: "1-30",
        negatives: 30,
      });
      const p = r.pairs[0]!;
      expect(p.pos_scores).toEqual([10]);
      expect(p.neg_ids).not.toContain("dup"); // rated 10 too: a probable positive
      expect(p.neg_scores).toContain(6);
      expect(p.neg_scores!.every((x) => x === 6 || x === 1)).toBe(true);
      expect(r.stats.droppedProbablePositive).toBe(1);
      // one rating per candidate and one for the positive
      expect(server.requests).toHaveLength(r.stats.candidates - r.stats.droppedPositive + 1);
    } finally {
      if (saved === undefined) delete process.env["OPENAI_BASE_URL"];
      else process.env["OPENAI_BASE_URL"] = saved;
      await server.close();
    }
  });

  it("writes the pairs file and resumes it; bad input is named", async () => {
    const config = offlineConfig(dir);
    const file = path.join(dir, "pairs.jsonl");
    const out = path.join(dir, "mined.jsonl");
    const passages = corpus();
    const pairs = offlinePairs(passages);
    await writeFile(file, pairs.map((p) => JSON.stringify(p)).join("\n") + "\n");
    const first = await mineNegatives(file, { config, corpus: { passages }, out, negatives: 3, range: "2-10" });
    const lines = (await readFile(out, "utf8")).trim().split("\n");
    expect(lines).toHaveLength(pairs.length);
    // cut the file to 2 lines and a torn third: the run resumes after line 2
    await writeFile(out, lines.slice(0, 2).join("\n") + "\n" + lines[2]!.slice(0, 10));
    const second = await mineNegatives(file, { config, corpus: { passages }, out, negatives: 3, range: "2-10" });
    expect(second.stats.resumed).toBe(2);
    expect(await readPairs(out)).toEqual(first.pairs);

    // --candidate-pool: negatives come from the pool's passages only
    const pool = path.join(dir, "pool.jsonl");
    await writeFile(
      pool,
      passages
        .filter((p) => p.id.startsWith("t"))
        .map((p) => JSON.stringify(p))
        .join("\n"),
    );
    const pooled = await mineNegatives(pairs, { config, corpus: { passages }, candidatePool: pool, range: "1-50" });
    const ids = pooled.pairs.flatMap((p) => p.neg_ids!);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.every((id) => id.startsWith("t"))).toBe(true);

    await writeFile(path.join(dir, "bad.jsonl"), '{"query": "q", "pos": ["p"]}\n{"query": "q2", "pos": "p"}\n');
    const bad = await infuseErrorOf(mineNegatives(path.join(dir, "bad.jsonl"), { config, corpus: { passages } }));
    expect(bad.code).toBe("train.bad_pairs");
    expect(bad.message).toMatch(/bad\.jsonl:2:pos/);
    expect((await infuseErrorOf(mineNegatives(pairs, { config, corpus: { passages }, range: "5-2" }))).code).toBe(
      "embed.bad_range",
    );
    const empty = await infuseErrorOf(mineNegatives(pairs, { config, corpus: { passages: [] } }));
    expect(empty.code).toBe("embed.empty_corpus");
  });
});
