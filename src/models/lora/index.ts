// models/lora: LoRA adapters on a Llama model's linear layers, attached by name pattern, saved and
// loaded as PEFT and GGUF LoRA files. Re-exports only.
export { LoraAdapter, loraScale, type LoraOptions } from "./adapter.js";
export { attachLora, matchesTarget, LoraSet, PEFT_MODULES, type AttachOptions, type LoraHost } from "./attach.js";
export { toPeft, toGgufLora, writeLoraFiles, loadLora, isAdapterDir } from "./io.js";
