// BERT-family encoders (BERT, MiniLM, bge, gte, e5, XLM-RoBERTa) in the tensor engine. Re-exports only.
export { BertModel, poolHidden, poolWeights, type BertLayer, type BertWeights, type EncoderBatch } from "./model.js";
export {
  bertConfigFromGguf,
  bertConfigFromHf,
  stPooling,
  type BertConfig,
  type EncoderArch,
  type EncoderPooling,
} from "./config.js";
export { loadBert, loadBertFolder, loadBertGguf, folderTokenizer, wordPieceMetadata, type LoadedBert } from "./load.js";
export { encodeTexts, type EncodedTexts } from "./batch.js";
export {
  saveEncoder,
  checkEncoderFormats,
  ENCODER_FORMATS,
  type EncoderFormat,
  type SaveEncoderOptions,
  type SavedEncoder,
} from "./export/index.js";
