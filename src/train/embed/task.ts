// Contrastive fine-tuning of a BERT-family encoder as a task of the shared loop (train/task.ts):
// micro-batches of queries, each with a group of passages (its positive + sampled hard negatives,
// short groups filled from other pairs' passages), InfoNCE over the batch (loss.ts), every weight or
// LoRA adapters trained. GradCache (`gradCacheChunk`) and worker threads use the same two halves
// (encode.ts): this thread embeds the whole batch without a graph and takes the loss, then each
// replica re-encodes its rows with a graph and back-propagates their cached gradients, so in-batch
// negatives span every replica. Leaves out cross-machine training.
import { createHash } from "node:crypto";
import { InfuseError } from "../../core/errors.js";
import type { BertModel, EncoderPooling } from "../../models/bert/index.js";
import { loadBert } from "../../models/bert/index.js";
import { attachLora, type LoraSet } from "../../models/lora/attach.js";
import { noGrad, Rng, type Tensor } from "../../tensor/index.js";
import type { Tokenizer } from "../../tokenizers/types.js";
import { permutation } from "../data/batches.js";
import type { EvalMetrics, ParallelTask, TaskDescription, TaskReplica, TrainingTask } from "../task.js";
import { leaf, TextEncoder } from "./encode.js";
import { contrastiveLayout, infoNce, targetRanks } from "./loss.js";
import type { EmbedPair } from "./pairs.js";

/** What shapes the loss and the inputs (the task's settings a resume compares). */
export interface ContrastiveSettings {
  temperature: number;
  groupSize: number;
  inBatchNegatives: boolean;
  queryMaxLength: number;
  passageMaxLength: number;
  queryInstruction: string;
  passageInstruction: string;
  pooling: EncoderPooling;
  normalize: boolean;
  /** GradCache chunk (texts per re-encoding; 0 = plain backward through the whole batch). */
  gradCacheChunk: number;
  batchSize: number;
  seed: number;
}

export interface LoraSettings {
  r: number;
  alpha: number;
  dropout: number;
  targets: string[];
}

/** One replica's rows of one micro-batch: texts (instructions applied) and their embeddings' gradients. */
export interface EmbedWork {
  queries: string[];
  passages: string[];
  /** d(weighted loss)/d(query embeddings) (rows × C). */
  gradQ: Float32Array;
  gradP: Float32Array;
  /** The weighted loss this share reports (the whole micro-batch's on share 0, else 0). */
  loss: number;
}

/** The `contrastive` kind's init: what a worker rebuilds its replica from. */
export interface ContrastiveInit {
  model: string;
  settings: ContrastiveSettings;
  lora: LoraSettings | null;
}

/** The model (and adapters) and the settings: what a worker thread needs to run shares. */
export class ContrastiveReplica implements TaskReplica<EmbedWork[]> {
  readonly params: Tensor[];
  readonly encoder: TextEncoder;

  constructor(
    readonly model: BertModel,
    readonly tokenizer: Tokenizer,
    readonly settings: ContrastiveSettings,
    readonly lora: LoraSet<BertModel> | null,
  ) {
    this.encoder = new TextEncoder(model, tokenizer, settings);
    if (lora) this.params = lora.params();
    else {
      this.params = model.parameters();
      for (const p of this.params) p.requiresGrad = true;
    }
  }

  /** Re-encodes each share's rows with a graph and back-propagates their cached gradients. */
  runShare(work: EmbedWork[], step: number, replica: number): number {
    if (replica > 0 && this.lora)
      this.lora.rng.setState(new Rng((this.settings.seed * 1_000_003 + step * 7919 + replica) >>> 0).state());
    const s = this.settings;
    let loss = 0;
    for (const w of work) {
      const chunk = s.gradCacheChunk;
      if (w.queries.length) this.encoder.backpropCached(w.queries, w.gradQ, s.queryMaxLength, chunk);
      if (w.passages.length) this.encoder.backpropCached(w.passages, w.gradP, s.passageMaxLength, chunk);
      loss += w.loss;
    }
    return loss;
  }
}

/** A micro-batch as texts: queries, their groups of passages, and what the loss masks. */
interface BatchTexts {
  queries: string[];
  passages: string[];
  positives: string[][];
}

export interface ContrastiveTaskInput {
  model: BertModel;
  tokenizer: Tokenizer;
  /** Where workers load the same encoder from (a local file or folder). */
  modelPath: string;
  lora: LoraSet<BertModel> | null;
  loraSettings: LoraSettings | null;
  train: EmbedPair[];
  val: EmbedPair[];
  settings: ContrastiveSettings;
  /** Extra held-out metrics at each evaluation (a BEIR folder's nDCG@10), named without `eval_`. */
  evaluator?: ((encoder: TextEncoder) => Record<string, number>) | undefined;
  /** Settings of the run beyond the task's (data files) to fold into the fingerprint. */
  extraSettings?: Record<string, unknown>;
  settingLabel?: (key: string) => string;
}

/** Contrastive fine-tuning of an encoder as a task of the shared loop. */
export class ContrastiveTask extends ContrastiveReplica implements TrainingTask<EmbedWork[]> {
  readonly fingerprint: string;
  override readonly settings: ContrastiveSettings & Record<string, unknown>;
  readonly parallel: ParallelTask<EmbedWork[]>;
  /** Negative sampling's stream (a checkpoint saves it). */
  readonly rng: Rng;
  private readonly train: EmbedPair[];
  private readonly val: EmbedPair[];
  private readonly evaluator: ContrastiveTaskInput["evaluator"];
  private readonly label: ((key: string) => string) | undefined;
  private readonly tokenCounts = new Map<string, number>();

  constructor(input: ContrastiveTaskInput) {
    super(input.model, input.tokenizer, input.settings, input.lora);
    const s = input.settings;
    this.train = input.train;
    this.val = input.val;
    this.evaluator = input.evaluator;
    this.label = input.settingLabel;
    this.rng = new Rng((s.seed ^ 0x6e67) >>> 0);
    this.settings = { ...s, ...(input.loraSettings ? { lora: input.loraSettings } : {}), ...input.extraSettings };
    this.fingerprint = createHash("sha256")
      .update(JSON.stringify({ settings: this.settings, model: input.modelPath, pairs: this.train.length }))
      .digest("hex")
      .slice(0, 16);
    const init: ContrastiveInit = { model: input.modelPath, settings: s, lora: input.loraSettings };
    this.parallel = {
      describe: (): TaskDescription => ({ kind: "contrastive", init }),
      // The whole micro-batch's loss is taken here (negatives shared by every replica); its rows
      // are dealt to replicas in contiguous runs, each with its embeddings' gradients.
      split: (batches, n) => {
        const parts: EmbedWork[][] = Array.from({ length: n }, () => []);
        for (const idx of batches) {
          const w = this.cachedWork(idx, 1 / batches.length);
          const dim = this.model.config.dim;
          const cut = (len: number, k: number): [number, number] => [
            Math.floor((len * k) / n),
            Math.floor((len * (k + 1)) / n),
          ];
          for (let k = 0; k < n; k++) {
            const [q0, q1] = cut(w.queries.length, k);
            const [p0, p1] = cut(w.passages.length, k);
            parts[k]!.push({
              queries: w.queries.slice(q0, q1),
              passages: w.passages.slice(p0, p1),
              gradQ: w.gradQ.slice(q0 * dim, q1 * dim),
              gradP: w.gradP.slice(p0 * dim, p1 * dim),
              loss: k === 0 ? w.loss : 0,
            });
          }
        }
        return parts;
      },
    };
  }

  settingLabel(key: string): string {
    return this.label?.(key) ?? key;
  }

  epochBatches(epoch: number): number[][] {
    const order = permutation(this.train.length, (this.settings.seed + 0x9e37 * (epoch + 1)) >>> 0);
    const out: number[][] = [];
    for (let i = 0; i < order.length; i += this.settings.batchSize)
      out.push(order.slice(i, i + this.settings.batchSize));
    return out;
  }

  /** Tokens the batch's texts encoded to (counted when its step ran). */
  tokens(batch: number[]): number {
    const key = batch.join(",");
    const n = this.tokenCounts.get(key) ?? 0;
    this.tokenCounts.delete(key);
    return n;
  }

  microStep(batch: number[], weight: number): number {
    if (this.settings.gradCacheChunk > 0) {
      const w = this.cachedWork(batch, weight);
      this.runShare([w], 0, 0);
      return weight === 0 ? 0 : w.loss / weight;
    }
    const s = this.settings;
    const t = this.texts(this.train, batch, this.rng);
    const count = { tokens: 0 };
    const q = this.encoder.embed(t.queries, s.queryMaxLength, count); // (B, C)
    const p = this.encoder.embed(t.passages, s.passageMaxLength, count); // (B·G, C)
    this.tokenCounts.set(batch.join(","), count.tokens);
    const { loss } = infoNce(q, p, this.layout(t), s.temperature);
    const value = loss.item();
    loss.backward({ grad: Float32Array.of(weight) });
    return value;
  }

  /** GradCache's first half: the batch's embeddings without a graph, the loss, its gradient per embedding. */
  cachedWork(batch: number[], weight: number): EmbedWork {
    const s = this.settings;
    const t = this.texts(this.train, batch, this.rng);
    const dim = this.model.config.dim;
    const count = { tokens: 0 };
    const q = leaf(this.encoder.embedNoGrad(t.queries, s.queryMaxLength, s.gradCacheChunk, count), dim);
    const p = leaf(this.encoder.embedNoGrad(t.passages, s.passageMaxLength, s.gradCacheChunk, count), dim);
    this.tokenCounts.set(batch.join(","), count.tokens);
    const { loss } = infoNce(q, p, this.layout(t), s.temperature);
    const value = loss.item();
    loss.backward({ grad: Float32Array.of(weight) });
    return { queries: t.queries, passages: t.passages, gradQ: q.grad!.data, gradP: p.grad!.data, loss: value * weight };
  }

  private layout(t: BatchTexts) {
    return contrastiveLayout(t.passages, this.settings.groupSize, t.positives, this.settings.inBatchNegatives);
  }

  /**
   * The texts of `rows` of `pairs`: with `rng`, a random positive and group−1 random negatives (too
   * few: filled with random passages of other pairs); without, the first of each (evaluation).
   */
  private texts(pairs: EmbedPair[], rows: number[], rng: Rng | null): BatchTexts {
    const s = this.settings;
    const pick = (n: number): number => (rng ? rng.nextU32() % n : 0);
    const queries: string[] = [];
    const passages: string[] = [];
    const positives: string[][] = [];
    for (const [k, r] of rows.entries()) {
      const pair = pairs[r]!;
      queries.push(s.queryInstruction + pair.query);
      positives.push(pair.pos.map((p) => s.passageInstruction + p));
      passages.push(s.passageInstruction + pair.pos[pick(pair.pos.length)]!);
      const negs = rng ? sample(pair.neg, s.groupSize - 1, rng) : pair.neg.slice(0, s.groupSize - 1);
      for (let j = negs.length, f = 0; j < s.groupSize - 1; j++, f++) {
        // filler: another pair's positive (deterministic without rng: the next pairs in order)
        const other =
          pairs.length > 1
            ? rng
              ? (r + 1 + pick(pairs.length - 1)) % pairs.length
              : (r + 1 + f + k) % pairs.length
            : r;
        const o = pairs[other]!;
        negs.push(o.pos[pick(o.pos.length)]!);
      }
      for (const n of negs) passages.push(s.passageInstruction + n);
    }
    return { queries, passages, positives };
  }

  evaluate(): EvalMetrics | null {
    if (this.val.length === 0 && !this.evaluator) return null;
    const s = this.settings;
    let loss = 0;
    let hits = 0;
    let rr = 0;
    noGrad(() => {
      for (let i = 0; i < this.val.length; i += s.batchSize) {
        const rows = Array.from({ length: Math.min(s.batchSize, this.val.length - i) }, (_, j) => i + j);
        const t = this.texts(this.val, rows, null);
        const q = this.encoder.embed(t.queries, s.queryMaxLength);
        const p = this.encoder.embed(t.passages, s.passageMaxLength);
        const layout = this.layout(t);
        const r = infoNce(q, p, layout, s.temperature);
        loss += r.loss.item() * rows.length;
        for (const rank of targetRanks(r.logits, layout.targets)) {
          hits += rank === 1 ? 1 : 0;
          rr += 1 / rank;
        }
      }
    });
    const n = Math.max(1, this.val.length);
    const m: EvalMetrics =
      this.val.length > 0
        ? { eval_loss: loss / n, eval_accuracy: hits / n, eval_mrr: rr / n }
        : { eval_loss: Number.NaN };
    if (this.evaluator) {
      const extra = noGrad(() => this.evaluator!(this.encoder));
      for (const [k, v] of Object.entries(extra)) m[`eval_${k}`] = v;
    }
    return m;
  }

  setTraining(on: boolean): void {
    this.lora?.setTraining(on);
  }

  saveState(): { rng: number[]; loraRng?: number[] } {
    return { rng: this.rng.state(), ...(this.lora ? { loraRng: this.lora.rng.state() } : {}) };
  }

  loadState(state: unknown): void {
    const st = state as { rng?: unknown; loraRng?: unknown } | null;
    const ok = (v: unknown): v is number[] => Array.isArray(v) && v.length === 4;
    if (!ok(st?.rng) || (this.lora && !ok(st.loraRng))) {
      throw new InfuseError("train.bad_checkpoint", "checkpoint state has no negative-sampling RNG state", {
        kind: "input",
        hint: "start a new output folder, or resume from a checkpoint `embed tune` wrote",
      });
    }
    this.rng.setState(st.rng);
    if (this.lora) this.lora.rng.setState(st.loraRng as number[]);
  }
}

/** `k` distinct items of `items` drawn with `rng` (all of them, in drawn order, when there are fewer). */
function sample(items: readonly string[], k: number, rng: Rng): string[] {
  const idx = items.map((_, i) => i);
  const n = Math.min(k, idx.length);
  for (let i = 0; i < n; i++) {
    const j = i + (rng.nextU32() % (idx.length - i));
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx.slice(0, n).map((i) => items[i]!);
}

/** Attaches the run's adapters (same seed as the main thread, so A starts equal). */
export function attachEncoderLora(model: BertModel, lora: LoraSettings, seed: number): LoraSet<BertModel> {
  return attachLora(model, { ...lora, rslora: false, seed });
}

/** The `contrastive` kind's worker-side factory: the same encoder and adapters as the main thread. */
export async function createContrastiveReplica(init: unknown): Promise<ContrastiveReplica> {
  const o = init as ContrastiveInit;
  const { model, tokenizer } = await loadBert(o.model);
  const lora = o.lora ? attachEncoderLora(model, o.lora, o.settings.seed) : null;
  return new ContrastiveReplica(model, tokenizer, o.settings, lora);
}
