// Attaches LoRA adapters to a model's linear layers (a Llama decoder, a BERT encoder: anything with linears() by GGUF name) chosen by name pattern, and detaches them
// (merging into a GGUF file is train/merge.ts). Patterns: PEFT module names (q_proj, v_proj …), GGUF names (attn_q …), "all-linear",
// or globs with `*` over full GGUF (blk.0.attn_q) or HF (model.layers.0.self_attn.q_proj) names.
import { InfuseError } from "../../core/errors.js";
import { ggufToHfName } from "../../formats/hf/names.js";
import { Rng, type Tensor } from "../../tensor/index.js";
import type { LlamaModel } from "../llama/model.js";
import type { Linear } from "../linear.js";
import { LoraAdapter, type LoraOptions } from "./adapter.js";

/** PEFT module name → GGUF layer suffix. */
export const PEFT_MODULES: Record<string, string> = {
  q_proj: "attn_q",
  k_proj: "attn_k",
  v_proj: "attn_v",
  o_proj: "attn_output",
  gate_proj: "ffn_gate",
  up_proj: "ffn_up",
  down_proj: "ffn_down",
  lm_head: "output",
};

export interface AttachOptions extends LoraOptions {
  /** Default ["q_proj", "v_proj"] as in PEFT. */
  targets?: string[];
  /** Seed of A's initialisation and of dropout. */
  seed?: number;
  /** A and B of a layer as saved (loadLora), taken as they are; a layer without them starts fresh. */
  values?: (layer: string) => { a: Float32Array; b: Float32Array } | undefined;
}

/** What adapters attach to: linear layers by GGUF name (LlamaModel, BertModel). */
export interface LoraHost {
  linears(): Map<string, Linear>;
  readonly config: unknown;
}

/** The adapters on one model, keyed by GGUF layer name (blk.0.attn_q). */
export class LoraSet<M extends LoraHost = LlamaModel> {
  constructor(
    readonly model: M,
    readonly adapters: Map<string, LoraAdapter>,
    /** The stream A was initialised from and dropout draws from (a checkpoint saves its state). */
    readonly rng: Rng,
    readonly options: Required<Pick<AttachOptions, "r" | "alpha" | "dropout" | "rslora">> & { targets: string[] },
  ) {}

  /** Trainable tensors in a fixed order: A then B of each adapter by layer name. */
  params(): Tensor[] {
    return [...this.adapters.values()].flatMap((ad) => [ad.a, ad.b]);
  }

  /** Dropout on (training) or off (evaluation, generation). */
  setTraining(on: boolean): void {
    for (const ad of this.adapters.values()) ad.training = on;
  }

  detach(): void {
    const linears = this.model.linears();
    for (const name of this.adapters.keys()) {
      const lin = linears.get(name);
      if (lin) lin.adapter = null;
    }
  }
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`);
}

/** True when layer `name` (GGUF, e.g. blk.3.attn_q) is chosen by `pattern`. */
export function matchesTarget(name: string, pattern: string): boolean {
  const suffix = name.replace(/^blk\.\d+\./, "");
  if (pattern === "all-linear") return name !== "output";
  if (PEFT_MODULES[pattern] === suffix || pattern === suffix) return true;
  if (!pattern.includes("*")) return false;
  const re = globToRegExp(pattern);
  const hf = ggufToHfName("llama", `${name}.weight`)?.replace(/\.weight$/, "");
  return re.test(name) || (hf !== undefined && re.test(hf));
}

/** Puts a fresh adapter on every linear layer a target names; throws if a target names none. */
export function attachLora<M extends LoraHost = LlamaModel>(model: M, options: AttachOptions): LoraSet<M> {
  const targets = options.targets ?? ["q_proj", "v_proj"];
  const rng = new Rng(options.seed ?? 0);
  const adapters = new Map<string, LoraAdapter>();
  const linears = model.linears();
  for (const pattern of targets) {
    const hits = [...linears.keys()].filter((n) => matchesTarget(n, pattern));
    if (hits.length === 0) {
      throw new InfuseError("lora.no_target", `LoRA target "${pattern}" matches no linear layer`, {
        kind: "usage",
        hint: `use PEFT names (${Object.keys(PEFT_MODULES).join(", ")}), GGUF names (attn_q …), all-linear, or a glob`,
        details: { target: pattern },
      });
    }
  }
  for (const [name, lin] of linears) {
    if (!targets.some((p) => matchesTarget(name, p))) continue;
    if (lin.adapter) {
      throw new InfuseError("lora.already_attached", `${name} already has an adapter`, {
        kind: "usage",
        hint: "detach the previous adapter set first",
      });
    }
    const ad = new LoraAdapter(lin.inFeatures, lin.outFeatures, options, rng, options.values?.(name));
    lin.adapter = ad;
    adapters.set(name, ad);
  }
  const resolved = {
    r: options.r,
    alpha: options.alpha,
    dropout: options.dropout ?? 0,
    rslora: options.rslora ?? false,
  };
  return new LoraSet(model, adapters, rng, { ...resolved, targets });
}
