// The OCR engine loaders share: Debian's `tesseract` (found on PATH, or at INFUSE_TESSERACT /
// ingest.ocr.tesseract) reads images, poppler's `pdftoppm` renders PDF pages for it. Both run as
// child processes (exec.ts). A missing binary is not an error here: `ready()` says so with an
// install hint, and the loaders list the file or page as skipped. Layout analysis is tesseract's.
import { InfuseError } from "../../../core/errors.js";
import { runTool, ToolMissing } from "./exec.js";
import { parseTsv, type OcrPage } from "./tsv.js";

export const OCR_MODES = ["auto", "off", "force"] as const;
export type OcrMode = (typeof OCR_MODES)[number];

/** OCR settings (ingest's `ocr` group: `--ocr`, `--ocr-lang`, `--ocr-dpi`, config for the rest). */
export interface OcrSettings {
  /** auto: only pages and images without text (default); off: never; force: every PDF page too. */
  mode?: OcrMode;
  /** Tesseract languages joined by "+", e.g. "eng+vie"; default "eng". */
  languages?: string;
  /** Resolution PDF pages are rendered at for OCR; default 300. */
  dpi?: number;
  /** Tesseract binary; default INFUSE_TESSERACT, else `tesseract` on PATH. */
  tesseract?: string;
  /** pdftoppm binary; default INFUSE_PDFTOPPM, else `pdftoppm` on PATH. */
  pdftoppm?: string;
  /** Longest one OCR or render run may take; default 120 s. */
  timeoutSeconds?: number;
}

export const OCR_DEFAULTS = { mode: "auto", languages: "eng", dpi: 300, timeoutSeconds: 120 } as const;

/** Why OCR cannot run here, and how to make it run. */
export interface OcrUnavailable {
  reason: string;
  hint: string;
}

/** Debian's package for a tesseract language (chi_sim → tesseract-ocr-chi-sim). */
const debPackage = (lang: string) => `tesseract-ocr-${lang.toLowerCase().replace(/_/g, "-")}`;

export class OcrEngine {
  readonly mode: OcrMode;
  readonly languages: string;
  readonly dpi: number;
  readonly tesseract: string;
  readonly pdftoppm: string;
  readonly #timeoutMs: number;
  #ready: Promise<OcrUnavailable | undefined> | undefined;
  #renderer: Promise<OcrUnavailable | undefined> | undefined;

  constructor(settings: OcrSettings = {}, env: NodeJS.ProcessEnv = process.env) {
    this.mode = settings.mode ?? OCR_DEFAULTS.mode;
    this.languages = settings.languages ?? OCR_DEFAULTS.languages;
    this.dpi = settings.dpi ?? OCR_DEFAULTS.dpi;
    this.tesseract = settings.tesseract ?? (env["INFUSE_TESSERACT"] || "tesseract");
    this.pdftoppm = settings.pdftoppm ?? (env["INFUSE_PDFTOPPM"] || "pdftoppm");
    this.#timeoutMs = (settings.timeoutSeconds ?? OCR_DEFAULTS.timeoutSeconds) * 1000;
  }

  /**
   * What the settings change in the text a PDF or image gives, for its unit's hash: empty for the
   * defaults (so collections built before OCR keep their hashes), else mode, languages and DPI.
   */
  get key(): string {
    const d = OCR_DEFAULTS;
    if (this.mode === d.mode && this.languages === d.languages && this.dpi === d.dpi) return "";
    return this.mode === "off" ? "|ocr:off" : `|ocr:${this.mode}:${this.languages}:${this.dpi}`;
  }

  /**
   * Undefined when tesseract runs and has every language asked for; why not (with an install hint)
   * when it is not installed. A language it lacks is `rag.ocr_language_missing` (usage). Asked once.
   */
  ready(signal?: AbortSignal): Promise<OcrUnavailable | undefined> {
    this.#ready ??= this.#check(signal);
    return this.#ready;
  }

  async #check(signal?: AbortSignal): Promise<OcrUnavailable | undefined> {
    let out: Buffer;
    try {
      out = await this.#run(this.tesseract, ["--list-langs"], "listing tesseract's languages", signal);
    } catch (e) {
      this.#ready = undefined; // a cancelled check is asked again next time
      if (e instanceof ToolMissing) return this.#missingTesseract();
      throw e;
    }
    // "List of available languages in "/usr/share/tesseract-ocr/5/tessdata/" (3):\neng\nosd\nvie"
    const installed = out
      .toString("utf8")
      .split("\n")
      .slice(1)
      .map((l) => l.trim())
      .filter(Boolean);
    const missing = this.languages.split("+").filter((l) => !installed.includes(l));
    if (missing.length > 0) {
      throw new InfuseError(
        "rag.ocr_language_missing",
        `OCR language${missing.length > 1 ? "s" : ""} ${missing.map((l) => `"${l}"`).join(", ")} not installed for ${this.tesseract} (installed: ${installed.join(", ") || "none"})`,
        {
          kind: "usage",
          hint: `install ${missing.length > 1 ? "them" : "it"} (apt-get install ${missing.map(debPackage).join(" ")}; macOS: brew install tesseract-lang), or pick installed ones with --ocr-lang / ingest.ocr.languages, joined by "+" (e.g. eng+vie)`,
          details: { option: "ocr.languages", missing, installed },
        },
      );
    }
    return undefined;
  }

  #missingTesseract(): OcrUnavailable {
    const langs = this.languages.split("+");
    const packages = ["tesseract-ocr", ...new Set(["eng", ...langs].filter((l) => l !== "osd"))].map((l, i) =>
      i === 0 ? l : debPackage(l),
    );
    return {
      reason: `needs OCR, and tesseract was not found (${this.tesseract})`,
      hint: `install Tesseract: apt-get install ${packages.join(" ")} (Debian/Ubuntu), brew install tesseract${langs.some((l) => l !== "eng") ? " tesseract-lang" : ""} (macOS); or set INFUSE_TESSERACT or ingest.ocr.tesseract to its path`,
    };
  }

  /** Undefined when pdftoppm runs; why not, with an install hint, otherwise. Asked once. */
  rendererReady(signal?: AbortSignal): Promise<OcrUnavailable | undefined> {
    this.#renderer ??= this.#run(this.pdftoppm, ["-v"], "checking pdftoppm", signal).then(
      () => undefined,
      (e: unknown) => {
        this.#renderer = undefined;
        if (!(e instanceof ToolMissing)) throw e;
        return {
          reason: `needs OCR, and pdftoppm (poppler) was not found to render it (${this.pdftoppm})`,
          hint: "install poppler: apt-get install poppler-utils (Debian/Ubuntu), brew install poppler (macOS); or set INFUSE_PDFTOPPM or ingest.ocr.pdftoppm to its path",
        };
      },
    );
    return this.#renderer;
  }

  /** Text of an image (PNG, JPEG, TIFF: any format leptonica reads), one entry per image page. */
  async recognize(image: Uint8Array, what: string, signal?: AbortSignal, dpi?: number): Promise<OcrPage[]> {
    const args = ["stdin", "stdout", "-l", this.languages, "--psm", "3", ...(dpi ? ["--dpi", String(dpi)] : []), "tsv"];
    const out = await this.#run(this.tesseract, args, `OCR of ${what}`, signal, image);
    return parseTsv(out.toString("utf8"));
  }

  /** One PDF page (1-based) of the PDF at `pdfFile`, rendered as a grayscale PNG at `dpi`. */
  renderPage(pdfFile: string, page: number, what: string, signal?: AbortSignal): Promise<Buffer> {
    const n = String(page);
    const args = ["-png", "-gray", "-r", String(this.dpi), "-f", n, "-l", n, "-singlefile", pdfFile];
    return this.#run(this.pdftoppm, args, `rendering ${what}`, signal);
  }

  #run(binary: string, args: string[], what: string, signal?: AbortSignal, input?: Uint8Array): Promise<Buffer> {
    return runTool(binary, args, {
      what,
      timeoutMs: this.#timeoutMs,
      ...(signal ? { signal } : {}),
      ...(input ? { input } : {}),
    });
  }
}

let shared: OcrEngine | undefined;

/** The engine of loads that name none (loadFile, loadBytes): default settings, env overrides. */
export function defaultOcr(): OcrEngine {
  shared ??= new OcrEngine();
  return shared;
}
