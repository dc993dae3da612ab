/**
 * The status page for a person: one self-contained HTML document (no external assets, so it
 * works on an isolated network) that polls `/status` every 2 s and shows role, master, epoch,
 * peers and rates. Text is inserted with `textContent` only, never as HTML.
 */
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tentacle-ingest status</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 2rem; color: #1d2733; background: #f6f8fa; }
  h1 { font-size: 1.3rem; margin: 0 0 1rem; }
  .cards { display: flex; flex-wrap: wrap; gap: 1rem; margin-bottom: 1.5rem; }
  .card { background: #fff; border: 1px solid #d6dde4; border-radius: 6px; padding: .8rem 1.1rem; min-width: 9rem; }
  .card .label { font-size: .75rem; text-transform: uppercase; color: #5b6b7b; }
  .card .value { font-size: 1.35rem; font-weight: 600; }
  .role-master { color: #0a7a32; } .role-standby { color: #8a5a00; }
  table { border-collapse: collapse; background: #fff; min-width: 28rem; margin-bottom: 1.5rem; }
  th, td { border: 1px solid #d6dde4; padding: .35rem .7rem; text-align: left; }
  th { background: #eef2f5; }
  #error { color: #b00020; }
</style>
</head>
<body>
<h1>tentacle-ingest &mdash; <span id="server">…</span></h1>
<div class="cards">
  <div class="card"><div class="label">role</div><div class="value" id="role">…</div></div>
  <div class="card"><div class="label">master</div><div class="value" id="master">…</div></div>
  <div class="card"><div class="label">epoch</div><div class="value" id="epoch">…</div></div>
  <div class="card"><div class="label">queue depth</div><div class="value" id="queue">…</div></div>
  <div class="card"><div class="label">ready</div><div class="value" id="ready">…</div></div>
</div>
<h2>Rates (per second, last 10 s)</h2>
<table><thead><tr><th>metric</th><th>rate</th></tr></thead><tbody id="rates"></tbody></table>
<h2>Servers</h2>
<table><thead><tr><th>name</th><th>priority</th><th>live</th><th>candidate</th><th>heartbeat age</th></tr></thead>
<tbody id="peers"></tbody></table>
<p>Updated <span id="updated">never</span> <span id="error"></span></p>
<script>
(function () {
  function text(id, value) { document.getElementById(id).textContent = String(value); }
  function row(cells) {
    var tr = document.createElement('tr');
    cells.forEach(function (c) { var td = document.createElement('td'); td.textContent = String(c); tr.appendChild(td); });
    return tr;
  }
  function render(s) {
    text('server', s.server);
    var role = document.getElementById('role');
    role.textContent = s.role;
    role.className = 'value role-' + s.role;
    text('master', (s.master || '(none)') + (s.master_kind === 'pandora' ? ' (Pandora server)' : ''));
    text('epoch', s.epoch);
    text('queue', s.queue_depth);
    text('ready', s.ready ? 'yes' : 'no (' + s.not_ready_reasons.join(', ') + ')');
    var rates = document.getElementById('rates');
    rates.replaceChildren.apply(rates, Object.keys(s.rates).sort().map(function (k) {
      return row([k, Number(s.rates[k]).toFixed(2)]);
    }));
    var peers = document.getElementById('peers');
    peers.replaceChildren.apply(peers, s.peers.map(function (p) {
      return row([p.name, p.priority, p.isLive ? 'yes' : 'no', p.isCandidate ? 'yes' : 'no', p.ageMs + ' ms']);
    }));
    text('updated', new Date().toISOString());
    text('error', '');
  }
  function poll() {
    fetch('status', { cache: 'no-store' })
      .then(function (r) { return r.json(); })
      .then(render)
      .catch(function (e) { text('error', 'status unavailable: ' + e); })
      .finally(function () { setTimeout(poll, 2000); });
  }
  poll();
})();
</script>
</body>
</html>
`;
