// @vitest-environment happy-dom
import type { ExpectedPartners } from "@handover/appservice/contract";
import { flushPromises, mount } from "@vue/test-utils";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../../api/http";
import ExpectedPartnersSection from "./ExpectedPartnersSection.vue";

const fakeFederationApi = vi.hoisted(() => ({ expectedPartners: vi.fn(), addExpectedPartner: vi.fn(), removeExpectedPartner: vi.fn() }));
vi.mock("../../api/federation", () => fakeFederationApi);

const listed = (added: string[]): ExpectedPartners => ({
  fromConfig: ["*.nhs.uk"],
  added: added.map((pattern) => ({ pattern, addedBy: "@admin:trust.example", addedAt: "2026-11-22T09:00:00.000Z" })),
});

async function render(canEdit: boolean) {
  const wrapper = mount(ExpectedPartnersSection, { props: { canEdit }, attachTo: document.body });
  await flushPromises();
  return wrapper;
}

describe("ExpectedPartnersSection", () => {
  beforeEach(() => {
    vi.resetAllMocks();
    document.body.innerHTML = "";
  });

  it("lists the config's and the portal's expected partners; admins add one", async () => {
    fakeFederationApi.expectedPartners.mockResolvedValue(listed([]));
    fakeFederationApi.addExpectedPartner.mockResolvedValue(listed(["matrix.partner.example"]));
    const wrapper = await render(true);
    expect(wrapper.get("table").text()).toContain("*.nhs.uk");
    expect(wrapper.get("table").text()).toContain("Configuration file");
    expect(wrapper.get('label[for="expected-partner"]').text()).toBe("Add an expected partner");
    await wrapper.get("#expected-partner").setValue(" matrix.partner.example ");
    await wrapper.get("form").trigger("submit");
    await flushPromises();
    expect(fakeFederationApi.addExpectedPartner).toHaveBeenCalledWith("matrix.partner.example");
    expect(wrapper.get("table").text()).toContain("matrix.partner.example");
    expect(wrapper.get('[role="status"]').text()).toContain("may now make first contact");
    expect((wrapper.get("#expected-partner").element as HTMLInputElement).value).toBe("");
  });

  it("removes one, and shows a refused change without losing the list", async () => {
    fakeFederationApi.expectedPartners.mockResolvedValue(listed(["matrix.partner.example"]));
    fakeFederationApi.removeExpectedPartner.mockResolvedValue(listed([]));
    fakeFederationApi.addExpectedPartner.mockRejectedValue(new ApiError(400, "VALIDATION_FAILED", "expected a server name like matrix.trust.nhs.uk"));
    const wrapper = await render(true);
    await wrapper.get("#expected-partner").setValue("http://127.0.0.1/");
    await wrapper.get("form").trigger("submit");
    await flushPromises();
    expect(wrapper.get(".nhsuk-error-message").text()).toContain("expected a server name");
    expect(wrapper.get("table").text()).toContain("matrix.partner.example");
    await wrapper.get("tbody button").trigger("click");
    await flushPromises();
    expect(fakeFederationApi.removeExpectedPartner).toHaveBeenCalledWith("matrix.partner.example");
    expect(wrapper.get("table").text()).not.toContain("matrix.partner.example");
  });

  it("asks for a value before sending, and shows no controls to non-admins", async () => {
    fakeFederationApi.expectedPartners.mockResolvedValue(listed(["matrix.partner.example"]));
    const admin = await render(true);
    await admin.get("form").trigger("submit");
    expect(fakeFederationApi.addExpectedPartner).not.toHaveBeenCalled();
    expect(admin.get("#expected-partner-error").text()).toContain("Enter a server name");
    admin.unmount();
    const auditor = await render(false);
    expect(auditor.find("form").exists()).toBe(false);
    expect(auditor.find("tbody button").exists()).toBe(false);
    expect(auditor.get("table").text()).toContain("matrix.partner.example");
  });
});
