// @vitest-environment happy-dom
import type { Posture } from "@handover/appservice/contract";
import { mount } from "@vue/test-utils";
import { describe, expect, it } from "vitest";
import PosturePanel from "./PosturePanel.vue";

const posture: Posture = {
  homeserverPush: { includesContent: false, source: "probe", checkedAt: "2026-12-02T03:00:00.000Z", note: null },
  latest: {
    day: "2026-12-02",
    takenAt: "2026-12-02T03:00:00.000Z",
    adminCalls: 50,
    kind: "incremental",
    peopleRead: 3,
    adminCallsPerPerson: 2.5,
    counts: {
      people: 20,
      peopleWithDevices: 18,
      devices: 30,
      devicesCrossSigned: 21,
      pushers: 10,
      pushersCarryingContent: 1,
      staleSessions: 3,
      leavers: 2,
      leaversWithSessions: 0,
    },
    metrics: [
      { name: "devicesVerified", better: "higher", count: 21, total: 30, value: 0.7, rating: "red", amber: 0.9, red: 0.75 },
      { name: "pushersCarryingContent", better: "lower", count: 1, total: 10, value: 0.1, rating: "amber", amber: 0.05, red: 0.2 },
      { name: "staleSessions", better: "lower", count: 3, total: 30, value: 0.1, rating: "green", amber: 0.1, red: 0.25 },
      { name: "leaversWithSessions", better: "lower", count: 0, total: null, value: 0, rating: "green", amber: 0, red: 2 },
    ],
  },
  history: [
    { day: "2026-12-01", values: { devicesVerified: 0.6, pushersCarryingContent: 0.2, staleSessions: 0.2, leaversWithSessions: 1 } },
    { day: "2026-12-02", values: { devicesVerified: 0.7, pushersCarryingContent: 0.1, staleSessions: 0.1, leaversWithSessions: 0 } },
  ],
};

describe("PosturePanel", () => {
  it("rates each measure in words, not colour alone, and gives each day's values as a table beside the chart", () => {
    const wrapper = mount(PosturePanel, { props: { posture } });
    expect(wrapper.get('[data-testid="posture-devicesVerified"]').text()).toContain("70% (21 of 30)");
    expect(wrapper.get('[data-testid="posture-devicesVerified"]').text()).toContain("Red");
    expect(wrapper.get('[data-testid="posture-pushersCarryingContent"]').text()).toContain("Amber");
    expect(wrapper.findAll("figure")).toHaveLength(4);
    expect(wrapper.text()).toContain("an incremental pass that read 3 people active since their last read");
    const push = wrapper.get('[data-testid="homeserver-push"]').text().replace(/\s+/g, " ");
    expect(push).toContain("The homeserver leaves message content out of every push (seen by Handover's push probe on");
    expect(wrapper.findAll("polyline")).toHaveLength(4);
    expect(wrapper.text()).toContain("2.5 homeserver admin calls per person");
  });
});
