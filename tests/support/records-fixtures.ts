import { crc32, deflateSync } from "node:zlib";
import type { NhsNumber } from "../../appservice/src/domain/records/nhs-number.js";
import type { TranscriptMessage } from "../../appservice/src/domain/records/transcript.js";

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A real PNG (RGB, a colour gradient with a band), generated: no image files in the repo. */
export function generatePng(width: number, height: number, seed = 0): Uint8Array {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.writeUInt8(8, 8); // bit depth
  header.writeUInt8(2, 9); // RGB
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width; x++) {
      const band = Math.abs(y - height / 2) < height / 10;
      rows[row + 1 + x * 3] = band ? 0 : (x * 255) / width;
      rows[row + 2 + x * 3] = band ? 94 : (y * 255) / height;
      rows[row + 3 + x * 3] = band ? 184 : (seed * 37) % 256;
    }
  }
  return new Uint8Array(
    Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk("IHDR", header),
      chunk("IDAT", deflateSync(rows)),
      chunk("IEND", Buffer.alloc(0)),
    ]),
  );
}

const LINES = [
  "Obs stable overnight, NEWS 2. Plan: continue IV antibiotics, review bloods at 10:00.",
  "Patient reports pain 4/10 after analgesia. Mobilising with physio this afternoon.",
  "Discussed with registrar: hold warfarin tonight, INR in the morning.",
  "Family updated by phone; they would like a call from the consultant tomorrow.",
  "Wound reviewed, clean and dry. Dressing changed.",
];

/** A long ward conversation: `count` messages from a few clinicians, with `images` generated PNGs among them. */
export function syntheticTranscript(count: number, images: number, start = Date.UTC(2025, 0, 6, 8)): TranscriptMessage[] {
  const people = [
    ["@dr.patel:trust-a.test", "Dr Asha Patel"],
    ["@nurse.okafor:trust-a.test", "Nurse Chidi Okafor"],
    ["@physio.jones:trust-a.test", "Rhys Jones (physio)"],
  ] as const;
  const every = images > 0 ? Math.floor(count / images) : Number.POSITIVE_INFINITY;
  return Array.from({ length: count }, (_, index) => {
    const [sender, senderName] = people[index % people.length] as readonly [string, string];
    const base = { eventId: `$e${index}`, sender, senderName, sentAt: new Date(start + index * 60_000), editedAt: null, threadRootId: null };
    if (index % every === every - 1) {
      const image = { mxcUrl: `mxc://trust-a.test/img${index}`, mimetype: "image/png", name: `wound-${index}.png`, bytes: generatePng(320, 240, index) };
      return { ...base, kind: "image" as const, text: image.name, replyTo: null, image };
    }
    const replyTo =
      index % 7 === 3
        ? { eventId: `$e${index - 1}`, senderName: people[(index - 1) % people.length]?.[1] ?? "", excerpt: LINES[(index - 1) % LINES.length] ?? "" }
        : null;
    return { ...base, kind: "text" as const, text: `${LINES[index % LINES.length]} (${index + 1})`, replyTo, image: null };
  });
}

export const TEST_NHS_NUMBER = "9434765919" as NhsNumber;
