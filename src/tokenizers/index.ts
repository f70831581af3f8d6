// Tokenizers: GGUF vocabularies with llama.cpp's ids, tokenizer.json, chat templates. Re-exports only.
export type { Tokenizer, TokenizerKind, EncodeOptions, DecodeOptions } from "./types.js";
export { GgufTokenizer, tokenizerFromGgufMetadata } from "./gguf-tokenizer.js";
export { HfJsonTokenizer, loadHfTokenizer } from "./hf.js";
export { loadTokenizer } from "./load.js";
export { StreamingDecoder } from "./decode.js";
export {
  applyChatTemplate,
  renderChatTemplate,
  isChatRole,
  CHAT_ROLES,
  type ChatMessage,
  type ChatRole,
  type RenderChatOptions,
} from "./chat.js";
