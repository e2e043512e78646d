/**
 * A strict RFC 4180 CSV reader for directory imports (ESR extracts): quoted fields, doubled
 * quotes, commas and line breaks inside quotes, a UTF-8 byte order mark, CRLF or LF line ends.
 * Anything it cannot read with certainty is an error naming the line and column, never a guess.
 */

export interface CsvProblem {
  /** 1-based physical line in the file. */
  line: number;
  /** 1-based column (field number); 0 when the problem is about the whole line or file. */
  column: number;
  message: string;
}

export class CsvError extends Error {
  constructor(readonly problems: CsvProblem[]) {
    super(problems.map(describeProblem).join("; "));
    this.name = "CsvError";
  }
}

export function describeProblem(problem: CsvProblem): string {
  return problem.column > 0 ? `line ${problem.line}, column ${problem.column}: ${problem.message}` : `line ${problem.line}: ${problem.message}`;
}

export interface CsvRecord {
  /** Line the record starts on (1-based). */
  line: number;
  fields: string[];
}

export interface CsvTable {
  header: string[];
  records: CsvRecord[];
}

/** Splits CSV text into records; throws CsvError on an unterminated or stray quote. */
export function readCsvRecords(text: string): CsvRecord[] {
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = "";
  let line = 1;
  let recordLine = 1;
  let quoted = false;
  let quoteLine = 0;
  let fieldStarted = false; // the current field began with a quote, or has text
  let afterQuote = false; // a quoted field closed; only a separator or line end may follow
  const endField = () => {
    fields.push(field);
    field = "";
    fieldStarted = false;
    afterQuote = false;
  };
  const endRecord = () => {
    endField();
    // A line with nothing on it is skipped (a trailing newline, blank lines between records).
    if (!(fields.length === 1 && fields[0] === "")) records.push({ line: recordLine, fields });
    fields = [];
  };
  for (let i = 0; i < source.length; i++) {
    const char = source[i] as string;
    if (quoted) {
      if (char === '"') {
        if (source[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          quoted = false;
          afterQuote = true;
        }
      } else {
        if (char === "\n") line++;
        field += char;
      }
      continue;
    }
    if (char === ",") {
      endField();
    } else if (char === "\r" || char === "\n") {
      if (char === "\r" && source[i + 1] === "\n") i++;
      endRecord();
      line++;
      recordLine = line;
    } else if (afterQuote) {
      throw new CsvError([
        { line, column: fields.length + 1, message: `unexpected ${JSON.stringify(char)} after a closing quote (a quote inside a quoted field is written "")` },
      ]);
    } else if (char === '"') {
      if (fieldStarted) {
        throw new CsvError([
          { line, column: fields.length + 1, message: 'a quote inside an unquoted field (quote the whole field and write the quote as "")' },
        ]);
      }
      quoted = true;
      quoteLine = line;
      fieldStarted = true;
    } else {
      field += char;
      fieldStarted = true;
    }
  }
  if (quoted) throw new CsvError([{ line: quoteLine, column: fields.length + 1, message: "a quoted field is never closed" }]);
  if (field !== "" || fields.length > 0 || afterQuote) endRecord();
  return records;
}

/** Reads a CSV file with a header line; every record must have as many fields as the header. */
export function parseCsv(text: string): CsvTable {
  if (text.trim() === "" || text === "\ufeff") throw new CsvError([{ line: 1, column: 0, message: "the file is empty" }]);
  const [first, ...records] = readCsvRecords(text);
  if (!first) throw new CsvError([{ line: 1, column: 0, message: "the file is empty" }]);
  const header = first.fields.map((name) => name.trim());
  const problems: CsvProblem[] = [];
  const seen = new Map<string, number>();
  header.forEach((name, index) => {
    if (name === "") problems.push({ line: first.line, column: index + 1, message: "a header is empty" });
    const earlier = seen.get(name.toLowerCase());
    if (earlier !== undefined && name !== "") problems.push({ line: first.line, column: index + 1, message: `header "${name}" repeats column ${earlier}` });
    seen.set(name.toLowerCase(), index + 1);
  });
  for (const record of records) {
    if (record.fields.length !== header.length) {
      problems.push({
        line: record.line,
        column: Math.min(record.fields.length, header.length) + 1,
        message: `has ${record.fields.length} fields, the header has ${header.length}`,
      });
    }
    if (problems.length >= 20) break;
  }
  if (problems.length > 0) throw new CsvError(problems);
  return { header, records };
}
