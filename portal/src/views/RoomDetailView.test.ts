// @vitest-environment happy-dom
import type { Role, RoomSummary } from "@handover/appservice/contract";
import { flushPromises, mount } from "@vue/test-utils";
import { createPinia, setActivePinia } from "pinia";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { createMemoryHistory, createRouter } from "vue-router";
import { useNoticeStore } from "../stores/notice";
import { useSessionStore } from "../stores/session";
import RoomDetailView from "./RoomDetailView.vue";

const fakeSessionApi = vi.hoisted(() => ({ signIn: vi.fn(), currentSession: vi.fn(), signOut: vi.fn() }));
const fakeRoomsApi = vi.hoisted(() => ({ listRooms: vi.fn(), findRoom: vi.fn(), classifyRoom: vi.fn() }));
vi.mock("../api/session", () => fakeSessionApi);
vi.mock("../api/rooms", () => fakeRoomsApi);

const ward: RoomSummary = {
  roomId: "!ward7:trust.example",
  name: "Ward 7 handover",
  kind: null,
  encrypted: true,
  botJoined: true,
  classifiedBy: null,
  classifiedAt: null,
};

async function renderAs(role: Role) {
  const pinia = createPinia();
  setActivePinia(pinia);
  fakeSessionApi.currentSession.mockResolvedValue({ userId: `@${role}:trust.example`, role, expiresAt: "2030-01-01T00:00:00Z" });
  await useSessionStore().restore();
  fakeRoomsApi.findRoom.mockResolvedValue(ward);
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: "/rooms", component: { render: () => null } },
      { path: "/rooms/:roomId", component: RoomDetailView, props: true },
    ],
  });
  await router.push(`/rooms/${ward.roomId}`);
  const wrapper = mount(RoomDetailView, {
    props: { roomId: ward.roomId },
    global: { plugins: [pinia, router] },
    attachTo: document.body,
  });
  await flushPromises();
  return { wrapper, router };
}

describe("RoomDetailView", () => {
  beforeEach(() => {
    vi.resetAllMocks();
    document.body.innerHTML = "";
  });

  it("shows auditors the room read-only, without the classification form", async () => {
    const { wrapper } = await renderAs("auditor");

    expect(wrapper.get("h1").text()).toContain("Ward 7 handover");
    expect(wrapper.find("form").exists()).toBe(false);
    expect(wrapper.find('input[type="radio"]').exists()).toBe(false);
    expect(wrapper.findAll("button").map((button) => button.text())).not.toContain("Save kind");
    expect(wrapper.get(".nhsuk-inset-text").text()).toContain("Only admins and information governance leads");
  });

  it.each(["admin", "ig-lead"] as const)("lets %s choose Clinical or Operational and save", async (role) => {
    fakeRoomsApi.classifyRoom.mockResolvedValue({ ...ward, kind: "clinical" });
    const { wrapper, router } = await renderAs(role);

    expect(wrapper.get('label[for="kind-clinical"]').text()).toBe("Clinical");
    expect(wrapper.get('label[for="kind-operational"]').text()).toBe("Operational");
    await wrapper.get("#kind-clinical").setValue(true);
    await wrapper.get("form").trigger("submit");
    await flushPromises();

    expect(fakeRoomsApi.classifyRoom).toHaveBeenCalledWith(ward.roomId, { kind: "clinical" });
    expect(router.currentRoute.value.path).toBe("/rooms");
    expect(useNoticeStore().take()).toBe("Ward 7 handover is now clinical");
  });

  it("asks for a kind when none is chosen, with focus on the error summary", async () => {
    const { wrapper } = await renderAs("admin");

    await wrapper.get("form").trigger("submit");
    await flushPromises();

    expect(fakeRoomsApi.classifyRoom).not.toHaveBeenCalled();
    expect(wrapper.get("#kind-error").text()).toContain("Select what kind of room this is");
    expect(document.activeElement).toBe(wrapper.get(".nhsuk-error-summary").element);
  });
});
