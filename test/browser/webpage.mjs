// Drives onaird's own web page in headless Chromium, as a user would, and
// prints what it saw as one JSON object on stdout. The caller runs onaird
// (http.listen, http.password_hash) and restarts it when this script
// prints {"restart": true} on a line of its own, answering with a line on
// stdin once the new onaird listens.
//
//   node webpage.mjs --url http://127.0.0.1:9110/ --password PW [--screenshot out.png]
import http from 'node:http';
import readline from 'node:readline';
import { chromium } from 'playwright-core';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
for (const k of ['url', 'password']) {
  if (!args[k]) { console.error(`webpage: --${k} is required`); process.exit(2); }
}
const base = args.url.replace(/\/?$/, '/');
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const sleep = ms => new Promise(r => setTimeout(r, ms));
const status = async () => (await fetch(base + 'status')).json();
const out = { errors: [] };

// waitFor polls f until it returns a truthy value or ms pass.
async function waitFor(f, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await sleep(20);
  }
}

// The cross-site page: a form that posts a mute to the device, as a
// forged request from another site would.
const evil = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end(`<!doctype html><form method="post" action="${base}api/command/mute" enctype="text/plain">
<input name='{"on":true,"x":"' value='"}'></form><script>document.forms[0].submit()</script>`);
});
await new Promise(r => evil.listen(0, '127.0.0.1', r));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  const ctx = await browser.newContext({ viewport: { width: 1180, height: 1000 }, deviceScaleFactor: 1 });
  const page = await ctx.newPage();
  // A refused request (the wrong password's 401) is logged by Chromium as a
  // failed resource; the checks below look at those answers themselves.
  page.on('console', m => { if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) out.errors.push('console: ' + m.text()); });
  page.on('pageerror', e => out.errors.push('page: ' + e.message));
  const sizes = {};
  page.on('requestfinished', async req => {
    const u = new URL(req.url());
    if (!u.pathname.startsWith('/api/') && u.origin === new URL(base).origin) {
      const s = await req.sizes().catch(() => null);
      if (s) sizes[u.pathname] = s.responseBodySize + s.responseHeadersSize;
    }
  });
  await page.goto(base);
  await page.locator('#login').waitFor({ state: 'visible' });
  out.loginShown = true;

  // A wrong password is refused and sets no cookie.
  await page.fill('#password', 'not-the-password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForFunction(() => document.getElementById('loginmsg').textContent !== '');
  out.wrongPassword = { message: await page.textContent('#loginmsg'), cookies: (await ctx.cookies()).length };

  // The right one logs in.
  await page.fill('#password', args.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('#status').waitFor({ state: 'visible' });
  await page.waitForFunction(() => document.getElementById('conn').textContent === 'Live', null, { timeout: 15000 });
  const [cookie] = await ctx.cookies();
  out.cookie = cookie && { name: cookie.name, httpOnly: cookie.httpOnly, sameSite: cookie.sameSite };
  out.pageSeesCookie = await page.evaluate(() => document.cookie);

  // On air, through the page's button.
  await page.getByRole('button', { name: 'On air', exact: true }).click();
  await waitFor(async () => (await status()).on_air, 10000, 'on air in /status');
  await page.waitForFunction(() => document.getElementById('b-onair').getAttribute('aria-pressed') === 'true');
  out.onAir = { status: true, pageState: await page.textContent('#state') };

  // The meters move: levels sampled from the page over 3 s, and the
  // events counted.
  const e0 = await page.evaluate(() => window.onairEvents || 0);
  const t0 = Date.now();
  const levels = [];
  for (let i = 0; i < 30; i++) { levels.push(await page.textContent('#rms')); await sleep(100); }
  const e1 = await page.evaluate(() => window.onairEvents || 0);
  out.meters = { levels, eventsPerSecond: (e1 - e0) / ((Date.now() - t0) / 1000),
    voice: await page.textContent('#voice'), doa: await page.textContent('#doatext') };

  // Mute: /status says muted, then the page shows it.
  const m0 = Date.now();
  await page.getByRole('button', { name: 'Mute' }).click();
  await waitFor(async () => (await status()).muted, 5000, 'muted in /status');
  const statusMs = Date.now() - m0;
  await page.waitForFunction(() => document.getElementById('state').textContent === 'Muted' &&
    document.getElementById('b-mute').getAttribute('aria-pressed') === 'true', null, { timeout: 5000 });
  out.mute = { statusMs, pageMs: Date.now() - m0, pageState: await page.textContent('#state'), mutedRow: await page.textContent('#muted-v') };
  await page.getByRole('button', { name: 'Mute' }).click();
  await waitFor(async () => !(await status()).muted, 5000, 'unmuted in /status');

  await page.getByRole('button', { name: 'Identify' }).click();
  await page.waitForFunction(() => document.getElementById('ctlmsg').textContent !== '');
  out.identify = await page.textContent('#ctlmsg');

  // An invalid edit shows its problems with their paths and changes
  // nothing.
  const cfgBefore = await page.evaluate(async () => (await fetch('api/config')).json());
  const doc = JSON.parse(await page.inputValue('#cfgtext'));
  doc.opus.bitrate = 'loud';
  doc.room.url = '';
  await page.fill('#cfgtext', JSON.stringify(doc, null, 2));
  await page.getByRole('button', { name: 'Check' }).click();
  await page.waitForFunction(() => document.querySelectorAll('#cfgerrors li').length > 0);
  const checkProblems = await page.$$eval('#cfgerrors li', li => li.map(e => e.textContent));
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForFunction(() => /nothing was applied/.test(document.getElementById('cfgmsg').textContent));
  const applyProblems = await page.$$eval('#cfgerrors li', li => li.map(e => e.textContent));
  const cfgAfter = await page.evaluate(async () => (await fetch('api/config')).json());
  out.invalidEdit = { checkProblems, applyProblems, message: await page.textContent('#cfgmsg'),
    unchanged: JSON.stringify(cfgBefore) === JSON.stringify(cfgAfter), version: cfgAfter.version };

  // A valid one applies, through the same path as an MQTT patch.
  await page.getByRole('button', { name: 'Reload' }).click();
  await page.waitForFunction(() => !/"loud"/.test(document.getElementById('cfgtext').value));
  const good = JSON.parse(await page.inputValue('#cfgtext'));
  good.device.name = 'Studio Web';
  await page.fill('#cfgtext', JSON.stringify(good, null, 2));
  await page.getByRole('button', { name: 'Check' }).click();
  await page.waitForFunction(() => /^Valid/.test(document.getElementById('cfgmsg').textContent));
  const checked = await page.textContent('#cfgmsg');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForFunction(() => /^Applied/.test(document.getElementById('cfgmsg').textContent), null, { timeout: 15000 });
  await waitFor(async () => (await status()).name === 'Studio Web', 10000, 'the new name in /status');
  await page.waitForFunction(() => document.getElementById('name').textContent === 'Studio Web');
  out.validEdit = { checked, message: await page.textContent('#cfgmsg'), name: (await status()).name };

  // A cross-site POST, from a page on another origin in the same
  // logged-in browser, is refused and changes nothing.
  const evilPage = await ctx.newPage();
  const forged = evilPage.waitForResponse(r => r.url().endsWith('/api/command/mute'));
  await evilPage.goto(`http://localhost:${evil.address().port}/`);
  const resp = await forged;
  await sleep(300);
  out.crossSite = { status: resp.status(), body: await resp.text(), muted: (await status()).muted };
  await evilPage.close();

  // On a phone's screen nothing runs off the side.
  await page.setViewportSize({ width: 390, height: 844 });
  await sleep(200);
  out.phone = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, width: window.innerWidth }));
  await page.setViewportSize({ width: 1180, height: 1000 });

  // onaird restarts; the page reconnects by itself.
  process.stdout.write(JSON.stringify({ restart: true }) + '\n');
  await page.waitForFunction(() => document.getElementById('conn').textContent !== 'Live', null, { timeout: 15000 });
  out.restart = { lost: await page.textContent('#conn') };
  await lines.next();
  const r0 = Date.now();
  await page.waitForFunction(() => document.getElementById('conn').textContent === 'Live', null, { timeout: 30000 });
  const n0 = await page.evaluate(() => window.onairEvents);
  await sleep(1000);
  out.restart.recoveredMs = Date.now() - r0;
  out.restart.eventsAfter = await page.evaluate(() => window.onairEvents) - n0;
  out.restart.name = await page.textContent('#name');

  if (args.screenshot) {
    await page.getByRole('button', { name: 'On air', exact: true }).click().catch(() => {});
    await waitFor(async () => (await status()).on_air, 10000, 'on air for the screenshot');
    await page.waitForFunction(() => document.getElementById('voice').textContent === 'voice', null, { timeout: 10000 }).catch(() => {});
    await page.evaluate(() => { document.getElementById('cfgtext').scrollTop = 0; });
    await page.screenshot({ path: args.screenshot, fullPage: true });
    out.screenshot = args.screenshot;
  }
  out.transfer = sizes;
} catch (e) {
  out.errors.push('webpage: ' + (e && e.stack || e));
  process.exitCode = 1;
} finally {
  await browser.close();
  evil.close();
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit();
}
