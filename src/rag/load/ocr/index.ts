// OCR for loaders: the tesseract/pdftoppm engine, its settings, and TSV parsing.
export {
  defaultOcr,
  OCR_DEFAULTS,
  OCR_MODES,
  OcrEngine,
  type OcrMode,
  type OcrSettings,
  type OcrUnavailable,
} from "./engine.js";
export { parseTsv, type OcrPage } from "./tsv.js";
export { ToolMissing } from "./exec.js";
