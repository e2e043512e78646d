import { describe, expect, it } from "vitest";
import { FakeClock, messageEvent } from "../../testing/fakes.js";
import type { RoomTimeline } from "./conversation.js";
import type { Filing } from "./filing.js";
import { FilingComposer } from "./filing-composer.js";
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

function composer(filedElsewhere: Set<string>, profileProblems: string[] = []) {
  return new FilingComposer({
    reader: { read: async () => timeline, media: () => Promise.reject(new Error("no media")) },
    renderer: { render: async () => new Uint8Array([37, 80, 68, 70]) },
    structural: { validate: () => [] },
    profile: { validate: () => profileProblems },
    clock: new FakeClock(),
    botUserId: "@handover:trust-a.test",
    identifierSystem: "https://trust-a.test/Id/handover-export",
    codes: { type: [{ system: "http://snomed.info/sct", code: "371531000" }], category: [{ system: "http://snomed.info/sct", code: "419891008" }] },
    custodianOdsCode: null,
    timeZone: "Europe/London",
    maxImageBytes: 1000,
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
    await expect(composer(new Set(), [problem]).compose(filing)).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
      message: `The filing did not pass FHIR validation: ${problem}`,
    });
  });
});
