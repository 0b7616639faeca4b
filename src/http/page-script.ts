// The status page's browser code, served as /ui/status.js. Plain ES2017 for any current browser.
// Container-controlled strings (names, IDs, errors) only ever reach the DOM through textContent.

export const STATUS_JS = String.raw`"use strict";
(function () {
  var byId = function (id) { return document.getElementById(id); };
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  function getJson(path) {
    return fetch(path, { cache: "no-store", headers: { Accept: "application/json" } }).then(function (r) {
      return r.json();
    });
  }

  // One row's state: failing beats out-of-traffic beats registered.
  function stateOf(s) {
    if (s.lastError) return { cls: "bad", label: "failing", detail: s.lastError };
    if (s.outOfTraffic) return { cls: "warn", label: "not in traffic", detail: s.outOfTraffic };
    if (s.registered) return { cls: "ok", label: "registered", detail: "" };
    return { cls: "idle", label: "pending", detail: "not written yet" };
  }

  function row(s) {
    var tr = el("tr");
    tr.dataset.id = s.id;
    var st = stateOf(s);
    tr.dataset.state = st.label;
    tr.appendChild(el("td", "name", s.name));
    tr.appendChild(el("td", "mono", s.id));
    tr.appendChild(el("td", "mono", s.ip + ":" + s.port + (s.protocol && s.protocol !== "tcp" ? "/" + s.protocol : "")));
    var ctr = el("td", "mono", s.containerName || "");
    ctr.title = s.containerId || "";
    tr.appendChild(ctr);
    var cell = el("td", "state");
    cell.appendChild(el("span", "pill " + st.cls, st.label));
    if (st.detail) cell.appendChild(el("span", "detail", st.detail));
    // Several registries: each one's state under the overall one.
    (s.registries || []).forEach(function (r) {
      var line = el("span", "detail per-registry");
      line.dataset.registry = r.registry;
      var rs = r.lastError ? { cls: "bad", label: "failing", detail: r.lastError } : r.registered ? { cls: "ok", label: "registered", detail: "" } : { cls: "idle", label: "pending", detail: "" };
      line.appendChild(el("span", "mono", r.registry + " "));
      line.appendChild(el("span", "pill " + rs.cls, rs.label));
      if (rs.detail) line.appendChild(el("span", "", " " + rs.detail));
      cell.appendChild(line);
    });
    tr.appendChild(cell);
    return tr;
  }

  function renderServices(list) {
    list.sort(function (a, b) { return a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0; });
    byId("rows").replaceChildren.apply(byId("rows"), list.map(row));
    byId("empty").hidden = list.length > 0;
  }

  function fact(dl, term, value) {
    if (value === undefined || value === "") return;
    dl.appendChild(el("dt", "", term));
    dl.appendChild(el("dd", "mono", value));
  }

  function card(id, ok, okText, badText, reason, facts) {
    var c = byId(id);
    var state = c.querySelector(".pill");
    state.className = "pill " + (ok ? "ok" : "bad");
    state.textContent = ok ? okText : badText;
    c.querySelector(".reason").textContent = ok ? "" : reason || "";
    var dl = c.querySelector("dl");
    dl.replaceChildren();
    facts.forEach(function (f) { fact(dl, f[0], f[1]); });
  }

  function renderStatus(st) {
    byId("about").textContent = [st.version, st.hostname, st.runtime].filter(Boolean).join(" · ");
    card("docker", st.docker.connected, "connected", "disconnected", st.docker.reason, [
      ["Endpoint", st.docker.endpoint],
      ["API version", st.docker.apiVersion],
    ]);
    var regFacts = st.registries
      ? st.registries.map(function (r) { return [r.name, r.ready ? "ready" : "not ready: " + (r.reason || "")]; })
      : [["Backend", st.registry.backend]];
    card("registry", st.registry.ready, "ready", "not ready", st.registry.reason, regFacts);
    var n = st.services;
    byId("counts").textContent = n.total + (n.total === 1 ? " service: " : " services: ") + n.registered + " registered, " + n.failing + " failing, " + n.outOfTraffic + " not in traffic";
  }

  // Refreshes coalesce: one fetch in flight, at most one more queued behind it.
  var busy = false, again = false;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    Promise.all([getJson("v1/services"), getJson("v1/status")]).then(function (r) {
      renderServices(r[0]);
      renderStatus(r[1]);
      byId("error").textContent = "";
    }).catch(function (e) {
      byId("error").textContent = "Cannot read the API: " + e.message;
    }).then(function () {
      busy = false;
      if (again) { again = false; refresh(); }
    });
  }

  function setLive(on, text) {
    var p = byId("live");
    p.className = "pill " + (on ? "ok" : "warn");
    p.textContent = text;
  }

  // Events received, on <body data-events> (how a test tells a live update from a poll).
  var received = 0;
  function onEvent() {
    document.body.dataset.events = String(++received);
    refresh();
  }

  var source;
  function connect() {
    source = new EventSource("v1/events");
    source.onopen = function () { setLive(true, "live"); refresh(); };
    source.onerror = function () {
      setLive(false, "reconnecting…");
      // The browser retries dropped streams itself; a refused one (e.g. 503) is closed for good.
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        setTimeout(connect, 3000);
      }
    };
    // Every event the bridge sends (docs/http-api.md, Event types): "traffic" covers health, pause, stop-drain.
    ["hello", "registered", "deregistered", "failed", "traffic"].forEach(function (t) {
      source.addEventListener(t, onEvent);
    });
  }

  refresh();
  connect();
  // Docker and registry readiness change without events: poll them.
  setInterval(refresh, 5000);
})();
`;

export const STATUS_CSS = `:root { color-scheme: light dark; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --idle: #6e7781; --line: #d0d7de; --card: #f6f8fa; }
@media (prefers-color-scheme: dark) { :root { --ok: #3fb950; --bad: #f85149; --warn: #d29922; --idle: #8b949e; --line: #30363d; --card: #161b22; } }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; padding: 1.2rem 1.5rem; max-width: 75rem; }
header { display: flex; align-items: baseline; gap: 1rem; flex-wrap: wrap; }
h1 { font-size: 1.4rem; margin: 0; }
h2 { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.05em; margin: 0 0 0.4rem; color: var(--idle); }
#about { color: var(--idle); }
#live { margin-left: auto; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(16rem, 1fr)); gap: 0.8rem; margin: 1rem 0; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 0.7rem 0.9rem; }
.reason { color: var(--bad); margin: 0.3rem 0 0; overflow-wrap: anywhere; }
.reason:empty { display: none; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.1rem 0.8rem; margin: 0.5rem 0 0; }
dt { color: var(--idle); }
dd { margin: 0; overflow-wrap: anywhere; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 0.4rem 0.6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 0.8rem; color: var(--idle); font-weight: 600; }
.mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 0.85rem; overflow-wrap: break-word; }
.name { font-weight: 600; overflow-wrap: anywhere; }
.pill { display: inline-block; border-radius: 999px; padding: 0 0.55rem; font-size: 0.8rem; font-weight: 600; color: #fff; background: var(--idle); }
.pill.ok { background: var(--ok); } .pill.bad { background: var(--bad); } .pill.warn { background: var(--warn); }
.detail { display: block; margin-top: 0.2rem; color: var(--idle); overflow-wrap: anywhere; }
tr[data-state="failing"] .detail { color: var(--bad); }
#empty { color: var(--idle); }
#error { color: var(--bad); }
#error:empty { display: none; }
`;
