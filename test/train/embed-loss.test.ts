// The contrastive loss of `embed tune` (train/embed/loss.ts): InfoNCE's value against a hand
// computation, the masks (own group only without in-batch negatives; copies of a positive and
// repeated passages left out, not counted as negatives), its gradient by finite differences, and
// the pairs file reader's errors.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { gradcheck, Rng, randn, Tensor } from "../../src/tensor/index.js";
import { contrastiveLayout, infoNce, l2Normalize, MASKED, targetRanks } from "../../src/train/embed/loss.js";
import { readPairs, readTrainingPairs } from "../../src/train/embed/pairs.js";
import { tempDir } from "./helpers.js";

const unit = (rows: number[][]): number[][] => rows.map((r) => r.map((v) => v / Math.hypot(...r)));

/** −log softmax of the target column over the allowed columns, by hand in float64. */
function handLoss(q: number[][], p: number[][], allowed: number[][], targets: number[], tau: number): number {
  let total = 0;
  q.forEach((qi, i) => {
    const s = (j: number) => qi.reduce((a, v, c) => a + v * p[j]![c]!, 0) / tau;
    const lse = Math.log(allowed[i]!.reduce((a, j) => a + Math.exp(s(j)), 0));
    total += lse - s(targets[i]!);
  });
  return total / q.length;
}

describe("InfoNCE", () => {
  const q = unit([
    [1, 0.2, 0],
    [0.1, 1, 0.3],
  ]);
  const p = unit([
    [0.9, 0.1, 0.1], // q0's positive
    [0.2, 0.3, 1], // q0's negative
    [0, 1, 0.2], // q1's positive
    [1, 1, 0], // q1's negative
  ]);
  const qt = new Tensor(Float32Array.from(q.flat()), [2, 3]);
  const pt = new Tensor(Float32Array.from(p.flat()), [4, 3]);
  const keys = ["a", "b", "c", "d"];

  it("equals a hand computation with in-batch negatives (every column) at τ = 0.05", () => {
    const layout = contrastiveLayout(keys, 2, [["a"], ["c"]], true);
    expect([...layout.targets]).toEqual([0, 2]);
    expect([...layout.mask]).toEqual(Array<number>(8).fill(0));
    const { loss } = infoNce(qt, pt, layout, 0.05);
    const want = handLoss(
      q,
      p,
      [0, 1].map(() => [0, 1, 2, 3]),
      [0, 2],
      0.05,
    );
    expect(loss.item()).toBeCloseTo(want, 4);
  });

  it("scores only the query's own group without in-batch negatives", () => {
    const layout = contrastiveLayout(keys, 2, [["a"], ["c"]], false);
    expect([...layout.mask]).toEqual([0, 0, MASKED, MASKED, MASKED, MASKED, 0, 0]);
    const { loss } = infoNce(qt, pt, layout, 0.02);
    expect(loss.item()).toBeCloseTo(
      handLoss(
        q,
        p,
        [
          [0, 1],
          [2, 3],
        ],
        [0, 2],
        0.02,
      ),
      3,
    );
  });

  it("masks copies of a query's positive and repeated passages: they are not counted as negatives", () => {
    // q0's group [a, x, b], q1's group [c, a, b]: q1's negative "a" is q0's positive, "b" is in both
    // groups, and q0's negative "x" is also one of q1's positives (a false negative for q1)
    const dupKeys = ["a", "x", "b", "c", "a", "b"];
    const layout = contrastiveLayout(dupKeys, 3, [["a"], ["c", "x"]], true);
    const row = (i: number) => [...layout.mask.subarray(i * 6, (i + 1) * 6)].map((v) => (v === 0 ? 1 : 0));
    expect(row(0)).toEqual([1, 1, 1, 1, 0, 0]); // the copy of its positive "a" and the second "b" left out
    expect(row(1)).toEqual([1, 0, 1, 1, 0, 0]); // its positive "x", the second "a" and the second "b" left out
    expect(layout.duplicates).toBe(2 + 3);
    // the masked loss equals the loss over the distinct columns alone
    const rng = new Rng(5);
    const q2 = l2Normalize(new Tensor(randn(rng, 2 * 4), [2, 4]));
    const p6 = l2Normalize(new Tensor(randn(rng, 6 * 4), [6, 4]));
    const qa = [0, 1].map((i) => [...q2.data.subarray(i * 4, i * 4 + 4)]);
    const pa = [0, 1, 2, 3, 4, 5].map((j) => [...p6.data.subarray(j * 4, j * 4 + 4)]);
    const { loss } = infoNce(q2, p6, layout, 0.1);
    const allowed = [
      [0, 1, 2, 3],
      [0, 2, 3],
    ];
    expect(loss.item()).toBeCloseTo(handLoss(qa, pa, allowed, [0, 3], 0.1), 4);
  });

  it("has the gradient of finite differences, through the normalisation (q and p)", () => {
    const rng = new Rng(9);
    const q0 = new Tensor(randn(rng, 3 * 5), [3, 5], true);
    const p0 = new Tensor(randn(rng, 6 * 5), [6, 5], true);
    const layout = contrastiveLayout(["a", "b", "c", "a", "e", "f"], 2, [["a"], ["c"], ["e"]], true);
    const r = gradcheck(([a, b]) => infoNce(l2Normalize(a!), l2Normalize(b!), layout, 0.5).loss, [q0, p0], {
      eps: 1e-3,
      atol: 2e-3,
      rtol: 2e-2,
    });
    expect(r.ok, JSON.stringify(r)).toBe(true);
  });

  it("ranks the positive among the scored columns", () => {
    const logits = new Tensor(Float32Array.from([3, 5, MASKED, 1, 2, 0, 9, MASKED]), [2, 4]);
    expect(targetRanks(logits, Int32Array.from([0, 1]))).toEqual([2, 3]);
  });
});

describe("pairs file", () => {
  const dir = tempDir("infuse-pairs-");
  const file = (name: string, lines: string[]) => {
    const f = path.join(dir, name);
    writeFileSync(f, lines.join("\n") + "\n");
    return f;
  };

  it("reads query, pos, neg and the optional fields", async () => {
    const f = file("ok.jsonl", [
      JSON.stringify({ query: "q1", pos: ["p1"], neg: ["n1", "n2"], source: "s", pos_scores: [1] }),
      "",
      JSON.stringify({ query: "q2", pos: ["p2", "p3"] }),
    ]);
    const pairs = await readTrainingPairs(f);
    expect(pairs).toEqual([
      { query: "q1", pos: ["p1"], neg: ["n1", "n2"], source: "s", pos_scores: [1] },
      { query: "q2", pos: ["p2", "p3"], neg: [] },
    ]);
  });

  it("names file:line and the field of a bad line", async () => {
    const missing = file("missing.jsonl", [JSON.stringify({ query: "q", pos: ["p"] }), JSON.stringify({ query: "q" })]);
    await expect(readPairs(missing)).rejects.toMatchObject({
      code: "train.bad_pairs",
      kind: "input",
      message: expect.stringContaining("missing.jsonl:2:pos") as unknown,
      details: { line: 2, field: "pos" },
    });
    const negs = file("neg.jsonl", [JSON.stringify({ query: "q", pos: ["p"], neg: [1] })]);
    await expect(readPairs(negs)).rejects.toMatchObject({ details: { line: 1, field: "neg" } });
    const broken = file("broken.jsonl", ["{not json"]);
    await expect(readPairs(broken)).rejects.toMatchObject({ details: { line: 1 } });
    await expect(readPairs(path.join(dir, "none.jsonl"))).rejects.toMatchObject({ code: "train.no_pairs_file" });
  });
});
