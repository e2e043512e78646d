import type { Bundle } from "@medplum/fhirtypes";
import type { Clock } from "../clock.js";
import { HandoverError } from "../errors.js";
import type { MatrixEvent } from "../matrix-event.js";
import { captureOf } from "./capture.js";
import type { ConversationReader, TimelineRange } from "./conversation.js";
import { buildFilingBundle, embeddedFiles, type FilingCodes, withPdf } from "./fhir-bundle.js";
import type { FiledDocument, Filing } from "./filing.js";
import type { PatientDetails } from "./patient.js";
import { assembleTranscript, type TranscriptFile, type TranscriptMessage } from "./transcript.js";
import { type StructuralValidator, ukCoreProblems } from "./uk-core-checks.js";

export interface TranscriptDocument {
  exportId: string;
  title: string;
  roomName: string | null;
  patient: PatientDetails;
  messages: TranscriptMessage[];
  createdAt: Date;
  /** IANA zone times are shown in, with their offset. */
  timeZone: string;
  /** The FHIR bundle (without the PDF itself), attached inside the PDF. */
  bundleJson: string;
}

/** Renders the PDF/A transcript. */
export interface TranscriptRenderer {
  render(document: TranscriptDocument): Promise<Uint8Array>;
}

export interface FilingComposerDeps {
  reader: ConversationReader;
  renderer: TranscriptRenderer;
  /**
   * The UK Core profiles themselves (StructureDefinitions walked element by element), on the
   * final bundle: structure, cardinality, types, formats, bindings and invariants.
   */
  profile: StructuralValidator;
  clock: Clock;
  botUserId: string;
  identifierSystem: string;
  codes: FilingCodes;
  custodianOdsCode: string | null;
  timeZone: string;
  maxImageBytes: number;
  /** Largest file, audio or video embedded; larger ones are named in the transcript as not captured. */
  maxAttachmentBytes: number;
  /**
   * Events of the room already in another filing's document: a room filing also covers its
   * threads and a thread filing covers part of its room, so each leaves out what the other holds.
   */
  filedElsewhere(roomId: string, exceptExportId: string | null): Promise<ReadonlySet<string>>;
}

/** What a filing would hold, shown before anyone confirms it. */
export interface FilingPreview {
  messages: TranscriptMessage[];
  roomName: string | null;
  /** The newest event read: the filing's end. */
  upToEvent: { eventId: string; ts: Date } | null;
}

function tooLarge(file: TranscriptFile, limit: number): void {
  file.bytes = null;
  file.notCaptured = `larger than the ${formatBytes(limit)} limit`;
}

function formatBytes(bytes: number): string {
  return bytes % 1_048_576 === 0 ? `${bytes / 1_048_576} MiB` : bytes >= 1_000_000 ? `${(bytes / 1_000_000).toFixed(1)} MB` : `${bytes} bytes`;
}

/** Reads a conversation and turns it into the filed document: PDF/A transcript plus FHIR bundle, checked. */
export class FilingComposer {
  constructor(private readonly deps: FilingComposerDeps) {}

  async preview(roomId: string, threadRootId: string | null, afterEventId: string | null): Promise<FilingPreview> {
    const timeline = await this.deps.reader.read(roomId, { afterEventId, upToEventId: null });
    const filed = await this.deps.filedElsewhere(roomId, null);
    const messages = assembleTranscript(timeline, { botUserId: this.deps.botUserId, threadRootId }).filter((message) => !filed.has(message.eventId));
    const newest = timeline.events[timeline.events.length - 1];
    return { messages, roomName: timeline.roomName, upToEvent: newest ? { eventId: newest.event_id, ts: new Date(newest.origin_server_ts) } : null };
  }

  async compose(filing: Filing): Promise<FiledDocument> {
    const range: TimelineRange = { afterEventId: filing.afterEventId, upToEventId: filing.upToEventId };
    const timeline = await this.deps.reader.read(filing.roomId, range);
    const filed = await this.deps.filedElsewhere(filing.roomId, filing.exportId);
    const messages = assembleTranscript(timeline, { botUserId: this.deps.botUserId, threadRootId: filing.threadRootId }).filter(
      (message) => !filed.has(message.eventId),
    );
    if (messages.length === 0) throw new HandoverError("CONFLICT", "The messages of this filing can no longer be read from the room; nothing was filed.");
    await this.downloadImages(messages);
    await this.downloadFiles(messages);
    const events = timeline.events.filter((event) => !filed.has(event.event_id));
    return this.document(filing, timeline.roomName, messages, { events, threadRootId: filing.threadRootId });
  }

  /** Bundle and PDF from messages already read: also what the bench measures. */
  async document(
    filing: Pick<Filing, "exportId" | "patient" | "roomId">,
    roomName: string | null,
    messages: TranscriptMessage[],
    read: { events: readonly MatrixEvent[]; threadRootId: string | null } = { events: [], threadRootId: null },
  ): Promise<FiledDocument> {
    const createdAt = this.deps.clock.now();
    const title = `Conversation in ${roomName ?? filing.roomId} (${messages.length} messages)`;
    const bundle = buildFilingBundle({
      exportId: filing.exportId,
      identifierSystem: this.deps.identifierSystem,
      patient: filing.patient,
      messages,
      codes: this.deps.codes,
      title,
      createdAt,
      custodianOdsCode: this.deps.custodianOdsCode,
    });
    const pdf = await this.deps.renderer.render({
      exportId: filing.exportId,
      title,
      roomName,
      patient: filing.patient,
      messages,
      createdAt,
      timeZone: this.deps.timeZone,
      bundleJson: JSON.stringify(bundle, null, 1),
    });
    const filed = withPdf(bundle, { data: pdf }, embeddedFiles(messages));
    // Both see the final bundle, the attachments' data, size and hash included.
    this.check(filed, this.deps.profile.validate(filed));
    return {
      pdf,
      bundleJson: JSON.stringify(filed),
      eventIds: messages.map((message) => message.eventId),
      capture: captureOf(read.events, messages, { botUserId: this.deps.botUserId, threadRootId: read.threadRootId }),
    };
  }

  private check(bundle: Bundle, structural: string[]): void {
    const problems = [...ukCoreProblems(bundle), ...structural];
    if (problems.length > 0) {
      throw new HandoverError(
        "VALIDATION_FAILED",
        `The filing did not pass FHIR validation: ${problems.slice(0, 5).join("; ")}`,
        problems.map((problem) => ({ path: problem.split(":")[0] ?? "", message: problem })),
      );
    }
  }

  private async downloadImages(messages: TranscriptMessage[]): Promise<void> {
    for (const message of messages) {
      if (!message.image) continue;
      try {
        const media = await this.deps.reader.media(message.image.mxcUrl, this.deps.maxImageBytes);
        message.image.bytes = media.bytes;
        message.image.mimetype = media.contentType || message.image.mimetype;
      } catch {
        // The transcript says the image could not be embedded; the rest of the record still matters.
        message.image.bytes = null;
      }
    }
  }

  /** Files up to maxAttachmentBytes go into the document; larger or unreadable ones are named as not captured. */
  private async downloadFiles(messages: TranscriptMessage[]): Promise<void> {
    const limit = this.deps.maxAttachmentBytes;
    for (const file of messages.flatMap((message) => (message.file ? [message.file] : []))) {
      if (file.declaredSize !== null && file.declaredSize > limit) {
        tooLarge(file, limit);
        continue;
      }
      try {
        const media = await this.deps.reader.media(file.mxcUrl, limit);
        file.bytes = media.bytes;
        file.mimetype = media.contentType || file.mimetype;
        file.notCaptured = null;
      } catch (error) {
        if (error instanceof HandoverError && error.message.includes("larger than")) tooLarge(file, limit);
        else file.notCaptured = "could not be retrieved";
      }
    }
  }
}
