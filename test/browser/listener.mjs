// onair's browser listener: serves page.html and livekit-client on 127.0.0.1,
// drives headless Chromium with Playwright, joins a LiveKit room, and prints
// what it heard as one JSON object on stdout.
//
//   node listener.mjs --url ws://127.0.0.1:7880 --token JWT [--passphrase P]
//                     [--duration 8000] [--publish-hz 660]
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
for (const k of ['url', 'token']) {
  if (!args[k]) { console.error(`listener: --${k} is required`); process.exit(2); }
}
const files = {
  '/': [path.join(here, 'page.html'), 'text/html'],
  '/lk/livekit-client.umd.js': [path.join(here, 'node_modules/livekit-client/dist/livekit-client.umd.js'), 'text/javascript'],
  '/lk/livekit-client.e2ee.worker.js': [path.join(here, 'node_modules/livekit-client/dist/livekit-client.e2ee.worker.js'), 'text/javascript'],
};
const server = http.createServer((req, res) => {
  const f = files[req.url.split('?')[0]];
  if (!f) { res.writeHead(req.url === '/favicon.ico' ? 204 : 404); res.end(); return; }
  res.writeHead(200, { 'content-type': f[1] });
  fs.createReadStream(f[0]).pipe(res);
});
await new Promise(r => server.listen(0, '127.0.0.1', r));
const origin = `http://127.0.0.1:${server.address().port}`;

const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-chromium-'));
let ctx;
try {
  ctx = await chromium.launchPersistentContext(userDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'],
  });
  const page = await ctx.newPage();
  page.on('console', m => { if (m.type() === 'error') console.error('page:', m.text()); });
  await page.goto(origin + '/');
  const result = await page.evaluate(p => run(p), {
    url: args.url, token: args.token, passphrase: args.passphrase || '',
    durationMs: Number(args.duration || 8000), publishHz: Number(args['publish-hz'] || 0),
  });
  process.stdout.write(JSON.stringify(result) + '\n');
} catch (e) {
  console.error('listener:', e && e.stack || e);
  process.exitCode = 1;
} finally {
  if (ctx) await ctx.close();
  server.close();
  fs.rmSync(userDir, { recursive: true, force: true });
}
