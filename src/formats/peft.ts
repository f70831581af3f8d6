// PEFT LoRA adapters: adapter_config.json + adapter_model.safetensors, read and written.
// Pairs are keyed by the HF module weight they adapt (model.layers.0.self_attn.q_proj.weight).
// Leaves out DoRA, bias training and embedding adapters.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { InfuseError } from "../core/errors.js";
import {
  openSafetensors,
  toF32,
  writeSafetensors,
  type SafetensorsTensorInfo,
  type SafetensorsTensorInput,
} from "./safetensors.js";
import { fileStamp, readStamped } from "./stamped-read.js";

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
  /** Where a read pair lies in its file, to read it again (readPairAgain) after its values were dropped. */
  source?: PairSource;
}

/** The file (with its stamp) and the two tensors a pair was read from. */
export interface PairSource {
  file: string;
  stamp: string;
  a: SafetensorsTensorInfo;
  b: SafetensorsTensorInfo;
}

/** lora_A or lora_B of a read pair again, synchronously, from the unchanged file (model.file_changed). */
export function readPairAgain(source: PairSource, which: "a" | "b"): Float32Array {
  const t = source[which];
  const bytes = readStamped(source.file, source.stamp, t.offset, t.byteSize, t.name, new Uint8Array(t.byteSize));
  return toF32(t.dtype, bytes, `${source.file}: tensor ${t.name}`);
}

export interface PeftAdapter {
  config: PeftConfig;
  pairs: LoraPair[];
}

const PEFT_PREFIX = "base_model.model.";
const CONFIG_FILE = "adapter_config.json";
const WEIGHTS_FILE = "adapter_model.safetensors";
const LORA_KEY = /^(.*)\.lora_([AB])(?:\.default)?\.weight$/;

function badField(file: string, field: string, value: unknown, want: string): InfuseError {
  return new InfuseError(
    "peft.bad_config",
    `${file}: ${field} is ${JSON.stringify(value) ?? String(value)}, expected ${want}`,
    {
      kind: "input",
      hint: `set ${field} in ${file} to ${want}`,
      details: { file, field },
    },
  );
}

const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/**
 * Checks the fields infuse computes with: r a positive integer, lora_alpha a positive finite number,
 * lora_dropout in [0, 1), use_rslora and fan_in_fan_out booleans, target_modules names (each when set).
 */
export function checkPeftConfig(raw: unknown, file: string): PeftConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw badField(file, "the file", raw, "a JSON object");
  const c = raw as Record<string, unknown>;
  if (c["peft_type"] !== "LORA") {
    throw new InfuseError("peft.unsupported", `${file}: peft_type ${String(c["peft_type"])} is not LORA`, {
      kind: "input",
      details: { file, field: "peft_type" },
    });
  }
  if (!finite(c["r"]) || !Number.isInteger(c["r"]) || c["r"] < 1)
    throw badField(file, "r", c["r"], "a positive integer");
  if (!finite(c["lora_alpha"]) || c["lora_alpha"] <= 0)
    throw badField(file, "lora_alpha", c["lora_alpha"], "a positive number");
  const dropout = c["lora_dropout"];
  if (dropout !== undefined && dropout !== null && (!finite(dropout) || dropout < 0 || dropout >= 1))
    throw badField(file, "lora_dropout", dropout, "a number in [0, 1)");
  for (const flag of ["use_rslora", "fan_in_fan_out", "inference_mode"]) {
    const v = c[flag];
    if (v !== undefined && v !== null && typeof v !== "boolean") throw badField(file, flag, v, "true or false");
  }
  const targets = c["target_modules"];
  const names = Array.isArray(targets) && targets.every((t) => typeof t === "string");
  if (targets !== undefined && targets !== null && typeof targets !== "string" && !names)
    throw badField(file, "target_modules", targets, "a list of module names");
  return c as PeftConfig;
}

export async function readPeftAdapter(dir: string): Promise<PeftAdapter> {
  const configPath = path.join(dir, CONFIG_FILE);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(configPath, "utf8"));
  } catch (e) {
    throw new InfuseError("peft.bad_config", `${configPath}: cannot read (${(e as Error).message})`, {
      kind: (e as NodeJS.ErrnoException).code === "ENOENT" ? "not_found" : "input",
      cause: e,
      details: { file: configPath },
    });
  }
  const config = checkPeftConfig(parsed, configPath);
  const st = await openSafetensors(path.join(dir, WEIGHTS_FILE));
  try {
    const stamp = fileStamp(st.path);
    const parts = new Map<
      string,
      { a?: Float32Array; b?: Float32Array; aInfo?: SafetensorsTensorInfo; bInfo?: SafetensorsTensorInfo }
    >();
    for (const t of st.tensors) {
      const m = LORA_KEY.exec(t.name);
      if (!m) continue;
      const target = `${m[1]!.replace(PEFT_PREFIX, "")}.weight`;
      const p = parts.get(target) ?? {};
      const data = await st.readTensorF32(t.name);
      const at = data.findIndex((v) => !Number.isFinite(v));
      if (at >= 0) {
        throw new InfuseError("peft.not_finite", `${st.path}: tensor ${t.name} holds ${data[at]} at element ${at}`, {
          kind: "input",
          hint: "the adapter was saved from a run that diverged, or the file is corrupt; train it again",
          details: { file: st.path, tensor: t.name, index: at },
        });
      }
      if (m[2] === "A") Object.assign(p, { a: data, aInfo: t });
      else Object.assign(p, { b: data, bInfo: t });
      parts.set(target, p);
    }
    const pairs: LoraPair[] = [];
    for (const [target, p] of parts) {
      const [aShape, bShape] = [p.aInfo?.shape, p.bInfo?.shape];
      if (!p.a || !p.b || aShape!.length !== 2 || bShape!.length !== 2 || aShape![0] !== bShape![1]) {
        throw new InfuseError(
          "peft.unpaired",
          `${st.path}: ${target} needs lora_A [r, in] and lora_B [out, r] of one rank`,
          {
            kind: "input",
            details: { file: st.path, tensor: target },
          },
        );
      }
      const source = { file: st.path, stamp, a: p.aInfo!, b: p.bInfo! };
      pairs.push({ target, a: p.a, b: p.b, r: aShape![0]!, in: aShape![1]!, out: bShape![0]!, source });
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
