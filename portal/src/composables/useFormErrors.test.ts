// @vitest-environment happy-dom
import { beforeEach, describe, expect, it } from "vitest";
import { ApiError } from "../api/http";
import { formErrorsOf, useFormErrors } from "./useFormErrors";

const refused = (details: { path: string; message: string }[], message = "The request is not valid") =>
  new ApiError(400, "VALIDATION_FAILED", message, details);

const POLICY_FIELDS = { name: "policy-name", scope: "scope-clinical", "scope.roomId": "policy-target", maxAge: "policy-max-age" };

describe("formErrorsOf", () => {
  it("puts each problem at the control for its request field, and lists every problem in the summary", () => {
    const shown = formErrorsOf(
      refused([
        { path: "name", message: "Enter a name" },
        { path: "maxAge", message: "Not a duration" },
      ]),
      POLICY_FIELDS,
    );
    expect(shown.errors).toEqual({ "policy-name": "Enter a name", "policy-max-age": "Not a duration" });
    expect(shown.problems).toEqual([
      { text: "Enter a name", fieldId: "policy-name" },
      { text: "Not a duration", fieldId: "policy-max-age" },
    ]);
  });

  it("reads nested paths from the outside in, preferring the dotted name the form lists", () => {
    const shown = formErrorsOf(
      refused([
        { path: "scope.roomId", message: "expected a Matrix room ID" },
        { path: "scope.kind", message: "Invalid option" },
        { path: "policy.name", message: "Too long" },
      ]),
      POLICY_FIELDS,
    );
    expect(shown.errors).toEqual({ "policy-target": "expected a Matrix room ID", "scope-clinical": "Invalid option", "policy-name": "Too long" });
  });

  it("keeps an item's own field for a problem deeper inside it (the third power level's attribute is about power)", () => {
    const shown = formErrorsOf(refused([{ path: "rule.power.2.attribute", message: "Required" }]), {
      attribute: "rule-attribute-name",
      power: "rule-power-attribute",
    });
    expect(shown.errors).toEqual({ "rule-power-attribute": "Required" });
  });

  it("shows the first problem at a control, and every one in the summary", () => {
    const shown = formErrorsOf(
      refused([
        { path: "rooms.0", message: "expected a Matrix room ID" },
        { path: "rooms.3", message: "expected a Matrix room ID" },
      ]),
      { rooms: "rule-rooms" },
      { nameFields: true },
    );
    expect(shown.errors).toEqual({ "rule-rooms": "rooms: expected a Matrix room ID" });
    expect(shown.problems).toHaveLength(2);
  });

  it("lists a problem about no field the form has as text, and the API's message when it named no field", () => {
    expect(formErrorsOf(refused([{ path: "colour", message: "unknown field" }]), POLICY_FIELDS)).toEqual({ errors: {}, problems: [{ text: "unknown field" }] });
    expect(formErrorsOf(refused([], "The policy conflicts with another"), POLICY_FIELDS)).toEqual({
      errors: {},
      problems: [{ text: "The policy conflicts with another" }],
    });
  });
});

describe("useFormErrors", () => {
  beforeEach(() => {
    document.title = "Create a retention policy – Handover";
  });

  it("shows an API refusal on the form and marks the page title as an error", () => {
    const form = useFormErrors(POLICY_FIELDS);
    form.fail(refused([{ path: "name", message: "Enter a name" }]));
    expect(form.errors.value).toEqual({ "policy-name": "Enter a name" });
    expect(form.problems.value).toEqual([{ text: "Enter a name", fieldId: "policy-name" }]);
    expect(document.title).toBe("Error: Create a retention policy – Handover");
    form.clear();
    expect([form.errors.value, form.problems.value]).toEqual([{}, []]);
  });

  it("shows the form's own checks the same way", () => {
    const form = useFormErrors({ reason: "hold-reason" });
    form.show({ "hold-reason": "Enter the reason for the hold" });
    expect(form.problems.value).toEqual([{ text: "Enter the reason for the hold", fieldId: "hold-reason" }]);
    expect(document.title.startsWith("Error: ")).toBe(true);
  });

  it("throws on what is not an API refusal: a bug is not shown as a form problem", () => {
    const form = useFormErrors(POLICY_FIELDS);
    expect(() => form.fail(new TypeError("x is undefined"))).toThrow(TypeError);
    expect(form.problems.value).toEqual([]);
  });
});
