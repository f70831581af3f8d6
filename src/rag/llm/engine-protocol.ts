// The messages between the engine chat model (engine.ts, main thread) and its worker (engine-worker.ts).
import type { WireError } from "../../core/worker-thread.js";
import type { ChatTemplateSource } from "../../models/chat-template.js";
import type { ChatMessage } from "../types.js";

/** Sent once as workerData: local paths only (hub references are resolved on the main thread). */
export interface EngineInit {
  model: string;
  adapter?: string;
  /** "native" keeps quantized matrices as stored; "f32" dequantizes at load. */
  weights?: "native" | "f32";
  /** The longest text a chat template may render (`limits.templateMaxChars`). */
  templateMaxChars?: number;
  /** Most generations decoded together (`limits.maxBatch`); more wait for a slot. */
  maxBatch?: number;
  /** Prompt tokens a joining request evaluates between two decode steps (`limits.prefillChunk`). */
  prefillChunk?: number;
}

export interface EngineSampling {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  stop?: string[];
}

/** A chat (through the chat template) or a raw prompt (a completion: the tokenizer's BOS rule only). */
export type EngineInput = { messages: ChatMessage[] } | { prompt: string };

export type EngineRequest =
  { type: "generate"; id: number; input: EngineInput; options: EngineSampling } | { type: "abort"; id: number };

export interface EngineInfo {
  template: ChatTemplateSource;
  contextLength: number;
  dtype: string;
}

export type EngineReply =
  | { type: "ready"; info: EngineInfo }
  | { type: "piece"; id: number; text: string }
  | { type: "done"; id: number; finishReason: string; tokens: number; promptTokens: number }
  | { type: "error"; id?: number; error: WireError };
