import type { Role } from "@handover/appservice/contract";
import { createPinia, setActivePinia } from "pinia";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../api/http";
import { useSessionStore } from "./session";

const fakeSessionApi = vi.hoisted(() => ({ signIn: vi.fn(), currentSession: vi.fn(), signOut: vi.fn() }));
vi.mock("../api/session", () => fakeSessionApi);

async function signedInAs(role: Role) {
  fakeSessionApi.currentSession.mockResolvedValue({ userId: `@${role}:trust.example`, role, roleFrom: { kind: "config" }, expiresAt: "2030-01-01T00:00:00Z" });
  const session = useSessionStore();
  await session.restore();
  return session;
}

describe("what the portal offers each role", () => {
  beforeEach(() => {
    vi.resetAllMocks();
    setActivePinia(createPinia());
  });

  it("reads who may do what from the route table: auditors only read, IG leads classify and record spot checks, admins sign devices out", async () => {
    const auditor = await signedInAs("auditor");
    expect([auditor.may("listAudit"), auditor.may("signOutDevice"), auditor.may("classifyRoom"), auditor.may("listPortalSessions")]).toEqual([
      true,
      false,
      false,
      false,
    ]);
    setActivePinia(createPinia());
    const igLead = await signedInAs("ig-lead");
    expect([igLead.may("classifyRoom"), igLead.may("recordSpotCheckOutcome"), igLead.may("signOutDevice")]).toEqual([true, true, false]);
    setActivePinia(createPinia());
    const admin = await signedInAs("admin");
    expect([admin.may("signOutDevice"), admin.may("listPortalSessions"), admin.may("recordSpotCheckOutcome")]).toEqual([true, true, false]);
  });

  it("offers someone signed out only the public routes", async () => {
    fakeSessionApi.currentSession.mockRejectedValue(new ApiError(401, "UNAUTHENTICATED", "not signed in"));
    const session = useSessionStore();
    await session.restore();
    expect([session.may("signIn"), session.may("signInFlows"), session.may("overview"), session.may("listAudit")]).toEqual([true, true, false, false]);
  });
});
