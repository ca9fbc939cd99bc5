// Node preload (`node -r loopback.cjs ...`): keep every server that names no host on 127.0.0.1.
//
// Why: CSS 7 has no option for the listening host and calls `server.listen(port)`, which binds
// every interface. A test bed must not expose freshly made pods (public profiles, weak test
// passwords) to the network, so we add the loopback host to host-less listen calls.
// Unix sockets, handles and calls that name a host are left as they are.
'use strict';

const net = require('node:net');

const LOOPBACK = '127.0.0.1';
const originalListen = net.Server.prototype.listen;

function isPort(value) {
  return value == null || typeof value === 'number' || (typeof value === 'string' && /^\d+$/.test(value));
}

function withLoopback(args) {
  const [first, second] = args;
  if (args.length === 0 || typeof first === 'function') {
    // listen() and listen(callback) pick a random port on every interface.
    return [0, LOOPBACK, ...args];
  }
  if (isPort(first)) {
    return typeof second === 'string' ? args : [first, LOOPBACK, ...args.slice(1)];
  }
  const isOptions = typeof first === 'object' && !first._handle && first.fd === undefined;
  if (isOptions && first.path === undefined && first.host === undefined) {
    return [{ ...first, host: LOOPBACK }, ...args.slice(1)];
  }
  return args;
}

net.Server.prototype.listen = function listenOnLoopback(...args) {
  return originalListen.apply(this, withLoopback(args));
};
