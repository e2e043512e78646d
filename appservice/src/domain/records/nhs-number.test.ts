import { describe, expect, it } from "vitest";
import { formatNhsNumber, isValidNhsNumberDigits, parseNhsNumber } from "./nhs-number.js";

describe("NHS numbers", () => {
  it.each(["9434765919", "9990000018", "943 476 5919", "943-476-5919", "9000000009", "9690937316"])("accepts %s", (text) => {
    expect(parseNhsNumber(text)).toMatchObject({ ok: true, value: text.replace(/[ -]/g, "") });
  });

  it.each([
    ["9876544321", "check-digit"],
    ["9111111124", "check-digit"],
    ["123", "not-ten-digits"],
    ["94347659190", "not-ten-digits"],
    ["943476591X", "not-ten-digits"],
    ["", "not-ten-digits"],
  ])("refuses %s (%s)", (text, problem) => {
    expect(parseNhsNumber(text)).toEqual({ ok: false, problem });
  });

  it("refuses numbers whose check digit would be 10", () => {
    // 1000000010: weights give sum 10 -> check 1; find one that yields 10 by brute force.
    const tens = Array.from({ length: 200 }, (_, i) => String(1000000000 + i * 10).slice(0, 9)).find((nine) => {
      let sum = 0;
      for (let i = 0; i < 9; i++) sum += Number(nine[i]) * (10 - i);
      return 11 - (sum % 11) === 10;
    });
    expect(tens).toBeDefined();
    for (let d = 0; d <= 9; d++) expect(isValidNhsNumberDigits(`${tens}${d}`)).toBe(false);
  });

  it("formats in 3-3-4 groups", () => {
    expect(formatNhsNumber("9434765919")).toBe("943 476 5919");
  });
});
