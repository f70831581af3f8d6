// PEFT LoRA adapters: adapter_config.json + adapter_model.safetensors, read and written.
// Pairs are keyed by the HF module weight they adapt (model.layers.0.self_attn.q_proj.weight).
// Leaves out DoRA, bias training and embedding adapters.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { InfuseError } from "../core/errors.js";
import { openSafetensors, writeSafetensors, type SafetensorsTensorInput } from "./safetensors.js";

export interface PeftConfig {
  peft_type: "LORA";
  r: number;
  lora_alpha: number;
  target_modules: string[];
  base_model_name_or_path?: string;
  lora_dropout?: number;
  bias?: string;
  task_type?: string;
  fan_in_fan_out?: boolean;
  inference_mode?: boolean;
  [key: string]: unknown;
}

/** One adapted weight's A and B, for PEFT files and GGUF LoRA adapters alike. */
export interface LoraPair {
  /** Name of the adapted weight in the file's naming: HF (`model.layers.0.self_attn.q_proj.weight`) or GGUF (`blk.0.attn_q.weight`). */
  target: string;
  /** lora_A: row-major [r, in]. */
  a: Float32Array;
  /** lora_B: row-major [out, r]. */
  b: Float32Array;
  r: number;
  in: number;
  out: number;
}

export interface PeftAdapter {
  config: PeftConfig;
  pairs: LoraPair[];
}

const PEFT_PREFIX = "base_model.model.";
const CONFIG_FILE = "adapter_config.json";
const WEIGHTS_FILE = "adapter_model.safetensors";
const LORA_KEY = /^(.*)\.lora_([AB])(?:\.default)?\.weight$/;

export async function readPeftAdapter(dir: string): Promise<PeftAdapter> {
  const configPath = path.join(dir, CONFIG_FILE);
  let config: PeftConfig;
  try {
    config = JSON.parse(await readFile(configPath, "utf8")) as PeftConfig;
  } catch (e) {
    throw new InfuseError("peft.bad_config", `${configPath}: cannot read (${(e as Error).message})`, {
      kind: (e as NodeJS.ErrnoException).code === "ENOENT" ? "not_found" : "input",
      cause: e,
    });
  }
  if (config.peft_type !== "LORA") {
    throw new InfuseError("peft.unsupported", `${configPath}: peft_type ${String(config.peft_type)} is not LORA`, {
      kind: "input",
    });
  }
  const st = await openSafetensors(path.join(dir, WEIGHTS_FILE));
  try {
    const parts = new Map<string, { a?: Float32Array; b?: Float32Array; aShape?: number[]; bShape?: number[] }>();
    for (const t of st.tensors) {
      const m = LORA_KEY.exec(t.name);
      if (!m) continue;
      const target = `${m[1]!.replace(PEFT_PREFIX, "")}.weight`;
      const p = parts.get(target) ?? {};
      const data = await st.readTensorF32(t.name);
      if (m[2] === "A") Object.assign(p, { a: data, aShape: t.shape });
      else Object.assign(p, { b: data, bShape: t.shape });
      parts.set(target, p);
    }
    const pairs: LoraPair[] = [];
    for (const [target, p] of parts) {
      if (!p.a || !p.b || p.aShape![0] !== p.bShape![1]) {
        throw new InfuseError(
          "peft.unpaired",
          `${st.path}: ${target} needs lora_A [r, in] and lora_B [out, r] of one rank`,
          {
            kind: "input",
            details: { file: st.path, tensor: target },
          },
        );
      }
      pairs.push({ target, a: p.a, b: p.b, r: p.aShape![0]!, in: p.aShape![1]!, out: p.bShape![0]! });
    }
    return { config, pairs };
  } finally {
    st.close();
  }
}

export async function writePeftAdapter(dir: string, adapter: PeftAdapter): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tensors: SafetensorsTensorInput[] = [];
  for (const p of adapter.pairs) {
    const module = PEFT_PREFIX + p.target.replace(/\.weight$/, "");
    tensors.push(
      { name: `${module}.lora_A.weight`, shape: [p.r, p.in], dtype: "F32", data: p.a },
      { name: `${module}.lora_B.weight`, shape: [p.out, p.r], dtype: "F32", data: p.b },
    );
  }
  await writeSafetensors(path.join(dir, WEIGHTS_FILE), tensors, { format: "pt" });
  // PEFT's save_pretrained always writes inference_mode true (a saved adapter loads for inference).
  const config = { ...adapter.config, inference_mode: true };
  await writeFile(path.join(dir, CONFIG_FILE), JSON.stringify(config, null, 2) + "\n");
}
