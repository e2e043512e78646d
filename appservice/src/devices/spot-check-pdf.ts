import type { SpotCheck } from "../domain/devices/spot-check.js";
import type { SpotCheckPdfRenderer } from "../domain/devices/spot-checks.js";

const ANSWERS = { yes: "yes", no: "NO", "not-checked": "not checked" } as const;
const OUTCOMES = { "meets-policy": "Meets policy", "action-needed": "Action needed", "not-reached": "Not reached" } as const;

/** The spot check as an A4 report for the IG lead's file: the sample, each person's findings and checklist. */
export class PdfKitSpotCheckRenderer implements SpotCheckPdfRenderer {
  async render(check: SpotCheck, generatedAt: Date): Promise<Uint8Array> {
    // pdfkit is loaded on first use, as for filing: most processes never draw a PDF.
    const { default: PDFDocument } = await import("pdfkit");
    const doc = new PDFDocument({ size: "A4", margin: 50, lang: "en-GB", info: { Title: `Device spot check ${check.id}`, Author: "Handover" } });
    const chunks: Buffer[] = [];
    const done = new Promise<Uint8Array>((resolve, reject) => {
      doc.on("data", (chunk: Buffer) => chunks.push(chunk));
      doc.on("end", () => resolve(new Uint8Array(Buffer.concat(chunks))));
      doc.on("error", reject);
    });
    doc.font("Helvetica-Bold").fontSize(16).text(`Device spot check ${check.id}`);
    doc.font("Helvetica").fontSize(9).fillColor("#425563");
    const asked =
      (check.sample.people !== null ? `${check.sample.people} people` : `${Math.round((check.sample.share ?? 0) * 100)}% of people`) +
      (check.sample.group ? ` in the directory group "${check.sample.group}"` : "");
    doc.text(`Started ${check.startedAt} by ${check.startedBy} (${check.trigger}); sample of ${asked}, ${check.people.length} of ${check.sample.outOf}.`);
    doc.text(`Outcomes recorded for ${check.recorded} of ${check.people.length}. Report generated ${generatedAt.toISOString()}.`);
    doc.moveDown();
    for (const person of check.people) {
      doc
        .fillColor("#000000")
        .font("Helvetica-Bold")
        .fontSize(11)
        .text(`${person.displayName ?? person.userId} (${person.userId})`);
      doc.font("Helvetica").fontSize(9);
      doc.text(person.meetsServerPolicy ? "Homeserver: meets the policy." : `Homeserver: ${person.findings.join("; ")}.`);
      if (person.checklist) {
        doc.text(
          `Screen lock: ${ANSWERS[person.checklist.screenLock]}; photo library unlinked: ${ANSWERS[person.checklist.photoLibraryUnlinked]}; lock-screen previews off: ${ANSWERS[person.checklist.lockScreenPreviewsOff]}.`,
        );
      }
      doc.text(
        person.outcome
          ? `Outcome: ${OUTCOMES[person.outcome]}, recorded by ${person.recordedBy} at ${person.recordedAt}.${person.note ? ` Note: ${person.note}` : ""}`
          : "Outcome: not recorded yet.",
      );
      doc.moveDown(0.6);
    }
    doc.end();
    return done;
  }
}
