// LoRA adapters to and from files: PEFT (HF names, HF Q/K row order) and GGUF LoRA (GGUF names and
// row order). The model's own Q/K rows follow its rope layout: GGUF llama files keep rows interleaved,
// HF folders keep halves; lora_B rows are moved between the two as the base weights were.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { InfuseError } from "../../core/errors.js";
import { writeGgufLora } from "../../formats/gguf/lora.js";
import { ggufToHfName, hfToGgufName } from "../../formats/hf/names.js";
import { permuteQK, unpermuteQK } from "../../formats/hf/permute.js";
import {
  readPairAgain,
  readPeftAdapter,
  writePeftAdapter,
  type LoraPair,
  type PeftConfig,
} from "../../formats/peft.js";
import type { LlamaConfig } from "../llama/config.js";
import type { LlamaModel } from "../llama/model.js";
import { attachLora, type LoraSet } from "./attach.js";

type RowOrder = "model" | "hf" | "gguf";

/** Heads of a Q or K layer (for the row permutation), or 0 for layers that need none. */
function qkHeads(config: LlamaConfig, layer: string): number {
  if (layer.endsWith("attn_q")) return config.heads;
  if (layer.endsWith("attn_k")) return config.kvHeads;
  return 0;
}

/** lora_B (N, r) rows from the model's order to `to` (or back when `inverse`). */
function moveB(
  config: LlamaConfig,
  layer: string,
  b: Float32Array,
  n: number,
  to: RowOrder,
  inverse: boolean,
): Float32Array {
  const heads = qkHeads(config, layer);
  if (heads === 0 || to === "model") return b;
  // GGUF llama rows are interleaved; the model holds them so when loaded from GGUF.
  const modelIsGguf = config.ropeLayout === "interleaved";
  const ggufPermutes = config.arch === "llama";
  if (to === "hf" && modelIsGguf) return inverse ? permuteQK(b, n, heads) : unpermuteQK(b, n, heads);
  if (to === "gguf" && !modelIsGguf && ggufPermutes) return inverse ? unpermuteQK(b, n, heads) : permuteQK(b, n, heads);
  return b;
}

function hfName(layer: string): string {
  const name = ggufToHfName("llama", `${layer}.weight`);
  if (!name) throw new InfuseError("lora.unknown_target", `${layer} has no Hugging Face name`, { kind: "input" });
  return name;
}

/** The adapter as PEFT files describe it (config + pairs in HF names and row order). */
export function toPeft(set: LoraSet, baseModel = ""): { config: PeftConfig; pairs: LoraPair[] } {
  const { r, alpha, dropout, rslora } = set.options;
  const pairs: LoraPair[] = [];
  for (const [layer, ad] of set.adapters) {
    const [n, k] = [ad.b.shape[0]!, ad.a.shape[1]!];
    const b = moveB(set.model.config, layer, ad.b.data, n, "hf", false);
    pairs.push({ target: hfName(layer), a: ad.a.data.slice(), b: b.slice(), r, in: k, out: n });
  }
  const modules = new Set([...set.adapters.keys()].map((l) => hfName(l).split(".").at(-2)!));
  const config: PeftConfig = {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    r,
    lora_alpha: alpha,
    lora_dropout: dropout,
    use_rslora: rslora,
    target_modules: [...modules].sort(),
    bias: "none",
    fan_in_fan_out: false,
    base_model_name_or_path: baseModel,
  };
  return { config, pairs };
}

/** Pairs in GGUF names and row order, and the alpha llama.cpp should use (it divides by r itself). */
export function toGgufLora(set: LoraSet): { alpha: number; pairs: LoraPair[] } {
  const { r, alpha, rslora } = set.options;
  const pairs: LoraPair[] = [];
  for (const [layer, ad] of set.adapters) {
    const [n, k] = [ad.b.shape[0]!, ad.a.shape[1]!];
    const b = moveB(set.model.config, layer, ad.b.data, n, "gguf", false);
    pairs.push({ target: `${layer}.weight`, a: ad.a.data.slice(), b: b.slice(), r, in: k, out: n });
  }
  // llama.cpp scales by alpha/r; rsLoRA's alpha/√r is the same as alpha·√r / r.
  return { alpha: rslora ? alpha * Math.sqrt(r) : alpha, pairs };
}

export async function writeLoraFiles(dir: string, set: LoraSet, baseModel: string): Promise<void> {
  await writePeftAdapter(dir, toPeft(set, baseModel));
  const gguf = toGgufLora(set);
  await writeGgufLora(path.join(dir, "adapter.gguf"), { architecture: set.model.config.arch, ...gguf });
}

/** Reads a PEFT adapter folder and attaches it to `model` (weights as trained; dropout off; frozen). */
export async function loadLora(model: LlamaModel, dir: string): Promise<LoraSet> {
  const { config, pairs } = await readPeftAdapter(dir);
  const where = path.join(dir, "adapter_config.json");
  const linears = model.linears();
  // A and B by GGUF layer name in the model's row order, checked against the model before any attaches
  const saved = new Map<string, { a: Float32Array; b: Float32Array; pair: LoraPair }>();
  for (const p of pairs) {
    const layer = layerOf(p.target, where);
    const lin = linears.get(layer);
    if (!lin || p.r !== config.r || p.in !== lin.inFeatures || p.out !== lin.outFeatures) {
      const has = lin ? `the model's layer is ${lin.outFeatures}×${lin.inFeatures}` : "the model has no such layer";
      throw new InfuseError(
        "lora.shape_mismatch",
        `${dir}: ${p.target} is [${p.out}, ${p.r}]·[${p.r}, ${p.in}] (r ${config.r} in its config), ${has}`,
        {
          kind: "input",
          hint: "load the adapter on the base model it was trained on",
        },
      );
    }
    saved.set(layer, { a: p.a, b: moveB(model.config, layer, p.b, p.out, "hf", true), pair: p });
  }
  const targets = [...new Set([...saved.keys()].map((layer) => layer.replace(/^blk\.\d+\./, "")))];
  const rslora = config["use_rslora"] === true;
  // the read arrays become the adapters' own: no second copy of the adapter while it loads
  const values = (layer: string) => saved.get(layer);
  const set = attachLora(model, { r: config.r, alpha: config.lora_alpha, rslora, targets, values });
  // Layers the targets name but the file lacks would start fresh: drop them so the set is what was saved.
  for (const layer of [...set.adapters.keys()]) {
    if (!saved.has(layer)) {
      linears.get(layer)!.adapter = null;
      set.adapters.delete(layer);
    }
  }
  for (const [layer, { pair }] of saved) {
    const ad = set.adapters.get(layer)!;
    // frozen, as served: the decoder's layer graphs hold A and B (prepacked) instead of feeding them,
    // and drop these copies then (read again from the file if another path needs them)
    ad.a.requiresGrad = false;
    ad.b.requiresGrad = false;
    const source = pair.source;
    if (source) {
      ad.a.setReloader(() => readPairAgain(source, "a"));
      ad.b.setReloader(() => moveB(model.config, layer, readPairAgain(source, "b"), pair.out, "hf", true));
    }
  }
  set.setTraining(false);
  return set;
}

function layerOf(hf: string, where: string): string {
  const g = hfToGgufName("llama", hf);
  if (!g)
    throw new InfuseError("lora.unknown_target", `${where}: adapter target ${hf} has no llama layer`, {
      kind: "input",
    });
  return g.replace(/\.weight$/, "");
}

/** True when `dir` holds a PEFT adapter (adapter_config.json). */
export async function isAdapterDir(dir: string): Promise<boolean> {
  try {
    await readFile(path.join(dir, "adapter_config.json"));
    return true;
  } catch {
    return false;
  }
}
