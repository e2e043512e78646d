import { COMMAND_PREFIX, type RoomNotifier } from "../commands/bot-commands.js";
import { HandoverError } from "../errors.js";
import type { MatrixEvent } from "../matrix-event.js";
import type { Filing } from "./filing.js";
import type { FilingRequests } from "./filing-requests.js";
import { describePatient, type PatientLinkStore } from "./patient.js";
import type { PatientLinking, PatientLookupOutcome } from "./patient-linking.js";

/** The verbs this capability answers, with their help lines. */
export const RECORDS_COMMANDS = {
  patient: "!handover patient <NHS number>: link this room (or this thread) to a patient, e.g. !handover patient 943 476 5919",
  file: "!handover file: file this room (or thread) since the last filing into the patient's record; a room member confirms first",
  confirm: "!handover confirm <code>: confirm a filing the bot has described",
} as const;

export interface MembershipReader {
  /** The user's membership in the room ("join", "leave", ...), or null when never a member. */
  membership(roomId: string, userId: string): Promise<string | null>;
}

export interface RecordsCommandDeps {
  botUserId: string;
  notifier: RoomNotifier;
  members: MembershipReader;
  linking: PatientLinking;
  links: PatientLinkStore;
  requests: FilingRequests;
  /** Makes the first attempt of a confirmed filing (it tells the room the outcome). */
  attempt(exportId: string): Promise<unknown>;
  formatTime(at: Date): string;
  confirmationTtlMinutes: number;
}

function threadOf(event: MatrixEvent): string | null {
  const relation = event.content["m.relates_to"] as { rel_type?: unknown; event_id?: unknown } | undefined;
  return relation?.rel_type === "m.thread" && typeof relation.event_id === "string" ? relation.event_id : null;
}

const LOOKUP_NOTE: Record<PatientLookupOutcome, string> = {
  found: "Check this is the right patient before filing.",
  "not-found": "The trust's record has no patient with this NHS number: check the number before filing.",
  unavailable: "The trust's record could not be searched just now, so the name and date of birth are not shown: check the number carefully.",
  "not-searched": "This trust's record cannot be searched from Handover: check the number carefully.",
};

/** `!handover patient|file|confirm`: linking a conversation to a patient and filing it. */
export class RecordsCommands {
  constructor(private readonly deps: RecordsCommandDeps) {}

  async handle(event: MatrixEvent): Promise<void> {
    if (event.type !== "m.room.message" || event.sender === this.deps.botUserId) return;
    const body = event.content.body;
    if (typeof body !== "string" || !body.startsWith(`${COMMAND_PREFIX} `)) return;
    const [verb, ...args] = body.slice(COMMAND_PREFIX.length).trim().split(/\s+/);
    const lowered = verb?.toLowerCase();
    if (lowered !== "patient" && lowered !== "file" && lowered !== "confirm") return;
    const reply = (text: string) => this.deps.notifier.notice(event.room_id, text, `reply:${event.event_id}`);
    try {
      if (lowered === "patient") await reply(await this.patient(event, args.join(" ")));
      else if (lowered === "file") await reply(await this.file(event));
      else await this.confirm(event, args, reply);
    } catch (error) {
      if (!(error instanceof HandoverError) || error.code === "INTERNAL") throw error;
      await reply(error.message);
    }
  }

  private async patient(event: MatrixEvent, text: string): Promise<string> {
    const threadRootId = threadOf(event);
    const where = threadRootId ? "This thread" : "This room";
    if (text.trim() === "") {
      const link = await this.deps.linking.linkedFor(event.room_id, threadRootId, event.sender, "command");
      return link ? `${where} is linked to ${describePatient(link.patient)}.` : `${where} is not linked to a patient. ${RECORDS_COMMANDS.patient}`;
    }
    const { link, lookup } = await this.deps.linking.link(event.room_id, threadRootId, text, event.sender, "command");
    return `${where} is now linked to ${describePatient(link.patient)}. ${LOOKUP_NOTE[lookup]}`;
  }

  private async file(event: MatrixEvent): Promise<string> {
    // The answer names the patient: asked by whom may not see it, it is refused before anything is requested.
    await this.deps.linking.linkedFor(event.room_id, threadOf(event), event.sender, "command");
    const filing = await this.deps.requests.request(event.room_id, threadOf(event), event.sender, "command");
    return [
      `Ready to file ${filing.messageCount} message${filing.messageCount === 1 ? "" : "s"} (${this.deps.formatTime(filing.firstTs)} to ${this.deps.formatTime(filing.upToTs)}) into the record of ${describePatient(filing.patient)}.`,
      `${this.deps.requests.whoConfirms(filing)} confirms with: ${COMMAND_PREFIX} confirm ${filing.confirmCode} (within ${this.deps.confirmationTtlMinutes} minutes).`,
    ].join("\n");
  }

  private async confirm(event: MatrixEvent, args: string[], reply: (text: string) => Promise<void>): Promise<void> {
    const code = args[0];
    if (!code || args.length !== 1) {
      await reply(`Usage: ${RECORDS_COMMANDS.confirm}`);
      return;
    }
    if ((await this.deps.members.membership(event.room_id, event.sender)) !== "join") {
      await reply("Only a member of this room can confirm a filing.");
      return;
    }
    const filing: Filing = await this.deps.requests.confirmByCode(event.room_id, code, event.sender);
    await reply(`Confirmed by ${event.sender}: filing ${filing.messageCount} messages to the record now.`);
    await this.deps.attempt(filing.exportId);
  }
}
