import { embeddedFiles } from "../domain/records/fhir-bundle.js";
import type { TranscriptDocument, TranscriptRenderer } from "../domain/records/filing-composer.js";
import { formatNhsNumber } from "../domain/records/nhs-number.js";
import { fileLine, isDrawableImage, type TranscriptMessage } from "../domain/records/transcript.js";

export interface TranscriptPdfOptions {
  regularFont: string;
  boldFont: string;
}

export const DEJAVU_FONTS: TranscriptPdfOptions = {
  regularFont: "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
  boldFont: "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
};

const MARGIN = { top: 78, bottom: 56, left: 50, right: 50 };
const IMAGE_BOX: [number, number] = [260, 220];

function timeFormatter(timeZone: string): (at: Date) => string {
  const format = new Intl.DateTimeFormat("en-GB", {
    timeZone,
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    timeZoneName: "short",
  });
  return (at) => format.format(at);
}

/** Embedded files are keyed by name in the PDF: a second "scan.pdf" becomes "scan (2).pdf". */
function uniqueNames(names: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return names.map((name) => {
    const count = (seen.get(name) ?? 0) + 1;
    seen.set(name, count);
    if (count === 1) return name;
    const dot = name.lastIndexOf(".");
    return dot > 0 ? `${name.slice(0, dot)} (${count})${name.slice(dot)}` : `${name} (${count})`;
  });
}

/**
 * The filed transcript as PDF/A-3b on A4: DejaVu Sans embedded (PDF/A needs every font
 * embedded), the patient's NHS number in every page's header, images drawn inline, and the
 * FHIR bundle attached as an associated file.
 */
export class PdfKitTranscriptRenderer implements TranscriptRenderer {
  constructor(private readonly options: TranscriptPdfOptions = DEJAVU_FONTS) {}

  async render(input: TranscriptDocument): Promise<Uint8Array> {
    // pdfkit costs ~27 MB resident: loaded on the first filing, not by every Handover.
    const { default: PDFDocument } = await import("pdfkit");
    const at = timeFormatter(input.timeZone);
    const doc = new PDFDocument({
      size: "A4",
      margins: MARGIN,
      subset: "PDF/A-3b",
      pdfVersion: "1.7",
      lang: "en-GB",
      displayTitle: true,
      info: { Title: input.title, Author: "Handover", Subject: `Conversation filed to the patient record (${input.exportId})`, CreationDate: input.createdAt },
    });
    const chunks: Buffer[] = [];
    const done = new Promise<Uint8Array>((resolve, reject) => {
      doc.on("data", (chunk: Buffer) => chunks.push(chunk));
      doc.on("end", () => {
        // A view of the joined bytes: `new Uint8Array(buffer)` would hold the PDF twice while copying.
        const joined = Buffer.concat(chunks);
        resolve(new Uint8Array(joined.buffer, joined.byteOffset, joined.byteLength));
      });
      doc.on("error", reject);
    });
    doc.registerFont("regular", this.options.regularFont);
    doc.registerFont("bold", this.options.boldFont);
    let page = 0;
    const header = () => {
      page++;
      const { x, y } = doc;
      const patient = `Patient NHS number: ${formatNhsNumber(input.patient.nhsNumber)}${input.patient.name ? `  ·  ${input.patient.name}` : ""}${input.patient.birthDate ? `  ·  born ${input.patient.birthDate}` : ""}`;
      doc.font("bold").fontSize(10).fillColor("#000000").text(patient, MARGIN.left, 30, { lineBreak: false });
      doc
        .font("regular")
        .fontSize(8)
        .fillColor("#425563")
        .text(`${input.title}  ·  export ${input.exportId}  ·  page ${page}`, MARGIN.left, 46, { lineBreak: false });
      doc
        .moveTo(MARGIN.left, 60)
        .lineTo(doc.page.width - MARGIN.right, 60)
        .strokeColor("#768692")
        .lineWidth(0.5)
        .stroke();
      doc.x = x;
      doc.y = y;
    };
    doc.on("pageAdded", header);
    header();
    doc.x = MARGIN.left;
    doc.y = MARGIN.top;
    doc.font("bold").fontSize(14).fillColor("#000000").text(input.title);
    doc.font("regular").fontSize(9).fillColor("#425563");
    const first = input.messages[0];
    const last = input.messages[input.messages.length - 1];
    if (first && last) doc.text(`From ${at(first.sentAt)} to ${at(last.sentAt)}. Filed ${at(input.createdAt)} by Handover. Times are ${input.timeZone}.`);
    doc.text("The FHIR bundle filed with this document is attached to it (filing-bundle.json).");
    doc.moveDown();
    for (const message of input.messages) this.message(doc, message, at);
    const files = embeddedFiles(input.messages);
    uniqueNames(files.map((file) => file.name)).forEach((name, index) => {
      const file = files[index];
      if (!file) return;
      doc.file(Buffer.from(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength), {
        name,
        type: file.mimetype,
        description: `Sent in the conversation as ${file.name}`,
        creationDate: input.createdAt,
        modifiedDate: input.createdAt,
        relationship: "Source",
      } as PDFKit.Mixins.PDFAttachmentOptions);
    });
    doc.file(Buffer.from(input.bundleJson, "utf8"), {
      name: "filing-bundle.json",
      type: "application/fhir+json",
      description: "FHIR R4 transaction bundle filed with this transcript (the PDF's own bytes omitted)",
      creationDate: input.createdAt,
      modifiedDate: input.createdAt,
      relationship: "Source",
    } as PDFKit.Mixins.PDFAttachmentOptions);
    doc.end();
    return done;
  }

  /**
   * A reaction key in glyphs the embedded font has: PDF/A forbids showing the .notdef glyph, and
   * DejaVu Sans has no emoji, so those are written as code points (U+1F44D).
   */
  private printable(doc: PDFKit.PDFDocument, text: string): string {
    const font = (doc as unknown as { _font?: { font?: { hasGlyphForCodePoint?: (codePoint: number) => boolean } } })._font?.font;
    const has = font?.hasGlyphForCodePoint?.bind(font);
    if (!has) return text;
    return [...text]
      .map((char) => {
        const codePoint = char.codePointAt(0) ?? 0;
        if (codePoint === 0xfe0f || codePoint === 0xfe0e) return "";
        return has(codePoint) ? char : `U+${codePoint.toString(16).toUpperCase().padStart(4, "0")}`;
      })
      .join("");
  }

  private message(doc: PDFKit.PDFDocument, message: TranscriptMessage, at: (date: Date) => string): void {
    if (doc.y > doc.page.height - MARGIN.bottom - 40) doc.addPage();
    doc.font("bold").fontSize(9).fillColor("#000000").text(`${message.senderName} (${message.sender})`, { continued: true });
    doc
      .font("regular")
      .fillColor("#425563")
      .text(`  ${at(message.sentAt)}${message.threadRootId ? "  ·  in a thread" : ""}`);
    if (message.replyTo) {
      const excerpt = message.replyTo.excerpt ? `: "${message.replyTo.excerpt}"` : "";
      doc.fontSize(8).fillColor("#425563").text(`In reply to ${message.replyTo.senderName}${excerpt}`, { indent: 12 });
    }
    doc.fontSize(10).fillColor("#000000");
    if (message.kind === "image" && message.image) {
      const { bytes, mimetype, name } = message.image;
      if (bytes && isDrawableImage(bytes, mimetype)) {
        if (doc.y + IMAGE_BOX[1] > doc.page.height - MARGIN.bottom) doc.addPage();
        doc.text(`Image: ${name}`);
        const top = doc.y;
        doc.image(Buffer.from(bytes), MARGIN.left, top, { fit: IMAGE_BOX });
        doc.y = top + IMAGE_BOX[1] + 4;
        doc.x = MARGIN.left;
      } else {
        doc.text(`Image: ${name} (${bytes ? `${mimetype}, attached to this PDF; not shown` : "could not be retrieved; not captured"})`);
      }
    } else if (message.file) {
      doc.text(fileLine(message.file));
    } else {
      doc.text(message.text || " ");
    }
    if (message.reactions?.length) {
      const shown = message.reactions.map((reaction) => `${this.printable(doc, reaction.key)} ${reaction.senderName} (${reaction.sender})`);
      doc
        .fontSize(8)
        .fillColor("#425563")
        .text(`Reactions: ${shown.join("; ")}`);
    }
    if (message.editedAt)
      doc
        .fontSize(8)
        .fillColor("#425563")
        .text(`Edited ${at(message.editedAt)}; the edited text is shown.`);
    doc.moveDown(0.6);
  }
}
