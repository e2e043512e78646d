/**
 * ESR-style CSV rows to directory people and groups, by a column mapping from the config.
 * One row is one assignment: rows sharing an employee number are one person whose groups are
 * the union of their current assignments. An assignment that ended (end date before today) does
 * not count; a person with no current assignment is disabled (a leaver). An assignment not yet
 * started does not count either; someone with only future assignments is left out entirely.
 */
import { type CsvProblem, type CsvTable, describeProblem } from "./csv.js";
import { attributeOf } from "./model.js";

export interface CsvColumnMapping {
  /** Header of the stable person id (the ESR employee number). */
  id: string;
  /** Header of the login name; unset: the id is the login name. */
  username?: string | undefined;
  mail?: string | undefined;
  /** Attribute name (for rules, power levels, templates) -> header. */
  attributes: Record<string, string>;
  assignmentStart?: string | undefined;
  assignmentEnd?: string | undefined;
  /** Group name templates over attributes, e.g. "{areaofwork}" or "{areaofwork} {title}". */
  groups: string[];
}

export interface MappedPerson {
  id: string;
  userName: string;
  externalId: string;
  active: boolean;
  resource: { format: "csv"; mail: string | null; attributes: Record<string, string>; groups: string[] };
}

export interface MappedGroup {
  id: string;
  displayName: string;
  externalId: null;
  memberIds: string[];
}

export interface MappedDirectory {
  people: MappedPerson[];
  groups: MappedGroup[];
  rows: number;
  leavers: number;
  notStarted: number;
}

export class CsvMappingError extends Error {
  constructor(readonly problems: CsvProblem[]) {
    super(problems.map(describeProblem).join("; "));
    this.name = "CsvMappingError";
  }
}

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const TEMPLATE_PART = /\{([a-z0-9_.-]+)\}/gi;

/** 2024-03-31, 31/03/2024 (ESR's day-first form) or 31-MAR-2024; "" is no date. */
export function parseEsrDate(text: string): Date | null | "invalid" {
  const value = text.trim();
  if (value === "") return null;
  let year: number;
  let month: number;
  let day: number;
  const iso = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const uk = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(value);
  const named = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(value);
  if (iso) [year, month, day] = [Number(iso[1]), Number(iso[2]), Number(iso[3])];
  else if (uk) [day, month, year] = [Number(uk[1]), Number(uk[2]), Number(uk[3])];
  else if (named) {
    const index = MONTHS.indexOf((named[2] as string).toUpperCase());
    if (index < 0) return "invalid";
    [day, month, year] = [Number(named[1]), index + 1, Number(named[3])];
  } else return "invalid";
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return "invalid";
  return date;
}

function groupNames(templates: string[], attributes: Record<string, string>): string[] {
  const names: string[] = [];
  for (const template of templates) {
    let missing = false;
    const name = template.replace(TEMPLATE_PART, (_, key: string) => {
      const value = attributeOf(attributes, key) ?? "";
      if (value === "") missing = true;
      return value;
    });
    // A person without the attribute a template names is in no group by that template.
    if (!missing && name.trim() !== "") names.push(name.trim());
  }
  return names;
}

/** Checks the mapping names headers the file has (case-insensitive); returns header -> index. */
function columnIndex(table: CsvTable, mapping: CsvColumnMapping): Map<string, number> {
  const index = new Map(table.header.map((name, i) => [name.toLowerCase(), i]));
  const wanted = [mapping.id, mapping.username, mapping.mail, mapping.assignmentStart, mapping.assignmentEnd, ...Object.values(mapping.attributes)].filter(
    (name): name is string => name !== undefined,
  );
  const missing = [...new Set(wanted)].filter((name) => !index.has(name.toLowerCase()));
  if (missing.length > 0) {
    throw new CsvMappingError([
      { line: 1, column: 0, message: `the header has no column ${missing.map((name) => `"${name}"`).join(", ")} (columns found: ${table.header.join(", ")})` },
    ]);
  }
  return index;
}

/** Maps a parsed CSV table to people and groups; throws CsvMappingError naming line and column. */
export function mapEsrTable(table: CsvTable, mapping: CsvColumnMapping, now: Date): MappedDirectory {
  const index = columnIndex(table, mapping);
  const cell = (fields: string[], header: string | undefined) => (header === undefined ? "" : (fields[index.get(header.toLowerCase()) as number] ?? "").trim());
  const columnOf = (header: string) => (index.get(header.toLowerCase()) as number) + 1;
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const problems: CsvProblem[] = [];
  interface Building {
    person: MappedPerson;
    line: number;
    current: boolean;
    groups: Set<string>;
  }
  const byId = new Map<string, Building>();
  const byUserName = new Map<string, { id: string; line: number }>();
  let leavers = 0;
  let notStarted = 0;
  for (const record of table.records) {
    if (problems.length >= 20) break;
    const id = cell(record.fields, mapping.id);
    if (id === "") {
      problems.push({ line: record.line, column: columnOf(mapping.id), message: `"${mapping.id}" is empty` });
      continue;
    }
    const userName = mapping.username ? cell(record.fields, mapping.username) : id;
    if (userName === "") {
      problems.push({ line: record.line, column: columnOf(mapping.username as string), message: `"${mapping.username}" is empty` });
      continue;
    }
    const dates: (Date | null)[] = [];
    for (const header of [mapping.assignmentStart, mapping.assignmentEnd]) {
      const parsed = header ? parseEsrDate(cell(record.fields, header)) : null;
      if (parsed === "invalid") {
        problems.push({
          line: record.line,
          column: columnOf(header as string),
          message: `"${cell(record.fields, header)}" in "${header}" is not a date (expected 2024-03-31 or 31/03/2024)`,
        });
      }
      dates.push(parsed === "invalid" ? null : parsed);
    }
    const [start, end] = dates;
    if (start && end && end.getTime() < start.getTime()) {
      problems.push({ line: record.line, column: columnOf(mapping.assignmentEnd as string), message: "the assignment ends before it starts" });
    }
    const future = start !== null && start !== undefined && start.getTime() > today;
    const ended = end !== null && end !== undefined && end.getTime() < today;
    const attributes: Record<string, string> = {};
    for (const [name, header] of Object.entries(mapping.attributes)) {
      const value = cell(record.fields, header);
      if (value !== "") attributes[name.toLowerCase()] = value;
    }
    const owner = byUserName.get(userName.toLowerCase());
    if (owner && owner.id !== id) {
      problems.push({
        line: record.line,
        column: mapping.username ? columnOf(mapping.username) : columnOf(mapping.id),
        message: `login name "${userName}" is also employee ${owner.id}'s (line ${owner.line})`,
      });
      continue;
    }
    byUserName.set(userName.toLowerCase(), { id, line: record.line });
    if (future) {
      notStarted++;
      if (!byId.has(id)) continue;
    }
    const mail = mapping.mail ? cell(record.fields, mapping.mail) || null : null;
    let building = byId.get(id);
    if (!building) {
      building = {
        person: { id, userName, externalId: id, active: false, resource: { format: "csv", mail, attributes, groups: [] } },
        line: record.line,
        current: false,
        groups: new Set(),
      };
      byId.set(id, building);
    }
    if (future) continue;
    if (!ended) {
      // The first current assignment gives the person's attributes (title, area of work...).
      if (!building.current) building.person.resource = { ...building.person.resource, mail: mail ?? building.person.resource.mail, attributes };
      building.current = true;
      for (const name of groupNames(mapping.groups, attributes)) building.groups.add(name);
    }
  }
  if (problems.length > 0) throw new CsvMappingError(problems);
  const groups = new Map<string, MappedGroup>();
  const people: MappedPerson[] = [];
  for (const { person, current, groups: names } of byId.values()) {
    person.active = current;
    if (!current) leavers++;
    person.resource.groups = [...names].sort();
    people.push(person);
    for (const name of names) {
      const key = name.toLowerCase();
      let group = groups.get(key);
      if (!group) {
        group = { id: name, displayName: name, externalId: null, memberIds: [] };
        groups.set(key, group);
      }
      group.memberIds.push(person.id);
    }
  }
  if (people.length === 0)
    throw new CsvMappingError([{ line: 1, column: 0, message: "the file lists nobody (only a header, or only assignments not yet started)" }]);
  return { people, groups: [...groups.values()], rows: table.records.length, leavers, notStarted };
}
