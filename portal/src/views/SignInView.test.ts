// @vitest-environment happy-dom
import { flushPromises, mount } from "@vue/test-utils";
import { createPinia, setActivePinia } from "pinia";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { createMemoryHistory, createRouter } from "vue-router";
import { ApiError } from "../api/http";
import SignInView from "./SignInView.vue";

const fakeSessionApi = vi.hoisted(() => ({
  signIn: vi.fn(),
  currentSession: vi.fn(),
  signOut: vi.fn(),
  signInFlows: vi.fn(),
}));
vi.mock("../api/session", () => fakeSessionApi);

async function renderSignIn(path = "/sign-in") {
  const pinia = createPinia();
  setActivePinia(pinia);
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: "/sign-in", component: SignInView, meta: { title: "Sign in" } },
      { path: "/", component: { render: () => null }, meta: { title: "Overview" } },
    ],
  });
  await router.push(path);
  const wrapper = mount(SignInView, { global: { plugins: [pinia, router] }, attachTo: document.body });
  await flushPromises();
  return { wrapper, router };
}

describe("SignInView", () => {
  beforeEach(() => {
    vi.resetAllMocks();
    fakeSessionApi.signInFlows.mockResolvedValue({ password: true, sso: null });
    document.body.innerHTML = "";
  });

  it("shows the API's message in an error summary when sign-in is refused, and focuses it", async () => {
    fakeSessionApi.signIn.mockRejectedValue(new ApiError(403, "NO_ROLE", "You do not have a role in Handover"));
    const { wrapper, router } = await renderSignIn();

    await wrapper.get("#username").setValue("@visitor:trust.example");
    await wrapper.get("#password").setValue("correct horse");
    await wrapper.get("form").trigger("submit");
    await flushPromises();

    expect(fakeSessionApi.signIn).toHaveBeenCalledWith({ username: "@visitor:trust.example", password: "correct horse" });
    const summary = wrapper.get(".nhsuk-error-summary");
    expect(summary.text()).toContain("There is a problem");
    expect(summary.text()).toContain("You do not have a role in Handover");
    expect(document.activeElement).toBe(summary.element);
    expect(router.currentRoute.value.path).toBe("/sign-in");
    expect((wrapper.get("#password").element as HTMLInputElement).value).toBe("");
  });

  it("puts field details from the API next to the field they are about", async () => {
    fakeSessionApi.signIn.mockRejectedValue(
      new ApiError(400, "VALIDATION_FAILED", "Check the details you entered", [{ path: "username", message: "Too long" }]),
    );
    const { wrapper } = await renderSignIn();

    await wrapper.get("#username").setValue("x");
    await wrapper.get("#password").setValue("y");
    await wrapper.get("form").trigger("submit");
    await flushPromises();

    expect(wrapper.get("#username-error").text()).toContain("Too long");
    expect(wrapper.get("#username").attributes("aria-describedby")).toContain("username-error");
    expect(wrapper.get(".nhsuk-error-summary").text()).toContain("Check the details you entered");
  });

  it("asks for both fields before calling the API", async () => {
    const { wrapper } = await renderSignIn();

    await wrapper.get("form").trigger("submit");
    await flushPromises();

    expect(fakeSessionApi.signIn).not.toHaveBeenCalled();
    expect(
      wrapper
        .get(".nhsuk-error-summary")
        .findAll("a")
        .map((link) => link.text()),
    ).toEqual(["Enter your Matrix user ID", "Enter your password"]);
    expect(document.title).toMatch(/^Error: /);
  });

  it("goes to the overview once signed in", async () => {
    fakeSessionApi.signIn.mockResolvedValue({ userId: "@ig:trust.example", role: "ig-lead", expiresAt: "2030-01-01T00:00:00Z" });
    const { wrapper, router } = await renderSignIn();

    await wrapper.get("#username").setValue("ig");
    await wrapper.get("#password").setValue("secret");
    await wrapper.get("form").trigger("submit");
    await flushPromises();

    expect(router.currentRoute.value.path).toBe("/");
    expect(wrapper.find(".nhsuk-error-summary").exists()).toBe(false);
  });

  it("offers a button per identity provider and no password form when the homeserver takes no passwords", async () => {
    fakeSessionApi.signInFlows.mockResolvedValue({
      password: false,
      sso: {
        startUrl: "/auth/sso/start",
        identityProviders: [
          { id: "oidc-entra", name: "Entra ID", startUrl: "/auth/sso/start?idp=oidc-entra", iconUrl: "/auth/sso/icon/oidc-entra" },
          { id: "oidc-cis2", name: "NHS CIS2", startUrl: "/auth/sso/start?idp=oidc-cis2", iconUrl: null },
        ],
      },
    });
    const { wrapper } = await renderSignIn();

    const buttons = wrapper.findAll("a.nhsuk-button");
    expect(buttons.map((button) => [button.text(), button.attributes("href")])).toEqual([
      ["Sign in with Entra ID", "/auth/sso/start?idp=oidc-entra"],
      ["Sign in with NHS CIS2", "/auth/sso/start?idp=oidc-cis2"],
    ]);
    // The icon is decoration: the button's name is its text.
    expect(buttons.map((button) => button.find("img").exists() && button.get("img").attributes())).toEqual([
      expect.objectContaining({ src: "/auth/sso/icon/oidc-entra", alt: "" }),
      false,
    ]);
    expect(wrapper.find("form").exists()).toBe(false);
    expect(wrapper.find("#password").exists()).toBe(false);
  });

  it("offers both where the homeserver offers both, and the password form alone where it offers only passwords", async () => {
    fakeSessionApi.signInFlows.mockResolvedValue({ password: true, sso: { startUrl: "/auth/sso/start", identityProviders: [] } });
    const both = await renderSignIn();
    expect(both.wrapper.get("a.nhsuk-button").attributes("href")).toBe("/auth/sso/start");
    expect(both.wrapper.find("#password").exists()).toBe(true);
    both.wrapper.unmount();

    fakeSessionApi.signInFlows.mockResolvedValue({ password: true, sso: null });
    const passwordOnly = await renderSignIn();
    expect(passwordOnly.wrapper.find("a.nhsuk-button").exists()).toBe(false);
    expect(passwordOnly.wrapper.find("#password").exists()).toBe(true);
  });

  it("says why single sign-on sent the person back", async () => {
    fakeSessionApi.signInFlows.mockResolvedValue({ password: false, sso: { startUrl: "/auth/sso/start", identityProviders: [] } });
    const { wrapper } = await renderSignIn("/sign-in?problem=NO_ROLE");
    expect(wrapper.get(".nhsuk-error-summary").text()).toContain("you have no role in Handover");
  });
});
