// @vitest-environment happy-dom
import { flushPromises, mount } from "@vue/test-utils";
import { createPinia, setActivePinia } from "pinia";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { createMemoryHistory, createRouter } from "vue-router";
import { useSessionStore } from "../../stores/session";
import RetentionView from "./RetentionView.vue";

const fakeSessionApi = vi.hoisted(() => ({ signIn: vi.fn(), currentSession: vi.fn(), signOut: vi.fn() }));
const fakeRetentionApi = vi.hoisted(() => ({ listPolicies: vi.fn(), retentionPlan: vi.fn(), listHolds: vi.fn(), listPurgeProblems: vi.fn() }));
vi.mock("../../api/session", () => fakeSessionApi);
vi.mock("../../api/retention", () => fakeRetentionApi);

async function render() {
  const pinia = createPinia();
  setActivePinia(pinia);
  fakeSessionApi.currentSession.mockResolvedValue({ userId: "@ig:trust.example", role: "ig-lead", expiresAt: "2030-01-01T00:00:00Z" });
  await useSessionStore().restore();
  fakeRetentionApi.listPolicies.mockResolvedValue([]);
  fakeRetentionApi.retentionPlan.mockResolvedValue([]);
  fakeRetentionApi.listHolds.mockResolvedValue([]);
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: "/retention", component: RetentionView },
      { path: "/retention/rooms/:roomId", name: "retention-room", component: { render: () => null } },
      { path: "/retention/deletions", component: { render: () => null } },
      { path: "/retention/policies/new", component: { render: () => null } },
    ],
  });
  await router.push("/retention");
  const wrapper = mount(RetentionView, { global: { plugins: [pinia, router] }, attachTo: document.body });
  await flushPromises();
  return wrapper;
}

describe("RetentionView", () => {
  beforeEach(() => {
    vi.resetAllMocks();
    document.body.innerHTML = "";
  });

  it("reports deletions that could not finish, with the room and the error", async () => {
    fakeRetentionApi.listPurgeProblems.mockResolvedValue([
      { deletionId: "d1", roomId: "!kicked:trust.example", policyName: "Rota", error: "Handover's bot is no longer in room !kicked:trust.example" },
    ]);
    const wrapper = await render();
    const callout = wrapper.get(".nhsuk-warning-callout");
    expect(callout.text()).toContain("Deletions that could not finish");
    expect(callout.text()).toContain("!kicked:trust.example (Rota): Handover's bot is no longer in room");
  });

  it("shows no problem callout when every deletion finished", async () => {
    fakeRetentionApi.listPurgeProblems.mockResolvedValue([]);
    const wrapper = await render();
    expect(wrapper.find(".nhsuk-warning-callout").exists()).toBe(false);
  });
});
