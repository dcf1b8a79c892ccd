/** Writes media/icon.png (128×128): a sharp and a flat valley, the extension's icon. `node --import tsx scripts/makeIcon.ts` */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';

const size = 128;
const pixels = Buffer.alloc(size * (size * 4 + 1));
const put = (x: number, y: number, [r, g, b, a]: number[]) => {
  if (x < 0 || y < 0 || x >= size || y >= size) return;
  const i = y * (size * 4 + 1) + 1 + x * 4;
  pixels[i] = r;
  pixels[i + 1] = g;
  pixels[i + 2] = b;
  pixels[i + 3] = a;
};
for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) put(x, y, [30, 34, 48, 255]);
const curve = (x: number) => {
  const t = x / size;
  const sharp = 0.9 - 0.75 * Math.exp(-((t - 0.3) ** 2) / 0.002);
  const flat = 0.9 - 0.55 * Math.exp(-((t - 0.72) ** 2) / 0.02);
  return Math.min(sharp, flat) * size;
};
for (let x = 0; x < size; x++) {
  const y = curve(x);
  for (let dy = -3; dy <= 3; dy++) put(x, Math.round(y + dy), [86, 182, 255, 255]);
  for (let yy = Math.round(y) + 4; yy < size - 10; yy++) put(x, yy, [48, 80, 120, 255]);
}
const crc = (buf: Buffer) => {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
};
const chunk = (type: string, data: Buffer) => {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const tail = Buffer.alloc(4);
  tail.writeUInt32BE(crc(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, tail]);
};
const header = Buffer.alloc(13);
header.writeUInt32BE(size, 0);
header.writeUInt32BE(size, 4);
header.set([8, 6, 0, 0, 0], 8);
fs.writeFileSync('media/icon.png', Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', header), chunk('IDAT', zlib.deflateSync(pixels)), chunk('IEND', Buffer.alloc(0))]));
