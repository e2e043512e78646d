// @vitest-environment happy-dom
import type { PersonDevices } from "@handover/appservice/contract";
import { mount } from "@vue/test-utils";
import { describe, expect, it } from "vitest";
import PersonDevicesCard from "./PersonDevicesCard.vue";

const person: PersonDevices = {
  userId: "@amy:trust.example",
  displayName: "Amy Pond",
  directory: "left",
  hasCrossSigningIdentity: true,
  watchingSince: null,
  devices: [
    {
      deviceId: "PHONE",
      displayName: "Amy's phone",
      client: "Element on Android",
      userAgent: "Element/1.6 (Android 14)",
      lastSeenAt: "2026-12-01T09:00:00.000Z",
      lastAddress: "10.1.2.3",
      firstSeenAt: null,
      crossSigned: true,
      stale: false,
    },
    {
      deviceId: "OLDTAB",
      displayName: null,
      client: "unknown client",
      userAgent: null,
      lastSeenAt: null,
      lastAddress: null,
      firstSeenAt: null,
      crossSigned: false,
      stale: true,
    },
  ],
  pushers: [{ kind: "http", appId: "im.vector.app.android", appDisplayName: "Element", deviceDisplayName: "Pixel", format: null, carriesContent: true }],
  staleSessions: 1,
  devicesNotCrossSigned: 1,
  pushersCarryingContent: 1,
};

describe("PersonDevicesCard", () => {
  it("shows first seen by Handover, saying so when a device was already there when Handover started watching", () => {
    const watched: PersonDevices = {
      ...person,
      watchingSince: "2026-11-01T03:00:00.000Z",
      devices: [
        { ...(person.devices[0] as PersonDevices["devices"][number]), firstSeenAt: "2026-11-01T03:00:00.000Z" },
        { ...(person.devices[1] as PersonDevices["devices"][number]), firstSeenAt: "2026-11-20T03:00:00.000Z" },
      ],
    };
    const card = mount(PersonDevicesCard, { props: { person: watched, canAct: false, busy: false } });
    expect(card.get('[data-testid="first-seen-PHONE"]').text()).toMatch(/^already signed in when Handover started watching \(/);
    expect(card.get('[data-testid="first-seen-OLDTAB"]').text()).not.toMatch(/already|not yet/);
    const unseen = mount(PersonDevicesCard, { props: { person, canAct: false, busy: false } });
    expect(unseen.get('[data-testid="first-seen-PHONE"]').text()).toBe("not yet seen by a posture pass");
  });

  it("shows each device's verification and staleness, the pusher carrying content and the directory standing", () => {
    const text = mount(PersonDevicesCard, { props: { person, canAct: false, busy: false } }).text();
    expect(text).toContain("Left the trust (directory)");
    expect(text).toContain("Cross-signed");
    expect(text).toContain("Not cross-signed");
    expect(text).toContain("Stale");
    expect(text).toContain("message content goes through the push service");
  });

  it("offers sign-out and lost phone only to those who may act", async () => {
    expect(mount(PersonDevicesCard, { props: { person, canAct: false, busy: false } }).findAll("button")).toHaveLength(0);
    const wrapper = mount(PersonDevicesCard, { props: { person, canAct: true, busy: false } });
    await wrapper.findAll("button").at(0)?.trigger("click");
    expect(wrapper.emitted("signOut")).toEqual([["PHONE"]]);
    await wrapper.find(".nhsuk-button--warning").trigger("click");
    expect(wrapper.emitted("lostPhone")).toHaveLength(1);
  });
});
