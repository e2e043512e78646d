import { describe, expect, it } from "vitest";
import { FakeClock, messageEvent } from "../../testing/fakes.js";
import { HandoverError } from "../errors.js";
import type { RoomTimeline } from "./conversation.js";
import type { Filing } from "./filing.js";
import { FilingComposer, type FilingComposerDeps } from "./filing-composer.js";
import type { NhsNumber } from "./nhs-number.js";

const ALICE = "@alice:trust-a.test";
const ROOT = "$root";

const timeline: RoomTimeline = {
  encrypted: false,
  roomName: "Ward 5",
  displayNames: { [ALICE]: "Dr Alice" },
  events: [
    messageEvent({ event_id: ROOT, sender: ALICE, body: "Bed 4: query sepsis" }),
    messageEvent({
      event_id: "$in-thread",
      sender: ALICE,
      content: { msgtype: "m.text", body: "Lactate 3.1", "m.relates_to": { rel_type: "m.thread", event_id: ROOT } },
    }),
    messageEvent({ event_id: "$later", sender: ALICE, body: "Family updated" }),
  ],
};

function composer(
  filedElsewhere: Set<string>,
  reader: FilingComposerDeps["reader"] = { read: async () => timeline, media: () => Promise.reject(new Error("no media")) },
  profileProblems: string[] = [],
) {
  return new FilingComposer({
    reader,
    renderer: { render: async () => new Uint8Array([37, 80, 68, 70]) },
    profile: { validate: () => profileProblems },
    clock: new FakeClock(),
    botUserId: "@handover:trust-a.test",
    identifierSystem: "https://trust-a.test/Id/handover-export",
    codes: { type: [{ system: "http://snomed.info/sct", code: "371531000" }], category: [{ system: "http://snomed.info/sct", code: "419891008" }] },
    custodianOdsCode: null,
    timeZone: "Europe/London",
    maxImageBytes: 1000,
    maxAttachmentBytes: 1000,
    filedElsewhere: async () => filedElsewhere,
  });
}

describe("filings leave out messages another filing of the room holds", () => {
  it("a room filing after a thread filing states and files only the messages not yet filed", async () => {
    const preview = await composer(new Set([ROOT, "$in-thread"])).preview("!r:t", null, null);
    expect(preview.messages.map((message) => message.eventId)).toEqual(["$later"]);
    expect(preview.upToEvent?.eventId).toBe("$later");

    const filing = {
      exportId: "exp-2",
      roomId: "!r:t",
      threadRootId: null,
      afterEventId: null,
      upToEventId: "$later",
      patient: { nhsNumber: "9434765919" as NhsNumber, name: null, birthDate: null, verified: false },
    } as Filing;
    const document = await composer(new Set([ROOT, "$in-thread"])).compose(filing);
    expect(document.eventIds).toEqual(["$later"]);
    expect(JSON.parse(document.bundleJson).entry).toHaveLength(2);
  });

  it("a thread whose messages were all filed with its room has nothing to state", async () => {
    const preview = await composer(new Set([ROOT, "$in-thread", "$later"])).preview("!r:t", ROOT, null);
    expect(preview.messages).toEqual([]);
  });
});

describe("attachments: captured up to the size limit, named as not captured otherwise", () => {
  const file = (id: string, name: string, size?: number) =>
    messageEvent({
      event_id: id,
      sender: ALICE,
      content: { msgtype: "m.file", body: name, url: `mxc://trust-a.test/${id.slice(1)}`, info: size ? { size } : {} },
    });
  const events = [
    file("$letter", "letter.pdf"),
    file("$declared-large", "scan.pdf", 5000),
    file("$actually-large", "video.mp4"),
    file("$gone", "notes.docx"),
    messageEvent({ event_id: "$image", sender: ALICE, content: { msgtype: "m.image", body: "rash.png", url: "mxc://trust-a.test/rash" } }),
    messageEvent({ event_id: "$text", sender: ALICE, body: "Seen by cardiology" }),
    messageEvent({
      event_id: "$ack",
      sender: "@bob:trust-a.test",
      type: "m.reaction",
      content: { "m.relates_to": { rel_type: "m.annotation", event_id: "$text", key: "👍" } },
    }),
  ];
  const media = async (mxcUrl: string, maxBytes: number) => {
    if (mxcUrl.endsWith("/letter")) return { bytes: new Uint8Array([37, 80, 68, 70, 45]), contentType: "application/pdf" };
    if (mxcUrl.endsWith("/actually-large")) throw new HandoverError("VALIDATION_FAILED", `Media larger than ${maxBytes} bytes`);
    if (mxcUrl.endsWith("/declared-large")) throw new Error("a file declared larger than the limit is not downloaded");
    throw new HandoverError("HOMESERVER_REFUSED", "The homeserver refused to download media: HTTP 404");
  };
  const filing = {
    exportId: "exp-3",
    roomId: "!r:t",
    threadRootId: null,
    afterEventId: null,
    upToEventId: "$text",
    patient: { nhsNumber: "9434765919" as NhsNumber, name: null, birthDate: null, verified: false },
  } as Filing;

  it("embeds files within maxAttachmentBytes in the DocumentReference; retention is told only those are captured", async () => {
    const document = await composer(new Set(), { read: async () => ({ ...timeline, events }), media }).compose(filing);
    expect(document.capture.captured.map((event) => event.eventId)).toEqual(["$letter", "$text", "$ack"]);
    expect(document.capture.uncaptured.map((event) => event.eventId)).toEqual(["$declared-large", "$actually-large", "$gone", "$image"]);

    const bundle = JSON.parse(document.bundleJson);
    const content = bundle.entry[0].resource.content;
    expect(content).toHaveLength(2);
    expect(content[1].attachment).toEqual({ contentType: "application/pdf", title: "letter.pdf", size: 5, hash: expect.any(String), data: "JVBERi0=" });
    const said = bundle.entry.slice(1).map((entry: { resource: { payload: { contentString?: string }[] } }) => entry.resource.payload[0]?.contentString);
    expect(said).toEqual([
      "File: letter.pdf (embedded in the filed PDF)",
      "File: scan.pdf (not captured: larger than the 1000 bytes limit)",
      "File: video.mp4 (not captured: larger than the 1000 bytes limit)",
      "File: notes.docx (not captured: could not be retrieved)",
      "Image: rash.png (not captured: could not be retrieved)",
      "Seen by cardiology",
    ]);
    expect(bundle.entry.at(-1).resource.note).toEqual([
      { authorString: "@bob:trust-a.test (matrix:u/bob:trust-a.test)", time: expect.any(String), text: "Reacted 👍" },
    ]);
  });
});

describe("a bundle the UK Core profiles refuse", () => {
  it("is not composed: the error names each problem's path", async () => {
    const problem =
      "Bundle.entry[0].resource.status: filed is not in the required value set http://hl7.org/fhir/ValueSet/document-reference-status (element DocumentReference.status)";
    const filing = {
      exportId: "exp-3",
      roomId: "!r:t",
      threadRootId: null,
      afterEventId: null,
      upToEventId: "$later",
      patient: { nhsNumber: "9434765919" as NhsNumber, name: null, birthDate: null, verified: false },
    } as Filing;
    await expect(composer(new Set(), undefined, [problem]).compose(filing)).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
      message: `The filing did not pass FHIR validation: ${problem}`,
    });
  });
});
