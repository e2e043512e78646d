// @vitest-environment happy-dom
import type { RoomRetention } from "@handover/appservice/contract";
import { flushPromises, mount } from "@vue/test-utils";
import { createPinia, setActivePinia } from "pinia";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { createMemoryHistory, createRouter } from "vue-router";
import { ApiError } from "../../api/http";
import { useSessionStore } from "../../stores/session";
import RetentionRoomView from "./RetentionRoomView.vue";

const fakeSessionApi = vi.hoisted(() => ({ signIn: vi.fn(), currentSession: vi.fn(), signOut: vi.fn() }));
const fakeRetentionApi = vi.hoisted(() => ({ roomRetention: vi.fn(), placeHold: vi.fn(), liftHold: vi.fn() }));
vi.mock("../../api/session", () => fakeSessionApi);
vi.mock("../../api/retention", () => fakeRetentionApi);

const ROOM = "!ward:trust.example";

async function render() {
  const pinia = createPinia();
  setActivePinia(pinia);
  fakeSessionApi.currentSession.mockResolvedValue({ userId: "@ig:trust.example", role: "ig-lead", expiresAt: "2030-01-01T00:00:00Z" });
  await useSessionStore().restore();
  fakeRetentionApi.roomRetention.mockResolvedValue({
    roomId: ROOM,
    name: "Ward 7",
    kind: "clinical",
    policy: null,
    status: "no-policy",
    reason: "No policy applies",
    deleteUpTo: null,
    dueEvents: 0,
    nextDeletionAt: null,
    filedEvents: 0,
    unfiledEvents: 2,
    hold: null,
  } as unknown as RoomRetention);
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: "/retention/rooms/:roomId", component: RetentionRoomView, props: true },
      { path: "/retention", component: { render: () => null } },
    ],
  });
  await router.push(`/retention/rooms/${encodeURIComponent(ROOM)}`);
  const wrapper = mount(RetentionRoomView, { props: { roomId: ROOM }, global: { plugins: [pinia, router] }, attachTo: document.body });
  await flushPromises();
  return wrapper;
}

describe("RetentionRoomView's legal hold form", () => {
  beforeEach(() => {
    vi.resetAllMocks();
    document.body.innerHTML = "";
  });

  it("asks for a reason before asking the API", async () => {
    const wrapper = await render();
    await wrapper.get("form").trigger("submit");
    await flushPromises();
    expect(fakeRetentionApi.placeHold).not.toHaveBeenCalled();
    expect(wrapper.get(".nhsuk-error-summary").text()).toContain("Enter the reason for the hold");
  });

  it("shows the API's refusal of the end date at the end date field and in the summary", async () => {
    fakeRetentionApi.placeHold.mockRejectedValue(
      new ApiError(400, "VALIDATION_FAILED", "The hold's expiry must be in the future", [{ path: "expiresAt", message: "Must be in the future" }]),
    );
    const wrapper = await render();
    await wrapper.get("#hold-reason").setValue("Serious incident SI-42");
    await wrapper.get("form").trigger("submit");
    await flushPromises();
    expect(wrapper.get(".nhsuk-form-group--error .nhsuk-error-message").text()).toContain("Must be in the future");
    expect(wrapper.get(".nhsuk-error-summary a").attributes("href")).toBe("#hold-expires");
  });
});
