import type { Hono } from "hono";
import { STATUS_CSS, STATUS_JS } from "./page-script.ts";

// The status page at GET /: a static shell that its script fills from /v1/status and /v1/services
// and refreshes on every /v1/events event. No external assets: it works offline and from the
// scratch image. Relative URLs, so it also works behind a proxy under a path prefix.
const STATUS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>registrator</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="ui/status.css">
<script src="ui/status.js" defer></script>
</head>
<body>
<header>
<h1>registrator</h1>
<span id="about"></span>
<span id="live" class="pill warn">connecting…</span>
</header>
<section class="cards">
<div class="card" id="docker"><h2>Docker</h2><span class="pill">…</span><p class="reason"></p><dl></dl></div>
<div class="card" id="registry"><h2>Registry</h2><span class="pill">…</span><p class="reason"></p><dl></dl></div>
<div class="card"><h2>Services</h2><span id="counts"></span></div>
</section>
<p id="error"></p>
<table>
<thead><tr><th>Service</th><th>ID</th><th>Address</th><th>Container</th><th>State</th></tr></thead>
<tbody id="rows"></tbody>
</table>
<p id="empty" hidden>No services on this host.</p>
<noscript><p>This page needs JavaScript; the same facts are at <a href="v1/status">v1/status</a> and <a href="v1/services">v1/services</a>.</p></noscript>
</body>
</html>
`;

/** Only this origin's own script, style and API; nothing inline, nothing framed. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const headers = (type: string) => ({
  "Content-Type": `${type}; charset=utf-8`,
  "Cache-Control": "no-cache",
  "X-Content-Type-Options": "nosniff",
});

export function pageRoutes(app: Hono): void {
  app.get("/", (c) => c.body(STATUS_HTML, 200, { ...headers("text/html"), "Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer" }));
  app.get("/ui/status.js", (c) => c.body(STATUS_JS, 200, headers("text/javascript")));
  app.get("/ui/status.css", (c) => c.body(STATUS_CSS, 200, headers("text/css")));
}
