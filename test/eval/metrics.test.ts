// Metric values on hand-made qrels, worked out by hand from the trec_eval 9 definitions
// (m_ndcg_cut.c: gain = grade, discount log2(rank+1); m_map.c; m_recall.c; m_recip_rank.c).
import { describe, expect, it } from "vitest";
import { evaluateQuery, evaluateRun, trecSort, type Qrels, type Run } from "../../src/eval/metrics.js";

const judged = new Map([
  ["d1", 2],
  ["d2", 1],
  ["d3", 0],
  ["d4", 1],
]);
// Ranked: d3 (0), d1 (2), d5 (unjudged), d2 (1), d4 (1).
const ranked = [
  { id: "d4", score: 0.5 },
  { id: "d3", score: 0.9 },
  { id: "d2", score: 0.6 },
  { id: "d1", score: 0.8 },
  { id: "d5", score: 0.7 },
];

describe("evaluateQuery", () => {
  const m = evaluateQuery(judged, ranked, { ks: [3, 5, 10] });

  it("computes nDCG with graded gains and the log2(rank+1) discount", () => {
    // DCG@5 = 2/log2(3) + 1/log2(5) + 1/log2(6); ideal = 2/log2(2) + 1/log2(3) + 1/log2(4)
    const dcg5 = 2 / Math.log2(3) + 1 / Math.log2(5) + 1 / Math.log2(6);
    const ideal = 2 + 1 / Math.log2(3) + 1 / 2;
    expect(m["ndcg@5"]).toBeCloseTo(dcg5 / ideal, 12);
    expect(m["ndcg@5"]).toBeCloseTo(0.664144, 5);
    // @3: only d1 at rank 2 counts; the ideal list is cut at 3 as well.
    expect(m["ndcg@3"]).toBeCloseTo(2 / Math.log2(3) / ideal, 12);
    expect(m["ndcg@10"]).toBeCloseTo(m["ndcg@5"]!, 12);
  });

  it("computes recall, precision, MRR and AP with relevance level 1", () => {
    expect(m["recall@3"]).toBeCloseTo(1 / 3, 12);
    expect(m["recall@5"]).toBe(1);
    expect(m["p@5"]).toBeCloseTo(3 / 5, 12);
    expect(m["p@10"]).toBeCloseTo(3 / 10, 12);
    expect(m["mrr@10"]).toBe(0.5);
    // relevant at ranks 2, 4, 5: (1/2 + 2/4 + 3/5) / 3
    expect(m["map"]).toBeCloseTo((0.5 + 0.5 + 0.6) / 3, 12);
  });

  it("counts relevant documents never retrieved in recall and AP", () => {
    const q = evaluateQuery(judged, [{ id: "d2", score: 1 }], { ks: [10] });
    expect(q["recall@10"]).toBeCloseTo(1 / 3, 12);
    expect(q["map"]).toBeCloseTo(1 / 3, 12);
    expect(q["ndcg@10"]).toBeCloseTo(1 / (2 + 1 / Math.log2(3) + 1 / 2), 12);
  });

  it("cuts MRR at its depth", () => {
    const docs = Array.from({ length: 12 }, (_, i) => ({ id: i === 10 ? "d1" : `x${i}`, score: 100 - i }));
    expect(evaluateQuery(judged, docs, { mrrK: 10 })["mrr@10"]).toBe(0);
    expect(evaluateQuery(judged, docs, { mrrK: 100 })["mrr@100"]).toBeCloseTo(1 / 11, 12);
  });

  it("honours a higher relevance level for recall and MAP but not for nDCG gains", () => {
    const q = evaluateQuery(judged, ranked, { ks: [5], relevanceLevel: 2 });
    expect(q["recall@5"]).toBe(1);
    expect(q["map"]).toBe(0.5);
    expect(q["ndcg@5"]).toBeCloseTo(m["ndcg@5"]!, 12);
  });
});

describe("trecSort", () => {
  it("breaks score ties by document id, descending, as trec_eval does", () => {
    const sorted = trecSort([
      { id: "a", score: 1 },
      { id: "c", score: 2 },
      { id: "b", score: 1 },
    ]);
    expect(sorted.map((d) => d.id)).toEqual(["c", "b", "a"]);
    const q = evaluateQuery(new Map([["a", 1]]), [
      { id: "a", score: 1 },
      { id: "b", score: 1 },
    ]);
    expect(q["mrr@10"]).toBe(0.5);
  });
});

describe("evaluateRun", () => {
  const qrels: Qrels = new Map([
    ["q1", judged],
    ["q2", new Map([["d9", 1]])],
    ["q3", new Map([["d1", 0]])], // no relevant document: skipped, as BEIR does
    ["q4", new Map([["d4", 1]])], // not in the run: scores 0
  ]);
  const run: Run = new Map([
    ["q1", ranked],
    [
      "q2",
      [
        { id: "q2", score: 9 }, // identical to the query id: dropped by default
        { id: "d9", score: 1 },
      ],
    ],
    ["q3", [{ id: "d1", score: 1 }]],
  ]);

  it("averages over judged queries with a relevant document, zero for missing ones", () => {
    const r = evaluateRun(qrels, run, { ks: [10] });
    expect(r.queries).toBe(3);
    expect(r.emptyQueries).toBe(1);
    expect(r.perQuery.has("q3")).toBe(false);
    expect(r.perQuery.get("q2")!["mrr@10"]).toBe(1);
    expect(r.perQuery.get("q4")!["ndcg@10"]).toBe(0);
    expect(r.mean["mrr@10"]).toBeCloseTo((0.5 + 1 + 0) / 3, 12);
    expect(r.mean["map"]).toBeCloseTo(((0.5 + 0.5 + 0.6) / 3 + 1 + 0) / 3, 12);
  });

  it("keeps identical ids when asked", () => {
    const r = evaluateRun(qrels, run, { ks: [10], ignoreIdenticalIds: false });
    expect(r.perQuery.get("q2")!["mrr@10"]).toBe(0.5);
  });
});
