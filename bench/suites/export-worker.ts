/**
 * Runs in its own Node process so its peak RSS is the filing's alone: builds the FHIR bundle
 * and the PDF/A transcript of a 2,000-message conversation with 20 images, as a filing does
 * once the messages are read, and prints the figures as JSON. One filing per process, as a
 * Handover process files one conversation at a time.
 */
import { readFileSync } from "node:fs";
import type { Clock } from "../../appservice/src/domain/clock.js";
import { FilingComposer } from "../../appservice/src/domain/records/filing-composer.js";
import { PdfKitTranscriptRenderer } from "../../appservice/src/records/transcript-pdf.js";
import { ProfileDefinitions } from "../../appservice/src/records/uk-core/definitions.js";
import { UkCoreProfileValidator } from "../../appservice/src/records/uk-core/profile-validator.js";
import { syntheticTranscript, TEST_NHS_NUMBER } from "../../tests/support/records-fixtures.js";

const MESSAGES = 2000;
const IMAGES = 20;

const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? Number.NaN);
const clock: Clock = { now: () => new Date() };
const prepareStarted = performance.now();
const profileValidator = new UkCoreProfileValidator();
profileValidator.prepare();
const prepareMs = performance.now() - prepareStarted;
if (process.env.EXPORT_BENCH_TRACE) console.error(`prepared: rss ${kb("VmRSS") / 1024} MB, peak ${kb("VmHWM") / 1024} MB`);
const composer = new FilingComposer({
  reader: { read: () => Promise.reject(new Error("not used")), media: () => Promise.reject(new Error("not used")) },
  renderer: new PdfKitTranscriptRenderer(),
  profile: profileValidator,
  clock,
  botUserId: "@handover:bench.test",
  identifierSystem: "https://bench.test/Id/handover-export",
  codes: {
    type: [{ system: "http://snomed.info/sct", code: "371531000", display: "Report of clinical encounter" }],
    category: [{ system: "http://snomed.info/sct", code: "419891008", display: "Record artifact" }],
  },
  custodianOdsCode: "RXX",
  timeZone: "Europe/London",
  maxImageBytes: 10_000_000,
  maxAttachmentBytes: 10_485_760,
  filedElsewhere: async () => new Set<string>(),
});
const timings: number[] = [];
let pdfBytes = 0;
let bundleBytes = 0;
let lastBundleJson: string | null = null;
// A running Handover has filed before: warm the code paths with a short conversation first.
await composer.document(
  { exportId: "warm-up", roomId: "!bench:bench.test", patient: { nhsNumber: TEST_NHS_NUMBER, name: null, birthDate: null, verified: false } },
  "Ward 7",
  syntheticTranscript(100, 2),
);
for (let run = 0; run < 1; run++) {
  const messages = syntheticTranscript(MESSAGES, IMAGES);
  const started = performance.now();
  const document = await composer.document(
    {
      exportId: `bench-${run}`,
      roomId: "!bench:bench.test",
      patient: { nhsNumber: TEST_NHS_NUMBER, name: "SMITH, Jane", birthDate: "1980-01-02", verified: true },
    },
    "Ward 7",
    messages,
  );
  timings.push(performance.now() - started);
  if (process.env.EXPORT_BENCH_TRACE) console.error(`run ${run}: rss ${kb("VmRSS") / 1024} MB, heap ${process.memoryUsage().heapUsed / 1e6} MB`);
  pdfBytes = document.pdf.byteLength;
  bundleBytes = document.bundleJson.length;
  lastBundleJson = document.bundleJson;
}
// After the filing (its figures are taken): the final bundle validated again, as a kept one is
// before it is sent, and once more with every invariant in FHIRPath, which is what it cost before
// the Bundle's invariants were evaluated on the JSON. Only when asked: the second takes seconds.
const peakRssMb = kb("VmHWM") / 1024;
let validateFinalMs = Number.NaN;
let validateFhirpathOnlyMs = Number.NaN;
if (process.env.EXPORT_BENCH_COMPARE && lastBundleJson) {
  const bundle = JSON.parse(lastBundleJson);
  let started = performance.now();
  const problems = profileValidator.validate(bundle);
  validateFinalMs = performance.now() - started;
  const fhirpathOnly = new UkCoreProfileValidator(ProfileDefinitions.load(), { nativeInvariants: false });
  started = performance.now();
  const naiveProblems = fhirpathOnly.validate(bundle);
  validateFhirpathOnlyMs = performance.now() - started;
  if (problems.length > 0 || naiveProblems.length > 0) throw new Error(`the filed bundle has problems: ${[...problems, ...naiveProblems].join("; ")}`);
}
console.log(JSON.stringify({ timings, prepareMs, peakRssMb, pdfBytes, bundleBytes, validateFinalMs, validateFhirpathOnlyMs }));
