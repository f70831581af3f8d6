// The web UI in a real browser (Debian's chromium through playwright-core) against a real infuse
// server on 127.0.0.1 (stories260K as the chat model, the hashing embedder): drop a PDF into a
// collection and see it ingested, ask it and open a cited passage, compare two answers, start a
// short tune and watch the loss chart move, cancel it. Saves a screenshot of each page (desktop,
// and the chat at phone width) to docs/screenshots/.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PDFDocument, StandardFonts } from "pdf-lib";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHAT_MODEL, testServer, type TestServer } from "../server/helpers.js";

const CHROMIUM = "/usr/bin/chromium";
const root = path.resolve(import.meta.dirname, "../..");
const shots = path.join(root, "docs", "screenshots");
const available = existsSync(CHROMIUM);
if (!available) {
  if (process.env.CI === "true") throw new Error(`CI needs ${CHROMIUM} (installed by .ci/run)`);
  console.warn(`skipping the browser tests: ${CHROMIUM} is not installed (apt-get install chromium)`);
}

/** A file name that would run script if any UI wrote it as HTML. */
const HOSTILE = '<img src=x onerror="window.pwned=1">.bin';

let server: TestServer;
let browser: Browser;
let page: Page;

async function policyPdf(): Promise<Uint8Array> {
  const pdf = await PDFDocument.create();
  const font = await pdf.embedFont(StandardFonts.Helvetica);
  const lines = [
    ["Harbor Labs security policy", "This policy applies to every laptop and account."],
    ["Passwords", "Passwords must be at least 14 characters long.", "Rotate them when a breach is suspected."],
  ];
  for (const text of lines) {
    const p = pdf.addPage([595, 842]);
    text.forEach((line, i) => p.drawText(line, { x: 50, y: 780 - i * 24, size: i === 0 ? 18 : 12, font }));
  }
  return pdf.save();
}

async function startTune(steps: string): Promise<void> {
  await page.goto(`${server.url}/#/train`);
  const rows = Array.from({ length: 8 }, (_, i) => JSON.stringify({ instruction: `Name ${i}?`, output: `Tom ${i}.` }));
  await page.getByLabel("Training data").setInputFiles({
    name: "facts.jsonl",
    mimeType: "application/jsonl",
    buffer: Buffer.from(rows.join("\n") + "\n"),
  });
  await page.getByLabel("Steps", { exact: true }).fill(steps);
  await page.getByLabel("Eval every (steps)").fill("1");
  await page.getByRole("button", { name: "Start training" }).click();
}

const shot = (name: string) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });

beforeAll(async () => {
  if (!available) return;
  const web = mkdtempSync(path.join(os.tmpdir(), "infuse-web-ui-"));
  execFileSync(process.execPath, [path.join(root, "scripts/build-web.mjs"), "--out", web]);
  // rag:policies answers extractively (its rag.llm is not installed: infuse says so and cites passages),
  // so its streamed answer carries [n] markers; stories260K is the model to chat with and to tune
  server = await testServer(
    { models: ["rag:policies", CHAT_MODEL] },
    { webUiDir: web, configFile: { rag: { llm: { provider: "engine", model: "/nonexistent/not-installed.gguf" } } } },
  );
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(30_000);
  mkdirSync(shots, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe.skipIf(!available)("web UI in chromium", () => {
  it("drops a PDF into a new collection and shows it ingested; a bad file fails alone, its name shown as text", async () => {
    await page.goto(`${server.url}/#/collections`);
    await page.getByLabel("New collection").fill("policies");
    await page.getByRole("button", { name: "Create", exact: true }).click();
    await page.getByRole("heading", { name: "Add documents to policies" }).waitFor();
    const pdf = Buffer.from(await policyPdf()).toString("base64");
    // a real drop event carrying the file, as a drag from the desktop delivers it
    await page.evaluate(`(() => {
      const bytes = Uint8Array.from(atob("${pdf}"), (c) => c.charCodeAt(0));
      const data = new DataTransfer();
      data.items.add(new File([bytes], "policy.pdf", { type: "application/pdf" }));
      data.items.add(new File([new Uint8Array([0, 1, 2, 255, 254, 0, 7])], ${JSON.stringify(HOSTILE)}));
      document.querySelector(".dropzone").dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true }));
    })()`);
    await page.locator('.upload[data-file="policy.pdf"][data-status="done"]').waitFor();
    const bad = page.locator('.upload[data-status="failed"]');
    await expect.poll(() => bad.locator(".error").innerText(), { timeout: 60_000 }).toContain(HOSTILE);
    expect(await page.locator(".uploads img").count()).toBe(0);
    expect(await page.evaluate("window.pwned")).toBeUndefined();
    await page.getByRole("button", { name: "policies", exact: true }).click();
    await expect.poll(() => page.locator(".documents").innerText(), { timeout: 60_000 }).toContain("policy.pdf");
    await shot("collections");
  });

  it("streams a cited answer from rag:policies; [n] opens the passage with its page", async () => {
    await page.goto(`${server.url}/#/chat`);
    await page.getByLabel("Model or collection").selectOption("rag:policies");
    await page.getByLabel("Your question").fill("How long must passwords be?");
    await page.getByLabel("Your question").press("Enter");
    await page.locator('.answer[data-streaming="false"]').waitFor();
    const cite = page.locator(".answer .cite").first();
    await cite.click();
    const dialog = page.getByRole("dialog");
    await expect.poll(() => dialog.locator("h2").innerText(), { timeout: 60_000 }).toContain("policy.pdf");
    expect(await page.locator(".answer-text").first().innerText()).toContain("14 characters");
    await shot("chat-citation");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    await page.setViewportSize({ width: 390, height: 844 });
    await shot("chat-phone");
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it("asks a collection through the REST route and lists every passage it was given", async () => {
    await page.goto(`${server.url}/#/chat`);
    await page.getByLabel("Model or collection").selectOption("collection:policies");
    await page.getByLabel("Your question").fill("Which laptops does the policy cover?");
    await page.getByRole("button", { name: "Send" }).click();
    await page.locator(".sources button", { hasText: "policy.pdf p.2" }).first().click();
    await expect
      .poll(() => page.getByRole("dialog").locator(".passage-page").innerText(), { timeout: 60_000 })
      .toBe("2");
    await page.getByRole("dialog").getByRole("button", { name: "Close" }).click();
  });

  it("trains to the end: the adapter's files download, and it answers beside its base", async () => {
    await startTune("2");
    await page.locator('.job[data-status="done"]').waitFor({ timeout: 60_000 });
    const links = page.getByRole("list", { name: "Adapter files" }).getByRole("link");
    const names = await links.allInnerTexts();
    expect(names).toContain("adapter_model.safetensors");
    const href = await links.filter({ hasText: "adapter_config.json" }).getAttribute("href");
    const config = await page.request.get(`${server.url}${href}`);
    expect(config.status()).toBe(200);
    expect(JSON.parse(await config.text())).toHaveProperty("r");
    const tuned = await page.locator(".adapter .mono").innerText();
    await page.goto(`${server.url}/#/compare`);
    await page.getByLabel("Model A").selectOption(CHAT_MODEL);
    await page.getByLabel("Model B").selectOption(tuned);
    await page.getByLabel("Question").fill("Name 1?");
    await page.getByRole("button", { name: "Ask both" }).click();
    await page.locator('article[aria-busy="false"]').nth(1).waitFor({ timeout: 60_000 });
    expect(await page.locator("article h2").allInnerTexts()).toEqual([CHAT_MODEL, tuned]);
    expect(await page.locator("article .error").count()).toBe(0);
    await shot("compare");
  });

  it("starts a tune, shows the loss chart move, and cancels it", async () => {
    await startTune("100000");
    await expect
      .poll(async () => Number(await page.locator(".chart").getAttribute("data-points")), { timeout: 60_000 })
      .toBeGreaterThan(2);
    expect(await page.locator(".stat-loss").innerText()).toMatch(/^\d+\.\d{4}$/);
    await shot("training");
    await page.getByRole("button", { name: "Cancel" }).click();
    await page.locator('.job[data-status="cancelled"]').waitFor();
  });

  it("creates and deletes a collection", async () => {
    await page.goto(`${server.url}/#/collections`);
    await page.getByLabel("New collection").fill("scratch");
    await page.getByRole("button", { name: "Create", exact: true }).click();
    const card = page.locator('.card[data-collection="scratch"]');
    await card.waitFor();
    page.once("dialog", (d) => void d.accept());
    await page.getByRole("button", { name: "Delete scratch" }).click();
    await card.waitFor({ state: "detached" });
  });

  it("runs a retrieval evaluation on an uploaded BEIR set and shows its report", async () => {
    await page.goto(`${server.url}/#/eval`);
    const corpus = [
      { _id: "d1", title: "Passwords", text: "Passwords must be at least 14 characters long." },
      { _id: "d2", title: "Travel", text: "Claim travel expenses within 30 days." },
      { _id: "d3", title: "Laptops", text: "Every laptop has disk encryption turned on." },
    ];
    const queries = [
      { _id: "q1", text: "how long are passwords" },
      { _id: "q2", text: "travel expenses claim" },
    ];
    const file = (name: string, text: string) => ({ name, mimeType: "text/plain", buffer: Buffer.from(text) });
    const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
    await page.getByLabel("Corpus").setInputFiles(file("corpus.jsonl", jsonl(corpus)));
    await page.getByLabel("Queries").setInputFiles(file("queries.jsonl", jsonl(queries)));
    await page
      .getByLabel("Relevance judgements")
      .setInputFiles(file("test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n"));
    await page.getByLabel("Recipes").fill("bm25");
    await page.getByRole("button", { name: "Run evaluation" }).click();
    const row = page.locator(".report tbody tr", { hasText: "bm25" });
    await row.waitFor({ timeout: 60_000 });
    expect(await row.locator("td").first().innerText()).toMatch(/^\d\.\d{3}$/);
    const report = await page.getByRole("link", { name: "Download the HTML report" }).getAttribute("href");
    expect((await page.request.get(`${server.url}${report}`)).status()).toBe(200);
    await shot("evaluation");
  });

  it("lists the recommended models on the setup page, and says an offline server keeps the embedded defaults", async () => {
    await page.goto(`${server.url}/#/setup`);
    // the test server is offline (INFUSE_OFFLINE=1): no download is offered, the defaults stay
    await expect
      .poll(() => page.getByRole("status").first().innerText(), { timeout: 60_000 })
      .toContain("works offline with its embedded defaults");
    await expect.poll(() => page.locator(".documents li").count()).toBe(3);
    expect(await page.getByRole("button", { name: /^Download/ }).count()).toBe(0);
    await shot("setup");
  });
});
