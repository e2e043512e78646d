// @vitest-environment happy-dom
import type { RoomSummary } from "@handover/appservice/contract";
import { mount } from "@vue/test-utils";
import { describe, expect, it } from "vitest";
import { createMemoryHistory, createRouter } from "vue-router";
import RoomsTable from "./RoomsTable.vue";

function room(overrides: Partial<RoomSummary>): RoomSummary {
  return {
    roomId: "!room:trust.example",
    name: null,
    kind: null,
    encrypted: true,
    botJoined: true,
    classifiedBy: null,
    classifiedAt: null,
    ...overrides,
  };
}

const rooms = [
  room({ roomId: "!ward7:trust.example", name: "Ward 7 handover", kind: "clinical" }),
  room({ roomId: "!rota:trust.example", name: "Rota swaps", kind: "operational", encrypted: false }),
  room({ roomId: "!unnamed:trust.example", botJoined: false }),
];

function renderTable(canClassify: boolean) {
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: "/", component: { render: () => null } },
      { path: "/rooms/:roomId", name: "room", component: { render: () => null } },
    ],
  });
  return mount(RoomsTable, { props: { rooms, canClassify }, global: { plugins: [router] } });
}

describe("RoomsTable", () => {
  it("shows each room's kind as a tag, or Unclassified", () => {
    const wrapper = renderTable(true);

    expect(wrapper.get("caption").text()).toBe("Rooms");
    const rows = wrapper.findAll("tbody tr");
    expect(rows.map((row) => row.get(".nhsuk-tag").text())).toEqual(["Clinical", "Operational", "Unclassified"]);
    expect(rows.map((row) => row.get("th").text())).toEqual([
      "Ward 7 handover !ward7:trust.example",
      "Rota swaps !rota:trust.example",
      "!unnamed:trust.example",
    ]);
    expect(rows[1]?.findAll("td").map((cell) => cell.text())).toContain("No");
  });

  it("gives every row a uniquely named link to the room", () => {
    const links = renderTable(true).findAll("tbody a");

    expect(links.map((link) => link.text())).toEqual([
      "Change kind for Ward 7 handover",
      "Change kind for Rota swaps",
      "Change kind for !unnamed:trust.example",
    ]);
    expect(links[0]?.attributes("href")).toBe("/rooms/!ward7:trust.example");
  });

  it("offers to view rather than change when the person cannot classify", () => {
    const links = renderTable(false).findAll("tbody a");

    expect(links[0]?.text()).toBe("View for Ward 7 handover");
  });
});
