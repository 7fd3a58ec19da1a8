/* client.js - a listener of the notification server that behaves like
 * Phorge's browser client (PROTOCOL.md section 3):
 *
 * - opens a WebSocket to the URL in ?ws= and, once open, sends
 *   {"command":"subscribe","data":[PHIDs]} with the PHIDs of ?phids=;
 * - after every reconnect (not the first connect) sends, right after the
 *   subscribe, {"command":"replay","data":{"age":60000}};
 * - sends {"command":"ping","data":null} every 15 s while open and ignores
 *   the {"type":"pong"} answers;
 * - after a drop, reconnects at once, then waits 2 s, 4 s, 8 s, ... up to
 *   5 min between attempts; a successful open resets the back-off;
 * - drops a frame whose uniqueID is among the last 128 seen.
 *
 * Each message becomes an <li class="notification"> in #notifications,
 * and #status says "connected" or "reconnecting in N s". What it did is
 * also kept in window.aphlictDemo, for tests and for the curious. */
(function () {
  'use strict';

  var REPLAY_AGE_MS = 60000;
  var BACKOFF_FIRST_MS = 2000;
  var BACKOFF_MAX_MS = 5 * 60 * 1000;
  var DEDUP_REMEMBER = 128;
  var LOG_KEEP = 1000;

  var params = new URLSearchParams(window.location.search);
  var url = params.get('ws') ||
      (window.location.protocol === 'https:' ? 'wss://' : 'ws://') +
      (window.location.hostname || '127.0.0.1') + ':22280/';
  var phids = (params.get('phids') || '').split(',')
      .map(function (s) { return s.trim(); })
      .filter(function (s) { return s.length > 0; });
  var pingMs = parseInt(params.get('ping') || '', 10);
  if (!(pingMs > 0)) pingMs = 15000;

  var state = window.aphlictDemo = {
    url: url,
    phids: phids,
    status: 'starting',
    opens: 0,          /* successful opens */
    closes: 0,         /* drops, and attempts that failed */
    frames: 0,         /* frames received */
    pongs: 0,          /* pong frames, ignored */
    duplicates: 0,     /* frames dropped for a uniqueID already seen */
    shown: 0,          /* notifications added to the list */
    sent: [],          /* the last LOG_KEEP frames sent, as text */
    nextDelayMs: null  /* the back-off before the attempt now waited for */
  };

  var statusEl = document.getElementById('status');
  var listEl = document.getElementById('notifications');
  document.getElementById('server').textContent = url;
  document.getElementById('phids').textContent = phids.join(', ') || '(none)';

  var socket = null;
  var everOpened = false;   /* the next open is a reconnect */
  var failures = 0;         /* closes since the last successful open */
  var pingTimer = null, retryTimer = null, countdownTimer = null;
  var seenIDs = [], seenSet = Object.create(null);

  function setStatus(text, cls) {
    state.status = text;
    statusEl.textContent = text;
    statusEl.className = cls || '';
  }

  function send(command, data) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    var text = JSON.stringify({ command: command, data: data });
    socket.send(text);
    state.sent.push(text);
    if (state.sent.length > LOG_KEEP) state.sent.shift();
  }

  /* True when this uniqueID was seen among the last DEDUP_REMEMBER. */
  function seenBefore(uid) {
    if (Object.prototype.hasOwnProperty.call(seenSet, uid)) return true;
    seenIDs.push(uid);
    seenSet[uid] = true;
    if (seenIDs.length > DEDUP_REMEMBER) delete seenSet[seenIDs.shift()];
    return false;
  }

  function show(msg) {
    var li = document.createElement('li');
    li.className = 'notification';
    var fields = { type: msg.type, key: msg.key, uid: msg.uniqueID };
    ['type', 'key', 'uid'].forEach(function (name) {
      var v = fields[name];
      if (v === undefined || v === null) return;
      var span = document.createElement('span');
      span.className = name;
      span.textContent = String(v);
      li.appendChild(span);
    });
    if (msg.uniqueID !== undefined) li.setAttribute('data-unique-id', String(msg.uniqueID));
    if (msg.type !== undefined) li.setAttribute('data-type', String(msg.type));
    if (msg.key !== undefined) li.setAttribute('data-key', String(msg.key));
    li.title = JSON.stringify(msg);
    listEl.insertBefore(li, listEl.firstChild);   /* newest first */
    state.shown++;
  }

  function onMessage(ev) {
    state.frames++;
    var msg;
    try {
      msg = JSON.parse(ev.data);
    } catch (e) {
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    if (msg.type === 'pong') {
      state.pongs++;
      return;
    }
    if (typeof msg.uniqueID === 'string' && seenBefore(msg.uniqueID)) {
      state.duplicates++;
      return;
    }
    show(msg);
  }

  function onOpen() {
    var reconnect = everOpened;
    everOpened = true;
    failures = 0;
    state.opens++;
    state.nextDelayMs = null;
    setStatus('connected', 'connected');
    send('subscribe', phids);
    if (reconnect) send('replay', { age: REPLAY_AGE_MS });
    pingTimer = setInterval(function () { send('ping', null); }, pingMs);
  }

  function onClose() {
    state.closes++;
    if (pingTimer) clearInterval(pingTimer);
    pingTimer = null;
    socket = null;
    /* At once after a drop, then 2 s, 4 s, ... up to 5 min. */
    var delay = 0;
    if (failures > 0) delay = Math.min(BACKOFF_FIRST_MS * Math.pow(2, failures - 1), BACKOFF_MAX_MS);
    failures++;
    state.nextDelayMs = delay;
    var until = Date.now() + delay;
    var tickCountdown = function () {
      var left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      setStatus('reconnecting in ' + left + ' s', 'reconnecting');
    };
    tickCountdown();
    if (countdownTimer) clearInterval(countdownTimer);
    countdownTimer = delay > 0 ? setInterval(tickCountdown, 1000) : null;
    retryTimer = setTimeout(connect, delay);
  }

  function connect() {
    if (countdownTimer) clearInterval(countdownTimer);
    countdownTimer = null;
    retryTimer = null;
    setStatus('connecting', 'reconnecting');
    try {
      socket = new WebSocket(url);
    } catch (e) {
      /* A malformed URL: say so, and do not spin. */
      setStatus('bad WebSocket URL: ' + url, 'reconnecting');
      return;
    }
    socket.onopen = onOpen;
    socket.onmessage = onMessage;
    socket.onclose = onClose;
  }

  connect();
})();
