import { describe, expect, it } from "vitest";
import { FakeClock, MemoryRoomStore, RecordingAudit } from "../../testing/fakes.js";
import { refusalOf } from "../../testing/refusals.js";
import { MemoryHoldStore, MemoryPolicyStore, MemoryRetentionIndex } from "../../testing/retention-fakes.js";
import type { PolicyRules } from "./policy.js";
import { type PolicyDraft, RetentionPolicyService } from "./policy-service.js";

const D = 86_400_000;
const CLINICAL: PolicyRules = { maxAgeMs: 30 * D, deleteAfterFilingMs: D, allowUnfiledDeletion: false, minAgeMs: 0, warnBeforeMs: 3 * D };
const OPERATIONAL: PolicyRules = { maxAgeMs: 90 * D, deleteAfterFilingMs: null, allowUnfiledDeletion: false, minAgeMs: 0, warnBeforeMs: 3 * D };
const IG = "@ig:trust-a.test";

const draft = (overrides: Partial<PolicyDraft> = {}): PolicyDraft => ({
  name: "Rota rooms",
  scope: { type: "kind", kind: "operational" },
  ...OPERATIONAL,
  maxAgeMs: 7 * D,
  ...overrides,
});

async function setup() {
  const clock = new FakeClock();
  const policies = new MemoryPolicyStore();
  const holds = new MemoryHoldStore();
  const facts = new MemoryRetentionIndex(holds);
  const rooms = new MemoryRoomStore();
  const audit = new RecordingAudit();
  await rooms.upsert("!ward:t", { kind: "clinical", botMembership: "join" });
  await rooms.upsert("!left:t", { kind: "clinical", botMembership: "leave" });
  const service = new RetentionPolicyService({
    policies,
    holds,
    facts,
    rooms,
    audit,
    clock,
    defaults: { clinical: CLINICAL, operational: OPERATIONAL },
    settings: { warningGranularityMs: 60_000 },
  });
  return { clock, policies, holds, facts, audit, service };
}

describe("retention policies", () => {
  it("lists the configured defaults before the trust's own policies", async () => {
    const { service } = await setup();
    await service.create(draft(), IG);
    expect((await service.list()).map((policy) => [policy.id.startsWith("default-") ? policy.id : "own", policy.scope])).toEqual([
      ["default-clinical", { type: "kind", kind: "clinical" }],
      ["default-operational", { type: "kind", kind: "operational" }],
      ["own", { type: "kind", kind: "operational" }],
    ]);
  });

  it("refuses rules that contradict each other, naming the field, and changes nothing", async () => {
    const { service, policies, audit } = await setup();
    const deletesNothing = await refusalOf(service.create(draft({ maxAgeMs: null, deleteAfterFilingMs: null }), IG));
    expect(deletesNothing).toMatchObject({ code: "VALIDATION_FAILED", details: [{ path: "maxAge" }] });
    const minAboveMax = await refusalOf(service.create(draft({ maxAgeMs: D, minAgeMs: 2 * D }), IG));
    expect(minAboveMax.details).toEqual([{ path: "minAge", message: "The minimum age cannot be longer than the maximum age" }]);
    const unfiledWithoutAge = await refusalOf(service.create(draft({ maxAgeMs: null, deleteAfterFilingMs: D, allowUnfiledDeletion: true }), IG));
    expect(unfiledWithoutAge.details?.map((detail) => detail.path)).toEqual(["allowUnfiledDeletion"]);
    expect(policies.policies.size).toBe(0);
    expect(audit.events).toEqual([]);
  });

  it("audits each change with the person who made it and the rules before and after", async () => {
    const { service, audit } = await setup();
    const created = await service.create(draft(), IG);
    await service.update(created.id, draft({ maxAgeMs: 14 * D }), "@other-ig:trust-a.test");
    await service.remove(created.id, IG);
    expect(audit.events.map((event) => [event.action, event.actor])).toEqual([
      ["retention.policy.created", IG],
      ["retention.policy.updated", "@other-ig:trust-a.test"],
      ["retention.policy.deleted", IG],
    ]);
    expect(audit.events[1]?.details).toMatchObject({ before: { rules: { maxAgeMs: 7 * D } }, rules: { maxAgeMs: 14 * D } });
  });

  it("refuses a second policy for the same scope, and editing or deleting the configured defaults", async () => {
    const { service } = await setup();
    await service.create(draft(), IG);
    expect((await refusalOf(service.create(draft({ name: "Again" }), IG))).code).toBe("CONFLICT");
    expect((await refusalOf(service.update("default-clinical", draft(), IG))).message).toMatch(/come from Handover's configuration/);
    expect((await refusalOf(service.remove("default-operational", IG))).code).toBe("CONFLICT");
    expect((await refusalOf(service.remove("no-such-policy", IG))).code).toBe("NOT_FOUND");
  });

  it("previews a draft on exactly the rooms it would govern: not those with a room policy, nor those a space policy covers", async () => {
    const { service, facts, clock } = await setup();
    facts.room("!rota:t", "operational");
    facts.room("!theatre:t", "operational", ["!surgery:t"]);
    facts.room("!own:t", "operational");
    facts.room("!ward:t", "clinical");
    await facts.recordMessages(
      ["!rota:t", "!theatre:t", "!own:t", "!ward:t"].map((roomId) => ({ roomId, eventId: `$${roomId}`, ts: new Date(clock.now().getTime() - 10 * D) })),
    );
    await service.create(draft({ name: "Own", scope: { type: "room", roomId: "!own:t" }, maxAgeMs: 60 * D }), IG);
    await service.create(draft({ name: "Surgery", scope: { type: "space", spaceId: "!surgery:t" }, maxAgeMs: 60 * D }), IG);

    const preview = await service.preview(draft(), null);

    expect(preview.map((plan) => [plan.roomId, plan.status])).toEqual([["!rota:t", "due"]]);
  });

  it("previews an edit in place of the policy it replaces", async () => {
    const { service, facts } = await setup();
    facts.room("!theatre:t", "operational", ["!surgery:t"]);
    const surgery = await service.create(draft({ name: "Surgery", scope: { type: "space", spaceId: "!surgery:t" } }), IG);
    const preview = await service.preview(draft({ name: "Surgery", scope: { type: "space", spaceId: "!surgery:t" }, maxAgeMs: 2 * D }), surgery.id);
    expect(preview.map((plan) => [plan.roomId, plan.policy?.maxAgeMs])).toEqual([["!theatre:t", 2 * D]]);
  });
});

describe("legal holds", () => {
  it("places a hold on a room the bot is in, audited with who placed it and why", async () => {
    const { service, audit } = await setup();
    const hold = await service.placeHold("!ward:t", "Serious incident SI-42", null, IG);
    expect(hold).toMatchObject({ roomId: "!ward:t", setBy: IG, reason: "Serious incident SI-42" });
    expect((await service.holds()).map((held) => held.roomId)).toEqual(["!ward:t"]);
    expect(audit.events).toMatchObject([{ action: "retention.hold.placed", actor: IG, target: "!ward:t", details: { reason: "Serious incident SI-42" } }]);
  });

  it("refuses an expiry in the past (naming the field) and a room the bot is not in, placing nothing", async () => {
    const { service, clock, holds } = await setup();
    const past = await refusalOf(service.placeHold("!ward:t", "SI-1", new Date(clock.now().getTime() - 1), IG));
    expect(past).toMatchObject({ code: "VALIDATION_FAILED", details: [{ path: "expiresAt" }] });
    expect((await refusalOf(service.placeHold("!left:t", "SI-1", null, IG))).code).toBe("NOT_FOUND");
    expect((await refusalOf(service.placeHold("!unknown:t", "SI-1", null, IG))).code).toBe("NOT_FOUND");
    expect(holds.holds.size).toBe(0);
  });

  it("stops listing a hold once it has expired", async () => {
    const { service, clock } = await setup();
    await service.placeHold("!ward:t", "Audit", new Date(clock.now().getTime() + D), IG);
    clock.advance(D + 1);
    expect(await service.holds()).toEqual([]);
  });

  it("lifts a hold with an audit entry naming who placed it; lifting none is refused", async () => {
    const { service, audit } = await setup();
    await service.placeHold("!ward:t", "SI-42", null, IG);
    await service.liftHold("!ward:t", "@other-ig:trust-a.test");
    expect(audit.events.at(-1)).toMatchObject({ action: "retention.hold.lifted", actor: "@other-ig:trust-a.test", details: { placedBy: IG } });
    expect((await refusalOf(service.liftHold("!ward:t", IG))).code).toBe("NOT_FOUND");
  });
});
