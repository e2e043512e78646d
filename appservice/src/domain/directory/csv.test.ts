import { describe, expect, it } from "vitest";
import { CsvError, parseCsv, readCsvRecords } from "./csv.js";
import { type CsvColumnMapping, CsvMappingError, mapEsrTable, parseEsrDate } from "./esr-mapping.js";

function problemsOf(work: () => unknown): string[] {
  try {
    work();
  } catch (error) {
    if (error instanceof CsvError || error instanceof CsvMappingError) return error.problems.map((p) => `${p.line}:${p.column} ${p.message}`);
    throw error;
  }
  throw new Error("expected an error");
}

describe("CSV reader", () => {
  it("reads quoted fields, doubled quotes, embedded commas and line breaks, BOM and CRLF", () => {
    const text = '\ufeffa,b,c\r\n1,"two, and ""three""","line one\r\nline two"\r\n\r\n4,,6\r\n';
    const records = readCsvRecords(text);
    expect(records).toEqual([
      { line: 1, fields: ["a", "b", "c"] },
      { line: 2, fields: ["1", 'two, and "three"', "line one\r\nline two"] },
      { line: 5, fields: ["4", "", "6"] },
    ]);
  });

  it("reads a last line without a line end and an empty quoted last field", () => {
    expect(readCsvRecords('a,b\n1,""')).toEqual([
      { line: 1, fields: ["a", "b"] },
      { line: 2, fields: ["1", ""] },
    ]);
  });

  it("names line and column for an unterminated quote, a stray quote and a text after a closing quote", () => {
    expect(problemsOf(() => readCsvRecords('a,b\n1,"open\n2,3\n'))).toEqual(["2:2 a quoted field is never closed"]);
    expect(problemsOf(() => readCsvRecords('a,b\n1,x"y\n'))[0]).toMatch(/^2:2 a quote inside an unquoted field/);
    expect(problemsOf(() => readCsvRecords('a,b,c\n1,"x"y,3\n'))[0]).toMatch(/^2:2 unexpected "y" after a closing quote/);
  });

  it("refuses empty files, empty or repeated headers and ragged rows", () => {
    expect(problemsOf(() => parseCsv(""))).toEqual(["1:0 the file is empty"]);
    expect(problemsOf(() => parseCsv("\ufeff\r\n"))).toEqual(["1:0 the file is empty"]);
    expect(problemsOf(() => parseCsv("a,,A\n1,2,3\n"))).toEqual(["1:2 a header is empty", '1:3 header "A" repeats column 1']);
    expect(problemsOf(() => parseCsv("a,b,c\n1,2,3\n4,5\n6,7,8,9\n"))).toEqual(["3:3 has 2 fields, the header has 3", "4:4 has 4 fields, the header has 3"]);
  });
});

const MAPPING: CsvColumnMapping = {
  id: "Employee Number",
  username: "Email Address",
  mail: "Email Address",
  attributes: { title: "Position Title", areaofwork: "Area of Work", occupationcode: "Occupation Code", organisation: "Organisation" },
  assignmentStart: "Assignment Start Date",
  assignmentEnd: "Assignment End Date",
  groups: ["{areaofwork}", "{areaofwork} {title}"],
};
const HEADER =
  "Employee Number,First Name,Last Name,Email Address,Position Title,Occupation Code,Area of Work,Organisation,Assignment Start Date,Assignment End Date";
const NOW = new Date("2026-11-22T12:00:00Z");

describe("ESR column mapping", () => {
  it("maps rows to people and groups derived from area of work and position", () => {
    const table = parseCsv(
      [
        HEADER,
        "1001,Amy,Jones,amy.jones@trust.nhs.uk,Staff Nurse,N0A,Ward 7,RXX,01/04/2020,",
        "1002,Bob,Smith,bob.smith@trust.nhs.uk,Consultant,C1A,Ward 7,RXX,2019-01-01,2026-11-21",
        "1003,Cat,Lee,cat.lee@trust.nhs.uk,Staff Nurse,N0A,Ward 9,RXX,2027-01-01,",
        '1004,Dan,"O\'Neil, Jr",dan@trust.nhs.uk,"Ward Manager, Band 7",N0B,Ward 9,RXX,01-JAN-2024,22/11/2026',
      ].join("\r\n"),
    );
    const mapped = mapEsrTable(table, MAPPING, NOW);
    expect(mapped.people.map((p) => [p.id, p.userName, p.active, p.resource.groups])).toEqual([
      ["1001", "amy.jones@trust.nhs.uk", true, ["Ward 7", "Ward 7 Staff Nurse"]],
      ["1002", "bob.smith@trust.nhs.uk", false, []], // assignment ended yesterday: a leaver
      ["1004", "dan@trust.nhs.uk", true, ["Ward 9", "Ward 9 Ward Manager, Band 7"]], // ends today: still current
    ]);
    expect(mapped.people[0]?.resource.attributes).toEqual({ title: "Staff Nurse", areaofwork: "Ward 7", occupationcode: "N0A", organisation: "RXX" });
    expect(mapped.people[0]?.resource.mail).toBe("amy.jones@trust.nhs.uk");
    expect(mapped.groups.map((g) => [g.displayName, g.memberIds])).toEqual([
      ["Ward 7", ["1001"]],
      ["Ward 7 Staff Nurse", ["1001"]],
      ["Ward 9", ["1004"]],
      ["Ward 9 Ward Manager, Band 7", ["1004"]],
    ]);
    expect(mapped).toMatchObject({ rows: 4, leavers: 1, notStarted: 1 });
  });

  it("derives no group from a template naming an attribute nobody has, even constructor or __proto__ (issue 12.2)", () => {
    const table = parseCsv([HEADER, "1001,Amy,Jones,amy.jones@trust.nhs.uk,Staff Nurse,N0A,Ward 7,RXX,01/04/2020,"].join("\n"));
    const mapped = mapEsrTable(table, { ...MAPPING, groups: ["{constructor}", "{__proto__} nurses", "{toString}", "{areaofwork}"] }, NOW);
    expect(mapped.groups.map((g) => g.displayName)).toEqual(["Ward 7"]);
  });

  it("merges a person's assignments: a mover's ended row drops out, a current row counts", () => {
    const table = parseCsv(
      [HEADER, "2001,Eve,Ng,eve@t.uk,Staff Nurse,N0A,Ward 7,RXX,2020-01-01,2026-10-31", "2001,Eve,Ng,eve@t.uk,Sister,N0B,Ward 9,RXX,2026-11-01,"].join("\n"),
    );
    const [eve] = mapEsrTable(table, MAPPING, NOW).people;
    expect(eve).toMatchObject({ id: "2001", active: true, resource: { groups: ["Ward 9", "Ward 9 Sister"], attributes: { title: "Sister" } } });
  });

  it("names line and column of bad cells and refuses a file listing nobody", () => {
    const table = parseCsv(
      [
        HEADER,
        ",A,B,a@t.uk,T,O,W,R,,",
        "3001,A,B,x@t.uk,T,O,W,R,31/02/2024,",
        "3002,A,B,x@t.uk,T,O,W,R,,",
        "3003,A,B,y@t.uk,T,O,W,R,2024-05-01,2024-04-01",
      ].join("\n"),
    );
    expect(problemsOf(() => mapEsrTable(table, MAPPING, NOW))).toEqual([
      '2:1 "Employee Number" is empty',
      '3:9 "31/02/2024" in "Assignment Start Date" is not a date (expected 2024-03-31 or 31/03/2024)',
      '4:4 login name "x@t.uk" is also employee 3001\'s (line 3)',
      "5:10 the assignment ends before it starts",
    ]);
    expect(problemsOf(() => mapEsrTable(parseCsv(`${HEADER}\n`), MAPPING, NOW))[0]).toMatch(/lists nobody/);
  });

  it("refuses a mapping naming a column the file does not have", () => {
    expect(problemsOf(() => mapEsrTable(parseCsv("Employee Number,Name\n1,A\n"), MAPPING, NOW))[0]).toMatch(/^1:0 the header has no column "Email Address"/);
  });

  it("reads ESR date forms and refuses others", () => {
    expect(parseEsrDate("2024-03-31")).toEqual(new Date(Date.UTC(2024, 2, 31)));
    expect(parseEsrDate("31/03/2024")).toEqual(new Date(Date.UTC(2024, 2, 31)));
    expect(parseEsrDate("31-MAR-2024")).toEqual(new Date(Date.UTC(2024, 2, 31)));
    expect(parseEsrDate(" ")).toBeNull();
    for (const bad of ["03/31/2024", "2024-3-1", "tomorrow", "31-XYZ-2024"]) expect(parseEsrDate(bad)).toBe("invalid");
  });
});
