#!/usr/bin/env node
// tests/player/play.mjs — play video URLs in headless Chromium and report, as
// ONE JSON line per URL on stdout, what a viewer would get: how soon the
// metadata came, which byte ranges the media loader asked for, what a seek
// cost and which frame it shows.
//
//   node tests/player/play.mjs URL [URL...] [options]
//
// Several URLs share one browser (each gets a new context: empty cache, new
// page), one after the other with the same options, a line each in order:
// starting Node.js, playwright-core and Chromium costs 2-4 s, a URL ~1-3 s.
//
//   --throttle BPS     download throughput in bytes/s (CDP
//                      Network.emulateNetworkConditions); 0 = none (default)
//   --latency MS       added latency per request, with or without --throttle
//   --seek T           once the metadata is in, seek to T seconds
//   --play S           then play S seconds of media time (default 1; 0: no)
//   --patch X,Y,W,H    the frame check's patch in video pixels (default the
//                      centre 16x16)
//   --timeout S        each URL's time from setting src to the end
//                      (default 20); past it: error "timeout". Starting the
//                      browser and each URL's page have their own limit,
//                      30 s or S if longer (a loaded machine can take
//                      seconds there)
//   --preload P        the <video preload> (auto|metadata|none; default auto)
//   --page-origin O    the page's origin (default the video URL's: same
//                      origin, so the canvas can be read); another origin,
//                      e.g. http://localhost:9 (nothing listens there: the
//                      page is routed), makes the video cross-origin: the
//                      frame check then reports the tainted canvas, and
//                      with --crossorigin the server must answer CORS
//                      (a failed CORS check is error "media", code 4)
//   --crossorigin V    the <video crossorigin> attribute (anonymous|
//                      use-credentials; default none)
//   --no-cache         Network.setCacheDisabled (the browser cache is on
//                      otherwise, empty at the start of each URL)
//   --headers          each request also lists all its response headers
//   --chromium PATH    the browser (default $CHROMIUM or /usr/bin/chromium)
//
// The page is served at O/__vr_player__.html by Playwright's page.route (no
// request reaches the server; routing is off again before the video loads).
// A <video muted playsinline preload=P> is then created with src=URL.
//
// Output fields (times in ms from the moment src was set, in the page; bytes
// are body bytes of the media requests, CDP Network.dataReceived dataLength;
// "as seen then" means when node heard of the page event, a few ms late):
//   ok                 true, or false with error, stage and message
//   url, can_play      canPlayType('video/mp4; codecs="avc1.64001e, mp4a.40.2"')
//   metadata           {ms, duration (null when not finite: then
//                      duration_infinite), width, height, bytes, requests}:
//                      at loadedmetadata, bytes and requests as seen then
//   seek               with --seek: {to, ms (currentTime= to seeked),
//                      bytes_before, bytes (at seeked, as seen then),
//                      current_time, requests_after (the media requests
//                      started after the seek), range_request (one of them
//                      asks for a Range starting past byte 0), frame}
//   first_frame        without --seek: {ms (loadeddata), frame}
//   play               with --play > 0: {from, seconds, ms (wall time from
//                      play() until currentTime reached from+seconds),
//                      current_time, ended, frame}
//   frame              {x, y, w, h, r, g, b (mean 0-255 of the patch drawn
//                      on a canvas), luma (0.299r+0.587g+0.114b), video_y
//                      (16 + luma*219/255: the limited-range Y the encoder
//                      wrote, for a grey patch), media_time (of the frame
//                      last presented, requestVideoFrameCallback; null if
//                      none was), current_time; or error, e.g. a tainted
//                      canvas}
//   requests           every media request: [{id, method, url (only when not
//                      URL, e.g. a redirect), type, range and if_range (as
//                      sent: Chromium asks "bytes=0-" first, then closed
//                      ranges "bytes=A-B" with If-Range: ETag), status,
//                      content_range, content_length, content_type, etag,
//                      accept_ranges, from_cache, at_ms, bytes,
//                      encoded_bytes (at loadingFinished), state:
//                      "finished"|"failed"|"pending", error, canceled}]
//   bytes_total        body bytes of all media requests by the end
//   buffered           [[start, end], ...] seconds, at the end
//   events             {loadedmetadata: [ms...], seeked: [...], waiting...}
//   launch_ms          the browser's start (node's import included)
//   total_ms           this URL's run
//   on a timeout also: ready_state, network_state, current_time, media_error
//
// at_ms of a request is node's time since src was set. For the frame check
// of make-fixture.sh's video, seek to the middle of a second (100.5, not
// 100): the fragmented variant's timeline is ~21 ms off (AAC priming, no edit
// list), so an exact-second seek there shows the frame before.
//
// Exit status: 0 all ok; 1 a URL timed out, met a media error (error
// "media", code, message) or another failure (its line says); 2 bad usage.
//
// Needs Node.js >= 18 and playwright-core (tests/player/node_modules, which
// scripts/setup installs). No browser is downloaded: Debian's chromium runs.
// VR_PLAY_DEBUG=1 logs the stages with their times on stderr.

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const started = Date.now();
const here = path.dirname(fileURLToPath(import.meta.url));
const MP4_TYPE = 'video/mp4; codecs="avc1.64001e, mp4a.40.2"';
const SETUP_TIMEOUT_S = 30;
const debug = process.env.VR_PLAY_DEBUG
  ? (m) => process.stderr.write(`play.mjs: ${Date.now() - started} ms: ${m}\n`)
  : () => {};

const writeLine = (obj) => new Promise((resolve) => process.stdout.write(JSON.stringify(obj) + '\n', resolve));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// p, or fallback once ms have passed (p itself is left to settle).
const within = (p, ms, fallback = null) =>
  Promise.race([Promise.resolve(p).catch(() => fallback), sleep(ms).then(() => fallback)]);

async function exitWith(code) {
  await new Promise((r) => process.stdout.write('', r));
  process.exit(code);
}

class Usage extends Error {}

function parseArgs(argv) {
  const o = {
    urls: [], throttle: 0, latency: 0, seek: null, play: 1, patch: null,
    timeout: 20, preload: 'auto', pageOrigin: null, crossorigin: null,
    noCache: false, headers: false,
    chromium: process.env.CHROMIUM || '/usr/bin/chromium',
  };
  const num = (name, v, min) => {
    const n = Number(v);
    if (v === undefined || v === '' || !Number.isFinite(n) || n < min) throw new Usage(`${name} needs a number >= ${min}, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Usage(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--throttle': o.throttle = num(a, val(), 0); break;
      case '--latency': o.latency = num(a, val(), 0); break;
      case '--seek': o.seek = num(a, val(), 0); break;
      case '--play': o.play = num(a, val(), 0); break;
      case '--timeout': o.timeout = num(a, val(), 0.1); break;
      case '--patch': {
        const p = val().split(',').map((x) => (x === '' ? NaN : Number(x)));
        if (p.length !== 4 || p.some((n) => !Number.isInteger(n) || n < 0) || p[2] < 1 || p[3] < 1) throw new Usage('--patch needs X,Y,W,H (whole numbers, W and H > 0)');
        o.patch = { x: p[0], y: p[1], w: p[2], h: p[3] };
        break;
      }
      case '--preload': o.preload = val(); if (!['auto', 'metadata', 'none'].includes(o.preload)) throw new Usage('--preload: auto|metadata|none'); break;
      case '--page-origin': o.pageOrigin = val(); break;
      case '--crossorigin': o.crossorigin = val(); if (!['anonymous', 'use-credentials'].includes(o.crossorigin)) throw new Usage('--crossorigin: anonymous|use-credentials'); break;
      case '--no-cache': o.noCache = true; break;
      case '--headers': o.headers = true; break;
      case '--chromium': o.chromium = val(); break;
      case '-h': case '--help':
        throw new Usage('node play.mjs URL [URL...] [--throttle BPS] [--latency MS] [--seek T] [--play S] [--patch X,Y,W,H] [--timeout S] [--preload P] [--page-origin O] [--crossorigin V] [--no-cache] [--headers] [--chromium PATH]');
      default: {
        if (a.startsWith('-')) throw new Usage(`unknown option ${a}`);
        let u;
        try { u = new URL(a); } catch { throw new Usage(`not a URL: ${a}`); }
        if (!/^https?:$/.test(u.protocol)) throw new Usage(`not an http(s) URL: ${a}`);
        o.urls.push(a);
      }
    }
  }
  if (o.urls.length === 0) throw new Usage('a video URL is needed');
  if (o.pageOrigin) {
    try { o.pageOrigin = new URL(o.pageOrigin).origin; } catch { throw new Usage(`--page-origin is not a URL: ${o.pageOrigin}`); }
  }
  return o;
}

function header(h, name) {
  if (!h) return null;
  const k = Object.keys(h).find((x) => x.toLowerCase() === name);
  return k === undefined ? null : h[k];
}

// ---- the page ----

const PAGE_HTML = `<!doctype html><html><head><meta charset="utf-8"><title>vr player</title>
<link rel="icon" href="data:,">
<style>html,body{margin:0;background:#000}video{display:block}</style></head><body></body></html>`;

// Runs in the page: creates the video, the event log and the helpers.
function pageInit({ src, preload, crossorigin, mp4Type }) {
  const v = document.createElement('video');
  v.muted = true;
  v.playsInline = true;
  v.preload = preload;
  if (crossorigin) v.crossOrigin = crossorigin;
  const w = (window.__vr = { v, events: {}, lastFrame: null });
  const canPlay = v.canPlayType(mp4Type);
  for (const ev of ['loadstart', 'loadedmetadata', 'loadeddata', 'canplay', 'seeking', 'seeked', 'playing', 'waiting', 'stalled', 'ended', 'error']) {
    v.addEventListener(ev, () => {
      (w.events[ev] ||= []).push(performance.now() - w.t0);
      if (ev === 'loadedmetadata' || ev === 'seeked' || ev === 'error') window.__vrMark(ev);
    });
  }
  // The frame last presented (media time), kept up to date.
  if (v.requestVideoFrameCallback) {
    const onFrame = (_now, meta) => {
      w.lastFrame = { media_time: meta.mediaTime, presented: meta.presentedFrames };
      v.requestVideoFrameCallback(onFrame);
    };
    v.requestVideoFrameCallback(onFrame);
  }
  w.mediaError = () => (v.error ? { code: v.error.code, message: v.error.message || '' } : null);
  // Resolves with the time of `name` (the first at or after `since`), rejects
  // on a media error.
  w.wait = (name, since = 0) => new Promise((resolve, reject) => {
    const check = () => {
      const t = (w.events[name] || []).find((x) => x >= since);
      if (t !== undefined) { cleanup(); resolve(t); return true; }
      if (v.error) { cleanup(); reject(new Error('vrmedia:' + encodeURIComponent(JSON.stringify(w.mediaError())) + ':vrmedia')); return true; }
      return false;
    };
    const cleanup = () => { v.removeEventListener(name, check); v.removeEventListener('error', check); };
    if (check()) return;
    v.addEventListener(name, check);
    v.addEventListener('error', check);
  });
  w.frame = async (patch) => {
    // Wait (300 ms at most) until the frame presented is the one at
    // currentTime, as it is shortly after seeked.
    for (let i = 0; i < 15; i++) {
      if (w.lastFrame && Math.abs(w.lastFrame.media_time - v.currentTime) < 0.1) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const W = v.videoWidth, H = v.videoHeight;
    const p = patch || { x: Math.max(0, Math.floor(W / 2) - 8), y: Math.max(0, Math.floor(H / 2) - 8), w: 16, h: 16 };
    const res = { x: p.x, y: p.y, w: p.w, h: p.h, media_time: w.lastFrame ? w.lastFrame.media_time : null, current_time: v.currentTime };
    if (!W || !H) { res.error = 'no video frame (videoWidth 0)'; return res; }
    if (p.x + p.w > W || p.y + p.h > H) { res.error = `patch outside the ${W}x${H} frame`; return res; }
    try {
      const c = document.createElement('canvas');
      c.width = W; c.height = H;
      const ctx = c.getContext('2d', { willReadFrequently: true });
      ctx.drawImage(v, 0, 0, W, H);
      const d = ctx.getImageData(p.x, p.y, p.w, p.h).data;
      let r = 0, g = 0, b = 0;
      const n = d.length / 4;
      for (let i = 0; i < d.length; i += 4) { r += d[i]; g += d[i + 1]; b += d[i + 2]; }
      r /= n; g /= n; b /= n;
      const luma = 0.299 * r + 0.587 * g + 0.114 * b;
      const round = (x) => Math.round(x * 10) / 10;
      Object.assign(res, { r: round(r), g: round(g), b: round(b), luma: round(luma), video_y: round(16 + (luma * 219) / 255) });
    } catch (e) {
      res.error = `${e.name}: ${e.message}`;
    }
    return res;
  };
  w.play = async (secs) => {
    const from = v.currentTime;
    await v.play();
    await new Promise((resolve, reject) => {
      const tick = () => {
        if (v.error) return reject(new Error('vrmedia:' + encodeURIComponent(JSON.stringify(w.mediaError())) + ':vrmedia'));
        if (v.currentTime >= from + secs || v.ended) return resolve();
        setTimeout(tick, 20);
      };
      tick();
    });
    v.pause();
    return { from, current_time: v.currentTime, ended: v.ended };
  };
  w.state = () => {
    const e = {};
    for (const [k, t] of Object.entries(w.events)) e[k] = t.map((x) => Math.round(x));
    return {
      ready_state: v.readyState, network_state: v.networkState, current_time: v.currentTime,
      media_error: w.mediaError(), events: e,
      buffered: Array.from({ length: v.buffered.length }, (_, i) => [v.buffered.start(i), v.buffered.end(i)]),
    };
  };
  document.body.appendChild(v);
  w.t0 = performance.now();
  v.src = src;
  return canPlay;
}

// ---- one URL ----

async function playOne(browser, opts, url, launchMs) {
  const t0 = Date.now();
  const out = { ok: false, url };
  const reqs = new Map(); // requestId -> record
  const order = []; // the records, in the order they started
  const marks = {}; // page event -> {bytes, requests} when node heard of it
  let tSrc = null;
  let stage = 'context';
  let context = null;
  let page = null;
  const setStage = (s) => { stage = s; debug(`${url}: ${s}`); };
  let startMediaClock = () => {};

  const isMedia = (type, u) => type === 'Media' || u === url;
  const sumBytes = (list = order) => list.reduce((s, r) => s + r.bytes, 0);
  const publicReq = (r) => {
    const o = {
      id: r.id, method: r.method, type: r.type, range: r.range, if_range: r.if_range, status: r.status,
      content_range: r.content_range, content_length: r.content_length,
      content_type: r.content_type, etag: r.etag, accept_ranges: r.accept_ranges,
      from_cache: r.from_cache, at_ms: r.at_ms, bytes: r.bytes,
      encoded_bytes: r.encoded_bytes, state: r.state,
    };
    if (r.url !== url) o.url = r.url;
    if (r.error) o.error = r.error;
    if (r.canceled) o.canceled = true;
    if (opts.headers && r.headers) o.headers = r.headers;
    return o;
  };
  const snapshot = (list = order) => list.map(publicReq);
  const mark = (ev) => marks[ev] || { bytes: sumBytes(), requests: snapshot() };

  const run = async () => {
    context = await browser.newContext({ viewport: { width: 800, height: 480 } });
    page = await context.newPage();
    await page.exposeBinding('__vrMark', (_src, ev) => {
      if (!marks[ev]) marks[ev] = { bytes: sumBytes(), requests: snapshot() };
    });

    setStage('cdp');
    const cdp = await context.newCDPSession(page);
    cdp.on('Network.requestWillBeSent', (e) => {
      if (!isMedia(e.type, e.request.url)) return;
      const prev = reqs.get(e.requestId);
      if (prev && e.redirectResponse) {
        prev.status = e.redirectResponse.status;
        prev.state = 'redirected';
      }
      const r = {
        id: e.requestId, method: e.request.method, url: e.request.url, type: e.type || null,
        range: header(e.request.headers, 'range'), if_range: null, status: null, content_range: null,
        content_length: null, content_type: null, etag: null, accept_ranges: null,
        from_cache: false, at_ms: tSrc === null ? null : Date.now() - tSrc,
        bytes: 0, encoded_bytes: null, state: 'pending', headers: null,
      };
      reqs.set(e.requestId, r);
      order.push(r);
      const x = extra.get(e.requestId);
      if (x) { wire(r, x); extra.delete(e.requestId); }
    });
    // The headers as sent (the network stack turns the media loader's open
    // "bytes=A-" into "bytes=A-B" and adds If-Range from its cache); this
    // event may come before or after requestWillBeSent.
    const extra = new Map();
    const wire = (r, h) => {
      const range = header(h, 'range');
      if (range) r.range = range;
      r.if_range = header(h, 'if-range');
    };
    cdp.on('Network.requestWillBeSentExtraInfo', (e) => {
      const r = reqs.get(e.requestId);
      if (r) wire(r, e.headers);
      else extra.set(e.requestId, e.headers);
    });
    cdp.on('Network.responseReceived', (e) => {
      const r = reqs.get(e.requestId);
      if (!r) return;
      const h = e.response.headers;
      r.status = e.response.status;
      r.content_range = header(h, 'content-range');
      const cl = header(h, 'content-length');
      r.content_length = cl === null ? null : Number(cl);
      r.content_type = header(h, 'content-type');
      r.etag = header(h, 'etag');
      r.accept_ranges = header(h, 'accept-ranges');
      r.from_cache = !!(e.response.fromDiskCache || e.response.fromServiceWorker || e.response.fromPrefetchCache);
      if (!r.range && e.response.requestHeaders) r.range = header(e.response.requestHeaders, 'range');
      r.headers = h;
    });
    cdp.on('Network.dataReceived', (e) => {
      const r = reqs.get(e.requestId);
      if (r) r.bytes += e.dataLength;
    });
    cdp.on('Network.loadingFinished', (e) => {
      const r = reqs.get(e.requestId);
      if (r) { r.state = 'finished'; r.encoded_bytes = e.encodedDataLength; }
    });
    cdp.on('Network.loadingFailed', (e) => {
      const r = reqs.get(e.requestId);
      if (r) { r.state = 'failed'; r.error = e.errorText; r.canceled = !!e.canceled; }
    });
    await cdp.send('Network.enable', { maxTotalBufferSize: 0, maxResourceBufferSize: 0 });
    if (opts.noCache) await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    if (opts.throttle > 0 || opts.latency > 0) {
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: opts.latency,
        downloadThroughput: opts.throttle > 0 ? opts.throttle : -1,
        uploadThroughput: -1,
      });
    }

    setStage('page');
    const pageUrl = `${opts.pageOrigin || new URL(url).origin}/__vr_player__.html`;
    await page.route(pageUrl, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: PAGE_HTML }));
    await page.goto(pageUrl, { waitUntil: 'load' });
    // Routing off again (Fetch.disable, cache back on) before the video loads.
    await page.unroute(pageUrl);

    setStage('loadedmetadata');
    startMediaClock();
    tSrc = Date.now();
    out.can_play = await page.evaluate(pageInit, { src: url, preload: opts.preload, crossorigin: opts.crossorigin, mp4Type: MP4_TYPE });
    const ev = (fn, arg) => page.evaluate(fn, arg);
    const ms = (x) => Math.round(x);

    const tMeta = await ev(() => window.__vr.wait('loadedmetadata'));
    const meta = await ev(() => ({ duration: window.__vr.v.duration, width: window.__vr.v.videoWidth, height: window.__vr.v.videoHeight }));
    const mm = mark('loadedmetadata');
    out.metadata = {
      ms: ms(tMeta),
      // JSON has no Infinity: a duration that is not finite is null here.
      duration: Number.isFinite(meta.duration) ? meta.duration : null,
      ...(Number.isFinite(meta.duration) ? {} : { duration_infinite: meta.duration === Infinity }),
      width: meta.width,
      height: meta.height,
      bytes: mm.bytes,
      requests: mm.requests,
    };

    if (opts.seek !== null) {
      setStage('seeked');
      const nBefore = order.length;
      const bytesBefore = sumBytes();
      const tSeek = await ev((t) => { const w = window.__vr; const at = performance.now() - w.t0; w.v.currentTime = t; return at; }, opts.seek);
      const tSeeked = await ev((since) => window.__vr.wait('seeked', since), tSeek);
      const sm = mark('seeked');
      const after = order.slice(nBefore);
      const rangeStart = (r) => {
        const m = /bytes=(\d+)-/.exec(r.range || '');
        return m ? Number(m[1]) : 0;
      };
      setStage('seek-frame');
      const frame = await ev((p) => window.__vr.frame(p), opts.patch);
      out.seek = {
        to: opts.seek,
        ms: ms(tSeeked - tSeek),
        bytes_before: bytesBefore,
        bytes: sm.bytes,
        current_time: await ev(() => window.__vr.v.currentTime),
        requests_after: snapshot(after),
        range_request: after.some((r) => rangeStart(r) > 0),
        frame,
      };
    } else {
      setStage('loadeddata');
      const tData = await ev(() => window.__vr.wait('loadeddata'));
      setStage('first-frame');
      out.first_frame = { ms: ms(tData), frame: await ev((p) => window.__vr.frame(p), opts.patch) };
    }

    if (opts.play > 0) {
      setStage('play');
      const tPlay = Date.now();
      const r = await ev((secs) => window.__vr.play(secs), opts.play);
      const wall = Date.now() - tPlay;
      setStage('play-frame');
      const frame = await ev((p) => window.__vr.frame(p), opts.patch);
      out.play = { from: r.from, seconds: opts.play, ms: wall, current_time: r.current_time, ended: r.ended, frame };
    }

    const st = await ev(() => window.__vr.state());
    out.buffered = st.buffered;
    out.events = st.events;
    out.ok = true;
  };

  // Two clocks: the browser's setup (context, page, route) gets
  // SETUP_TIMEOUT_S or --timeout, whichever is longer, as it can be slow on
  // a loaded machine; --timeout starts when src is set.
  let setupTimer, mediaTimer;
  const setupS = Math.max(SETUP_TIMEOUT_S, opts.timeout);
  const setupClock = new Promise((resolve) => { setupTimer = setTimeout(() => resolve('setup-timeout'), setupS * 1000); });
  const mediaClock = new Promise((resolve) => {
    startMediaClock = () => {
      clearTimeout(setupTimer);
      mediaTimer = setTimeout(() => resolve('timeout'), opts.timeout * 1000);
    };
  });
  try {
    const running = run().then(() => 'done');
    // After a timeout it may still fail (its page closes under it): that is
    // no unhandled rejection.
    running.catch(() => {});
    const r = await Promise.race([running, setupClock, mediaClock]);
    if (r !== 'done') {
      out.ok = false;
      out.error = 'timeout';
      out.stage = stage;
      out.message = r === 'timeout'
        ? `no result within ${opts.timeout} s of setting src (stage ${stage})`
        : `the browser's setup took more than ${setupS} s (stage ${stage})`;
      const st = page ? await within(page.evaluate(() => (window.__vr ? window.__vr.state() : null)), 1000) : null;
      if (st) Object.assign(out, st);
    }
  } catch (e) {
    const msg = String(e && e.message ? e.message : e);
    const m = /vrmedia:(\S*?):vrmedia/.exec(msg);
    out.ok = false;
    out.stage = stage;
    if (m) {
      const me = JSON.parse(decodeURIComponent(m[1])) || {};
      out.error = 'media';
      out.code = me.code;
      out.message = me.message;
    } else {
      out.error = 'exception';
      out.message = msg.split('\n')[0];
    }
    const st = page ? await within(page.evaluate(() => (window.__vr ? window.__vr.state() : null)), 1000) : null;
    if (st) Object.assign(out, st, { events: st.events });
  } finally {
    clearTimeout(setupTimer);
    clearTimeout(mediaTimer);
  }
  out.bytes_total = sumBytes();
  out.requests = snapshot();
  out.launch_ms = launchMs;
  out.total_ms = Date.now() - t0;
  // close() can hang on a wedged page: never wait long for it.
  if (context) await within(context.close(), 3000);
  return out;
}

// ---- main ----

let opts;
try {
  opts = parseArgs(process.argv.slice(2));
} catch (e) {
  if (!(e instanceof Usage)) throw e;
  await writeLine({ ok: false, error: 'usage', message: e.message });
  await exitWith(2);
}

// Whatever happens, never outlive every URL's timeout by much.
setTimeout(async () => {
  await writeLine({ ok: false, error: 'timeout', stage: 'watchdog', message: 'play.mjs overran its time; exiting' });
  process.exit(1);
}, ((Math.max(SETUP_TIMEOUT_S, opts.timeout) + opts.timeout + 5) * opts.urls.length + 40) * 1000).unref();

let browser = null;
let launchMs = null;
let setupError = null;
try {
  const require = createRequire(path.join(here, 'package.json'));
  const { chromium } = require('playwright-core');
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const args = [
    '--autoplay-policy=no-user-gesture-required',
    '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--mute-audio',
    // The routed page has no network address, so Chromium takes it for a
    // public one and blocks its cross-origin requests to 127.0.0.1 (Local
    // Network Access) with net::ERR_FAILED: --page-origin needs these off.
    '--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights,PrivateNetworkAccessRespectPreflightResults',
  ];
  if (root) args.push('--no-sandbox');
  debug('launch');
  browser = await chromium.launch({ executablePath: opts.chromium, headless: true, args, timeout: Math.max(SETUP_TIMEOUT_S, opts.timeout) * 1000 });
  launchMs = Date.now() - started;
  debug('launched');
} catch (e) {
  setupError = String(e && e.message ? e.message : e).split('\n')[0];
  if (/Cannot find module/.test(setupError)) setupError = `playwright-core not found in ${here}/node_modules (run scripts/setup): ${setupError}`;
}

let code = 0;
for (const url of opts.urls) {
  if (setupError) {
    await writeLine({ ok: false, url, error: 'launch', message: setupError });
    code = 1;
    continue;
  }
  const out = await playOne(browser, opts, url, launchMs);
  if (!out.ok) code = 1;
  await writeLine(out);
}
if (browser) await within(browser.close(), 3000);
debug('done');
await exitWith(code);
