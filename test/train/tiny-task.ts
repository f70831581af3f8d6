// A second training task, not LoRA: softmax regression (logits = dropout(X)·W + b, cross-entropy) on
// points labelled by a hidden linear map, made from the tensor ops with their real gradients. Input
// dropout draws from the task's RNG (checkpointed; workers seed theirs by step), so resume has state to
// restore. Registered as task kind "tiny-classifier", so worker threads rebuild it from this module.
import { add, crossEntropy, dropout, matmul, noGrad, randn, Rng, Tensor } from "../../src/tensor/index.js";
import { permutation } from "../../src/train/data/batches.js";
import type { EvalMetrics, ParallelTask, Share, TrainingTask } from "../../src/train/task.js";
import { registerTaskKind } from "../../src/train/task-kinds.js";

export interface TinySettings {
  seed: number;
  examples: number;
  /** Input features and classes. */
  dim: number;
  classes: number;
  batchSize: number;
  dropout: number;
  /** Early stop on accuracy (higher is better) instead of eval_loss. */
  monitorAccuracy?: boolean;
  /** Replicas ≥ 1 build W one row too tall: their matmul fails with a shape error (the worker-error test). */
  badReplicaShape?: boolean;
}

/** Points and labels, a pure function of the seed: argmax of a hidden map plus a little noise. */
function makeData(s: TinySettings): { x: Float32Array; y: Int32Array } {
  const rng = new Rng(s.seed ^ 0xda7a);
  const truth = randn(rng, s.dim * s.classes);
  const x = randn(rng, s.examples * s.dim);
  const y = new Int32Array(s.examples);
  for (let i = 0; i < s.examples; i++) {
    let best = 0;
    let bestScore = -Infinity;
    for (let c = 0; c < s.classes; c++) {
      let score = 0.1 * rng.normal();
      for (let d = 0; d < s.dim; d++) score += x[i * s.dim + d]! * truth[d * s.classes + c]!;
      if (score > bestScore) [best, bestScore] = [c, score];
    }
    y[i] = best;
  }
  return { x, y };
}

export class TinyClassifierTask implements TrainingTask {
  readonly params: Tensor[];
  readonly fingerprint: string;
  readonly monitor?: { metric: keyof EvalMetrics; higherIsBetter: boolean };
  readonly parallel: ParallelTask;
  readonly rng: Rng;
  private training = false;
  private readonly x: Float32Array;
  private readonly y: Int32Array;
  /** The first quarter is held out for evaluation. */
  private readonly train: number[];
  private readonly val: number[];

  constructor(
    readonly s: TinySettings,
    replica = 0,
  ) {
    ({ x: this.x, y: this.y } = makeData(s));
    const all = Array.from({ length: s.examples }, (_, i) => i);
    const cut = Math.floor(s.examples / 4);
    [this.val, this.train] = [all.slice(0, cut), all.slice(cut)];
    this.rng = new Rng(s.seed);
    const rows = s.dim + (s.badReplicaShape && replica > 0 ? 1 : 0);
    this.params = [new Tensor(randn(this.rng, rows * s.classes, 0.1), [rows, s.classes], true)];
    this.params.push(new Tensor(new Float32Array(s.classes), [s.classes], true));
    this.fingerprint = JSON.stringify({ ...s, badReplicaShape: undefined, monitorAccuracy: undefined });
    if (s.monitorAccuracy) this.monitor = { metric: "eval_accuracy", higherIsBetter: true };
    this.parallel = {
      describe: () => ({ kind: "tiny-classifier", module: import.meta.url, init: s }),
      split: (batches, n) => {
        const parts: Share[][] = Array.from({ length: n }, () => []);
        for (const idx of batches)
          for (let k = 0; k < n; k++) {
            const rows = idx.filter((_, j) => j % n === k);
            if (rows.length > 0) parts[k]!.push({ rows, weight: rows.length / idx.length / batches.length });
          }
        return parts;
      },
    };
  }

  /** Mean cross-entropy of `rows` (a graph when gradients are on); (B, C) logits. */
  private loss(rows: number[]): { loss: Tensor; logits: Tensor } {
    const d = this.s.dim;
    const xb = new Float32Array(rows.length * d);
    rows.forEach((r, i) => xb.set(this.x.subarray(r * d, r * d + d), i * d));
    const targets = Int32Array.from(rows, (r) => this.y[r]!);
    const input = dropout(new Tensor(xb, [rows.length, d]), this.s.dropout, this.rng, this.training); // (B, D)
    const logits = add(matmul(input, this.params[0]!), this.params[1]!); // (B, C)
    return { loss: crossEntropy(logits, targets), logits };
  }

  epochBatches(epoch: number): number[][] {
    const order = permutation(this.train.length, (this.s.seed + 31 * (epoch + 1)) >>> 0).map((i) => this.train[i]!);
    const out: number[][] = [];
    for (let i = 0; i < order.length; i += this.s.batchSize) out.push(order.slice(i, i + this.s.batchSize));
    return out;
  }

  tokens(batch: number[]): number {
    return batch.length;
  }

  microStep(batch: number[], weight: number): number {
    const { loss } = this.loss(batch);
    const value = loss.item();
    loss.backward({ grad: Float32Array.of(weight), checkFinite: false });
    return value;
  }

  runShare(work: Share[], step: number, replica: number): number {
    if (replica > 0) this.rng.setState(new Rng((this.s.seed * 7919 + step * 104_729 + replica) >>> 0).state());
    let loss = 0;
    for (const part of work) loss += this.microStep(part.rows, part.weight) * part.weight;
    return loss;
  }

  evaluate(): EvalMetrics {
    return noGrad(() => {
      const { loss, logits } = this.loss(this.val);
      let right = 0;
      const c = this.s.classes;
      this.val.forEach((r, i) => {
        const row = logits.data.subarray(i * c, i * c + c);
        if (row.indexOf(Math.max(...row)) === this.y[r]) right++;
      });
      return { eval_loss: loss.item(), eval_accuracy: right / this.val.length };
    });
  }

  setTraining(on: boolean): void {
    this.training = on;
  }

  saveState(): { rng: number[] } {
    return { rng: this.rng.state() };
  }

  loadState(state: unknown): void {
    this.rng.setState((state as { rng: number[] }).rng);
  }
}

registerTaskKind("tiny-classifier", (init, replica) =>
  Promise.resolve(new TinyClassifierTask(init as TinySettings, replica)),
);
