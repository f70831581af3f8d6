// Writes the PDF and DOCX of the demo corpus (examples/sample-docs) with pdf-lib and docx,
// so the binary samples are reproducible: `npx tsx examples/make-sample-docs.ts`.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Document, HeadingLevel, Packer, Paragraph } from "docx";
import { PDFDocument, StandardFonts } from "pdf-lib";

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), "sample-docs");

/** A PDF with one page per entry, each a list of text lines. */
export async function makePdf(pages: string[][]): Promise<Uint8Array> {
  const pdf = await PDFDocument.create();
  const font = await pdf.embedFont(StandardFonts.Helvetica);
  pdf.setCreationDate(new Date(0));
  pdf.setModificationDate(new Date(0));
  for (const lines of pages) {
    const page = pdf.addPage([595, 842]);
    lines.forEach((line, i) => page.drawText(line, { x: 50, y: 780 - i * 18, size: 11, font }));
  }
  return pdf.save();
}

/** A DOCX of headings (`# `, `## `) and paragraphs. */
export async function makeDocx(lines: string[]): Promise<Buffer> {
  const children = lines.map((line) => {
    if (line.startsWith("## ")) return new Paragraph({ text: line.slice(3), heading: HeadingLevel.HEADING_2 });
    if (line.startsWith("# ")) return new Paragraph({ text: line.slice(2), heading: HeadingLevel.HEADING_1 });
    return new Paragraph({ text: line });
  });
  return Packer.toBuffer(new Document({ creator: "infuse", sections: [{ children }] }));
}

export const SECURITY_PDF = [
  [
    "Harbor Labs security policy (sample data for the infuse demo)",
    "",
    "1. Passwords",
    "Passwords must be at least 14 characters long and are stored in the company password",
    "manager. Never reuse a password across services. Two-factor authentication is",
    "required for email, source control and the cloud console.",
  ],
  [
    "2. Reporting incidents",
    "Report a lost laptop, a phishing email or any suspected breach to security@harborlabs.example",
    "within 24 hours. The security lead answers within one working day.",
    "3. Laptops",
    "Laptops use full-disk encryption and lock after five minutes without input.",
  ],
];

export const ONBOARDING_DOCX = [
  "# Onboarding guide",
  "Welcome to Harbor Labs. This guide is sample data for the infuse demo.",
  "## Your first day",
  "Your buddy meets you at the front desk at 09:30 and hands you a laptop, a badge and a coffee card.",
  "## Your first week",
  "In your first week you pair with your buddy, ship one small change to TideCast, and meet every team lead.",
  "## Accounts",
  "IT creates your email and chat accounts before you start; request access to the cloud console from your team lead.",
];

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await writeFile(path.join(dir, "security-policy.pdf"), await makePdf(SECURITY_PDF));
  await writeFile(path.join(dir, "onboarding.docx"), await makeDocx(ONBOARDING_DOCX));
  process.stdout.write(`wrote security-policy.pdf and onboarding.docx in ${dir}\n`);
}
