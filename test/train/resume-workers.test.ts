// Resume of a data-parallel run (--workers 2): a run aborted after step 3 saves a checkpoint, and
// --resume finishes it to the adapter bytes and metrics of an uninterrupted 2-worker run. Dropout is on,
// so the worker's dropout stream has to follow the step the run resumed at, not restart.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "vitest";
import type { TuneOptions } from "../../src/train/options.js";
import { fixture } from "../helpers/fixtures.js";
import { QA_TEMPLATE, expectBitExactResume, factRecords, tempDir, writeJsonl } from "./helpers.js";

const dir = tempDir();
const data = writeJsonl(path.join(dir, "fact.jsonl"), factRecords(24));
writeFileSync(path.join(dir, "qa.txt"), QA_TEMPLATE);
const base = (out: string): TuneOptions => ({
  model: fixture("models/stories260K-gguf/stories260K.gguf"),
  data: [{ path: data }],
  out,
  template: path.join(dir, "qa.txt"),
  maxSteps: 5,
  batchSize: 4,
  gradAccum: 2,
  lr: 5e-3,
  dropout: 0.1,
  evalEvery: 2,
  seed: 3,
  workers: 2,
});
describe("resume with 2 workers", () => {
  it("continues an aborted 2-worker run bit for bit", () => expectBitExactResume(base, dir, 3, 5), 300_000);
});
