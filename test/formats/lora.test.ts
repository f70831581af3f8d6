// PEFT adapters round-trip, and a PEFT adapter converted to GGUF LoRA and applied by llama.cpp
// gives the logits of the base model with the adapter merged into its HF weights.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { convertHfToGguf } from "../../src/formats/convert/hf-to-gguf.js";
import { openGguf } from "../../src/formats/gguf/index.js";
import { peftToGgufLora, writeGgufLora } from "../../src/formats/gguf/lora.js";
import { readPairAgain, readPeftAdapter, writePeftAdapter, type PeftAdapter } from "../../src/formats/peft.js";
import { openSafetensors, writeSafetensors, type SafetensorsTensorInput } from "../../src/formats/safetensors.js";
import { fixture } from "../helpers/fixtures.js";
import { loadOracleModel, oracleLogits, disposeOracle } from "./oracle.js";
import { seededFloats } from "./tiny-models.js";

const HF_DIR = fixture("models/tinystories-656k-hf");
const tmp = mkdtempSync(path.join(tmpdir(), "infuse-lora-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const R = 4;
const ALPHA = 8;
const HIDDEN = 128;
const KV_OUT = 64; // 4 kv heads x 16
afterAll(disposeOracle);

function adapter(): PeftAdapter {
  let seed = 100;
  const pairs = [0, 1].flatMap((layer) =>
    (["q_proj", "k_proj", "v_proj", "o_proj"] as const).map((m) => {
      const out = m === "k_proj" || m === "v_proj" ? KV_OUT : HIDDEN;
      return {
        target: `model.layers.${layer}.self_attn.${m}.weight`,
        a: seededFloats(R * HIDDEN, seed++, 0.3),
        b: seededFloats(out * R, seed++, 0.3),
        r: R,
        in: HIDDEN,
        out,
      };
    }),
  );
  return {
    config: {
      peft_type: "LORA",
      r: R,
      lora_alpha: ALPHA,
      target_modules: ["q_proj", "k_proj", "v_proj", "o_proj"],
      task_type: "CAUSAL_LM",
    },
    pairs,
  };
}

/** HF weights with W += (alpha / r) · B·A merged in, written as a model folder. */
async function mergedModel(a: PeftAdapter, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  for (const f of ["config.json", "tokenizer.json", "tokenizer_config.json"])
    copyFileSync(path.join(HF_DIR, f), path.join(dir, f));
  const st = await openSafetensors(path.join(HF_DIR, "model.safetensors"));
  const tensors: SafetensorsTensorInput[] = [];
  for (const t of st.tensors) {
    const w = await st.readTensorF32(t.name);
    const p = a.pairs.find((x) => x.target === t.name);
    if (p) {
      const scale = a.config.lora_alpha / a.config.r;
      for (let o = 0; o < p.out; o++) {
        for (let i = 0; i < p.in; i++) {
          let s = 0;
          for (let k = 0; k < p.r; k++) s += p.b[o * p.r + k]! * p.a[k * p.in + i]!;
          w[o * p.in + i] = w[o * p.in + i]! + scale * s;
        }
      }
    }
    tensors.push({ name: t.name, shape: t.shape, dtype: "F32", data: w });
  }
  await writeSafetensors(path.join(dir, "model.safetensors"), tensors, st.metadata);
  st.close();
}

describe("LoRA adapters", () => {
  it("PEFT adapters write and read back unchanged", async () => {
    const a = adapter();
    await writePeftAdapter(path.join(tmp, "peft"), a);
    const back = await readPeftAdapter(path.join(tmp, "peft"));
    expect(back.config).toEqual({ ...a.config, inference_mode: true }); // as PEFT's save_pretrained writes it
    expect(back.pairs.map((p) => p.target).sort()).toEqual(a.pairs.map((p) => p.target).sort());
    for (const p of a.pairs) {
      const { source, ...read } = back.pairs.find((x) => x.target === p.target)!;
      expect(read).toEqual(p);
      // where each lies in the file: read again synchronously, the same values
      expect(readPairAgain(source!, "a")).toEqual(p.a);
      expect(readPairAgain(source!, "b")).toEqual(p.b);
    }
  });

  it("a GGUF LoRA made from PEFT gives llama.cpp the merged model's logits", async () => {
    await writePeftAdapter(path.join(tmp, "peft-2"), adapter());
    const a = await readPeftAdapter(path.join(tmp, "peft-2"));
    const base = path.join(tmp, "base.gguf");
    await convertHfToGguf(HF_DIR, base, { outType: "F32" });
    const loraFile = path.join(tmp, "adapter.gguf");
    await writeGgufLora(loraFile, peftToGgufLora(a, { modelType: "llama", heads: 8, kvHeads: 4 }));
    const lora = await openGguf(loraFile);
    expect(lora.get("general.type")).toBe("adapter");
    expect(lora.get("adapter.lora.alpha")).toBe(ALPHA);
    expect(lora.tensor("blk.1.attn_k.weight.lora_b")?.dims).toEqual([R, KV_OUT]);
    lora.close();

    await mergedModel(a, path.join(tmp, "merged-hf"));
    const merged = path.join(tmp, "merged.gguf");
    await convertHfToGguf(path.join(tmp, "merged-hf"), merged, { outType: "F32" });

    const prompt = [1, 80, 147, 201, 282, 215, 286, 598];
    const baseModel = await loadOracleModel(base);
    const withLora = await oracleLogits(baseModel, prompt, 2048, loraFile);
    const plain = await oracleLogits(baseModel, prompt, 2048);
    await baseModel.dispose();
    const mergedLlama = await loadOracleModel(merged);
    const mergedLogits = await oracleLogits(mergedLlama, prompt, 2048);
    await mergedLlama.dispose();
    let diff = 0;
    let effect = 0;
    for (let i = 0; i < 2048; i++) {
      diff = Math.max(diff, Math.abs(withLora[i]! - mergedLogits[i]!));
      effect = Math.max(effect, Math.abs(withLora[i]! - plain[i]!));
    }
    expect(effect).toBeGreaterThan(0.5);
    expect(diff).toBeLessThan(effect * 0.01);
  });
});
