// onair's device page: state and meters over Server-Sent Events
// (/api/events, 10 a second), the buttons and the config editor through
// /api/. No framework, no build step.
'use strict';
const $ = id => document.getElementById(id);
const words = {idle: 'Idle', joining: 'Joining', live: 'Live', onair: 'ON AIR', muted: 'Muted', degraded: 'Degraded', error: 'Error'};
let es = null, last = null, info = null, session = {password_set: false, logged_in: false};
let lastMsg = 0, retry = null, busy = false;

async function api(path, body) {
  const opt = body === undefined ? {} : {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)};
  const r = await fetch(path, opt);
  let data = {};
  try { data = await r.json(); } catch (e) { /* not JSON */ }
  if (r.status === 401) { session.logged_in = false; showLogin(); }
  return {status: r.status, ok: r.ok, data};
}

function show(id, on) { $(id).hidden = !on; }

function showLogin() {
  show('login', true);
  for (const id of ['status', 'control', 'meters', 'counters', 'config']) show(id, false);
  if (es) { es.close(); es = null; }
  setConn(false, 'Log in to see the device');
  $('password').focus();
}

function showPage() {
  show('login', false);
  for (const id of ['status', 'meters', 'counters', 'config']) show(id, true);
  show('control', true);
  const can = session.logged_in;
  for (const id of ['b-onair', 'b-mute', 'b-identify', 'cfgapply', 'cfgcheck']) $(id).disabled = !can;
  show('logout', can);
  if (!session.password_set) {
    $('ctlmsg').textContent = 'Read-only: set http.password_hash (onairctl passwd) to control the device from this page.';
  }
}

function setConn(ok, text) { $('conn').dataset.ok = ok; $('conn').textContent = text; }

async function start() {
  clearTimeout(retry);
  let s;
  try { s = await api('api/session'); } catch (e) { return reconnect(); }
  if (!s.ok) return reconnect();
  session = s.data;
  if (session.password_set && !session.logged_in) return showLogin();
  showPage();
  loadConfig(false);
  connect();
}

function reconnect() {
  if (es) { es.close(); es = null; }
  setConn(false, 'Connection lost: reconnecting…');
  clearTimeout(retry);
  retry = setTimeout(start, 1000);
}

function connect() {
  if (es) es.close();
  es = new EventSource('api/events');
  es.onopen = () => setConn(true, 'Live');
  es.addEventListener('info', e => { info = JSON.parse(e.data); drawArray(); });
  es.onmessage = e => { lastMsg = Date.now(); window.onairEvents = (window.onairEvents || 0) + 1; last = JSON.parse(e.data); render(last); };
  es.onerror = () => {
    setConn(false, 'Connection lost: reconnecting…');
    // EventSource retries by itself unless the server answered with an
    // error (a restart that lost the login, say): then start over.
    if (es.readyState === EventSource.CLOSED) reconnect();
  };
}

// A stream that stalls without an error (a suspended laptop) restarts.
setInterval(() => { if (es && lastMsg && Date.now() - lastMsg > 3000) { lastMsg = 0; reconnect(); } }, 1000);

const fmt = (v, d = 1) => Number.isFinite(v) ? v.toFixed(d) : '–';
const yes = b => b ? 'yes' : 'no';

function duration(s) {
  s = Math.floor(s);
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return (d ? d + 'd ' : '') + (d || h ? h + 'h ' : '') + m + 'm ' + (s % 60) + 's';
}

function render(s) {
  $('name').textContent = s.name || s.device;
  $('devid').textContent = s.device;
  document.title = (words[s.state] || s.state) + ' · ' + (s.name || s.device);
  const st = $('state');
  st.textContent = words[s.state] || s.state;
  st.dataset.state = s.state;
  $('reason').textContent = s.reason ? '(' + s.reason + ')' : '';
  const since = new Date(s.since);
  $('since').textContent = since.toLocaleString();
  $('since').dateTime = s.since;
  $('onair-v').textContent = s.on_air ? 'yes, on air' : 'no, off air';
  $('muted-v').textContent = yes(s.muted);
  $('room').textContent = s.room || '–';
  $('backend').textContent = s.backend || '–';
  $('e2ee').textContent = s.encrypted ? 'end-to-end encrypted' : 'NOT end-to-end encrypted';
  $('e2ee').className = s.encrypted ? 'ok' : 'bad';
  $('board').textContent = s.board || '–';
  $('b-onair').setAttribute('aria-pressed', s.on_air);
  $('b-mute').setAttribute('aria-pressed', s.muted);
  const lv = s.out_level || {}, rms = lv.rms_dbfs, peak = lv.peak_dbfs;
  const pct = v => Math.max(0, Math.min(100, (v + 60) / 60 * 100));
  $('m-rms').style.clipPath = 'inset(0 ' + (100 - pct(rms)) + '% 0 0)';
  $('m-peak').style.left = 'calc(' + pct(peak) + '% - 3px)';
  $('meter').setAttribute('aria-valuenow', fmt(rms));
  $('rms').textContent = fmt(rms);
  $('peak').textContent = fmt(peak);
  $('voice').textContent = s.voice ? 'voice' : 'no voice';
  const ss = (s.room_stats || {}).session || {};
  $('loss').textContent = fmt((ss.fraction_lost || 0) * 100) + ' %';
  $('rtt').textContent = ss.rtt_ns ? fmt(ss.rtt_ns / 1e6) + ' ms' : 'not yet known';
  $('jitter').textContent = ss.jitter_ns ? fmt(ss.jitter_ns / 1e6) + ' ms' : '–';
  const p = s.pipeline || {}, r = s.room_stats || {};
  counters([['Capture', s.capture || '–'], ['Frames', p.frames], ['Packets', p.packets], ['Drops', p.drops], ['Overruns', p.xruns],
    ['Late', p.late], ['Not sent', r.dropped], ['Room', r.state], ['Joins', r.join_attempts], ['Join failures', r.join_failures],
    ['Sessions', r.sessions]]);
  $('version').textContent = s.version;
  $('uptime').textContent = duration(s.uptime_s || 0);
  show('cfgstale', cfgVersion !== null && s.config_version !== cfgVersion);
  drawTalker(s);
}

let counterEls = null;
function counters(rows) {
  const dl = $('counterlist');
  if (!counterEls) {
    counterEls = rows.map(([k]) => {
      const dt = document.createElement('dt'), dd = document.createElement('dd');
      dt.textContent = k; dl.append(dt, dd); return dd;
    });
  }
  rows.forEach(([, v], i) => { counterEls[i].textContent = v === undefined ? '–' : String(v); });
}

// The array seen from above: mic i at 360°·i/n counterclockwise from the
// right, as audio.Geometry places them; the talker at the DOA azimuth.
function drawArray() {
  const on = info && info.doa && info.shape === 'circular' && info.mics > 1;
  show('doa', on);
  if (!on) return;
  const g = $('mics');
  g.replaceChildren();
  const ns = 'http://www.w3.org/2000/svg';
  for (let i = 0; i < info.mics; i++) {
    const a = 2 * Math.PI * i / info.mics, x = 44 * Math.cos(a), y = -44 * Math.sin(a);
    const c = document.createElementNS(ns, 'circle');
    c.setAttribute('class', 'mic'); c.setAttribute('r', 7); c.setAttribute('cx', x); c.setAttribute('cy', y);
    const t = document.createElementNS(ns, 'text');
    t.setAttribute('x', x); t.setAttribute('y', y); t.textContent = i + 1;
    t.setAttribute('fill', '#fff');
    g.append(c, t);
  }
}

function drawTalker(s) {
  if (!info || !info.doa) return;
  const conf = s.doa_confidence || 0, a = (s.doa_deg || 0) * Math.PI / 180;
  const x = 34 * Math.cos(a), y = -34 * Math.sin(a);
  $('arrow').setAttribute('x2', x); $('arrow').setAttribute('y2', y);
  $('talker').setAttribute('cx', x); $('talker').setAttribute('cy', y);
  const seen = conf > 0;
  $('arrow').style.opacity = $('talker').style.opacity = seen ? Math.max(0.3, Math.min(1, conf)) : 0;
  $('doatext').textContent = seen ? `Talker at ${fmt(s.doa_deg, 0)}° (confidence ${fmt(conf, 2)}), ${info.mics} mics` : `No talker located, ${info.mics} mics`;
}

async function command(name, body) {
  if (busy) return;
  busy = true;
  $('ctlmsg').textContent = '';
  try {
    const r = await api('api/command/' + name, body);
    $('ctlmsg').textContent = r.ok ? '' : (r.data.error || 'failed: HTTP ' + r.status);
  } catch (e) {
    $('ctlmsg').textContent = 'The device did not answer.';
  } finally { busy = false; }
}

$('b-onair').onclick = () => command('onair', {on: !(last && last.on_air)});
$('b-mute').onclick = () => command('mute', {on: !(last && last.muted)});
$('b-identify').onclick = async () => { await command('identify', {}); if (!$('ctlmsg').textContent) $('ctlmsg').textContent = 'Identifying: watch the LEDs.'; };
$('logout').onclick = async () => { await api('api/logout', {}); session.logged_in = false; showLogin(); };

$('loginform').onsubmit = async e => {
  e.preventDefault();
  $('loginmsg').textContent = '';
  const r = await api('api/login', {password: $('password').value});
  if (r.ok) { $('password').value = ''; start(); return; }
  $('loginmsg').textContent = r.data.error || 'Login failed: HTTP ' + r.status;
};

// The editor holds the running config as JSON. Check and Apply send the
// edit with the version it was loaded at; the device works out the patch
// and answers with every problem and its path.
let cfgVersion = null;
async function loadConfig(force) {
  if (!force && cfgVersion !== null) return;
  const r = await api('api/config');
  if (!r.ok) return;
  cfgVersion = r.data.version;
  $('cfgver').textContent = cfgVersion;
  $('cfgtext').value = JSON.stringify(r.data.config, null, 2);
}

function problems(list) {
  const ul = $('cfgerrors');
  ul.replaceChildren(...(list || []).map(p => {
    const li = document.createElement('li'), code = document.createElement('code');
    code.textContent = p.path || '(config)';
    li.append(code, ': ' + p.message);
    return li;
  }));
}

async function configSet(apply) {
  problems([]);
  $('cfgmsg').textContent = '';
  let doc;
  try { doc = JSON.parse($('cfgtext').value); } catch (e) {
    problems([{path: 'config', message: 'not JSON: ' + e.message}]);
    return;
  }
  const r = await api(apply ? 'api/config/apply' : 'api/config/check', {version: cfgVersion, config: doc});
  const res = r.data;
  if (!res || !res.errors) { $('cfgmsg').textContent = (res && res.error) || 'HTTP ' + r.status; return; }
  problems(res.errors);
  if (!res.ok) {
    $('cfgmsg').textContent = `${res.errors.length} problem${res.errors.length === 1 ? '' : 's'}: nothing was applied.`;
    return;
  }
  const sections = res.applied.length ? res.applied.join(', ') : 'nothing';
  if (apply) {
    $('cfgmsg').textContent = res.applied.length ? `Applied as version ${res.version} (changed: ${sections}).` : 'Nothing to change.';
    await loadConfig(true);
  } else {
    $('cfgmsg').textContent = `Valid. Apply would change: ${sections}.`;
  }
}

$('cfgcheck').onclick = () => configSet(false);
$('cfgapply').onclick = () => configSet(true);
$('cfgreload').onclick = () => { problems([]); $('cfgmsg').textContent = ''; loadConfig(true); };

start();
