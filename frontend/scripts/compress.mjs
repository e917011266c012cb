// Write a .gz beside each text asset in dist/ so the backend can send it to browsers that accept
// gzip (backend/src/lazyaf/web.py), and print the JS total, gzipped (the budget is 200 KB).
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const dist = new URL('../dist/', import.meta.url).pathname;
let js = 0;
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (/\.(js|css|html|svg|json)$/.test(name)) {
      const packed = gzipSync(readFileSync(path), { level: 9 });
      writeFileSync(`${path}.gz`, packed);
      if (name.endsWith('.js')) js += packed.length;
    }
  }
}
walk(dist);
console.log(`JS shipped: ${(js / 1024).toFixed(1)} KB gzipped`);
