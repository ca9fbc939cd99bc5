// Node preload (`node -r inflight.cjs ...`) for tests and benchmarks: count, at the server
// itself, the requests a client has in flight, so a test can check a client's concurrency
// bound where it matters (a client-side count would trust the code under test).
//
// Counted: requests that carry an Authorization header (the datacage's reads), from arrival
// until the answer is sent. CSS's own requests (to its WebIDs, keys) carry none, sign-in
// requests go to `/.oidc/` and `/.account/`: neither is counted.
//   GET  /.inflight                 -> {"most", "now", "total", "spans": [[start_ms, end_ms]]}
//   POST /.inflight/reset?delay=MS  -> zero the counts; hold each counted request MS first
'use strict';

const http = require('node:http');

let state = fresh(0);

function fresh(delay) {
  return { delay, now: 0, most: 0, total: 0, spans: [] };
}

function counted(req) {
  return Boolean(req.headers.authorization) && !/^\/\.(oidc|account)\//.test(req.url || '');
}

const originalEmit = http.Server.prototype.emit;

http.Server.prototype.emit = function emitCounted(event, req, res, ...rest) {
  if (event !== 'request') {
    return originalEmit.call(this, event, req, res, ...rest);
  }
  const url = req.url || '';
  if (url === '/.inflight') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ most: state.most, now: state.now, total: state.total, spans: state.spans }));
    return true;
  }
  if (url.startsWith('/.inflight/reset')) {
    const delay = Number(new URL(url, 'http://x').searchParams.get('delay') || 0);
    state = fresh(delay);
    res.writeHead(204);
    res.end();
    return true;
  }
  if (!counted(req)) {
    return originalEmit.call(this, event, req, res, ...rest);
  }
  const mine = state;
  mine.now += 1;
  mine.total += 1;
  mine.most = Math.max(mine.most, mine.now);
  const began = Date.now();
  let ended = false;
  const end = () => {
    if (!ended) {
      ended = true;
      mine.now -= 1;
      if (mine.spans.length < 100000) mine.spans.push([began, Date.now()]);
    }
  };
  res.on('finish', end);
  res.on('close', end);
  if (mine.delay > 0) {
    setTimeout(() => originalEmit.call(this, event, req, res, ...rest), mine.delay);
    return true;
  }
  return originalEmit.call(this, event, req, res, ...rest);
};
