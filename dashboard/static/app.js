// smartcron dashboard: progressive enhancement only. Every page works without JavaScript.
"use strict";

// Background refreshes say so: they do not count as activity for the session's idle timeout.
const REFRESH = { credentials: "same-origin", headers: { "X-Smartcron-Refresh": "1" } };

// Refresh the status counts every 5 seconds without reloading the page.
function refreshStatus(url) {
  fetch(url, REFRESH)
    .then((r) => (r.ok ? r.json() : null))
    .then((s) => {
      if (!s) return;
      for (const key of ["ok", "running", "failing", "paused"]) {
        const el = document.getElementById("n-" + key);
        if (el) el.textContent = s.states[key];
      }
      const score = document.getElementById("score");
      if (score && s.score !== null) score.textContent = s.score;
      const badge = document.getElementById("alert-count");
      if (badge) badge.textContent = s.open_alerts ? String(s.open_alerts) : "";
    })
    .catch(() => {});
}

// Follow the log of a run in progress; stop once the run has finished.
function followLog(pre) {
  const url = pre.dataset.follow;
  const tick = () =>
    fetch(url, REFRESH)
      .then((r) => r.json())
      .then((d) => {
        const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 20;
        pre.textContent = d.log || "(no output yet)";
        if (atEnd) pre.scrollTop = pre.scrollHeight;
        const meaning = document.getElementById("meaning");
        if (meaning) meaning.textContent = d.meaning || "";
        if (d.running) setTimeout(tick, 2000);
        else window.location.reload();
      })
      .catch(() => setTimeout(tick, 5000));
  setTimeout(tick, 2000);
}

// Highlight the lines of the log that contain the search text (text only, never HTML).
function searchLog(pre, input, hits) {
  const original = pre.textContent;
  input.addEventListener("input", () => {
    const needle = input.value.toLowerCase();
    pre.textContent = "";
    if (!needle) { pre.textContent = original; hits.textContent = ""; return; }
    let count = 0;
    for (const line of original.split("\n")) {
      if (line.toLowerCase().includes(needle)) {
        const mark = document.createElement("mark");
        mark.textContent = line;
        pre.appendChild(mark);
        count += 1;
      } else {
        pre.appendChild(document.createTextNode(line));
      }
      pre.appendChild(document.createTextNode("\n"));
    }
    hits.textContent = count + " matching line(s)";
    const first = pre.querySelector("mark");
    if (first) first.scrollIntoView({ block: "center" });
  });
}

// Sort a table by a column when its header is clicked.
function sortable(table) {
  table.querySelectorAll("th").forEach((th, index) => {
    th.addEventListener("click", () => {
      const body = table.tBodies[0];
      const rows = Array.from(body.rows);
      const numeric = th.dataset.type === "number";
      const dir = th.dataset.dir === "asc" ? -1 : 1;
      th.dataset.dir = dir === 1 ? "asc" : "desc";
      const key = (row) => {
        const cell = row.cells[index];
        if (!cell) return "";
        return numeric ? parseFloat(cell.dataset.value || "-1") : cell.textContent.trim().toLowerCase();
      };
      rows.sort((a, b) => (key(a) > key(b) ? dir : key(a) < key(b) ? -dir : 0));
      rows.forEach((row) => body.appendChild(row));
    });
  });
}

// Refresh the parts of the page marked data-live (run tables, alerts, charts) every 10 seconds
// from a fresh copy of the same page, without reloading it. A region the user is working in
// (focus inside, or a table they sorted) is left alone.
function liveRegions() {
  const regions = Array.from(document.querySelectorAll("[data-live][id]"));
  if (!regions.length) return;
  setInterval(() => {
    if (document.visibilityState !== "visible") return;
    fetch(window.location.href, REFRESH)
      .then((r) => {
        // The session ended (timed out, logged out elsewhere): show the login page.
        if (r.redirected && new URL(r.url).pathname === "/login") window.location.reload();
        return r.ok && !r.redirected ? r.text() : null;
      })
      .then((html) => {
        if (!html) return;
        const fresh = new DOMParser().parseFromString(html, "text/html");
        for (const region of regions) {
          if (region.contains(document.activeElement) || region.querySelector("th[data-dir]")) continue;
          const next = fresh.getElementById(region.id);
          if (next && next.innerHTML !== region.innerHTML) {
            region.innerHTML = next.innerHTML;
            region.querySelectorAll("table.sortable").forEach(sortable);
          }
        }
      })
      .catch(() => {});
  }, 10000);
}

document.addEventListener("DOMContentLoaded", () => {
  liveRegions();
  const main = document.querySelector("main[data-status-url]");
  if (main) {
    refreshStatus(main.dataset.statusUrl);
    setInterval(() => refreshStatus(main.dataset.statusUrl), 5000);
  }
  const pre = document.getElementById("log");
  if (pre && pre.dataset.follow) followLog(pre);
  const search = document.getElementById("log-search");
  if (pre && search) searchLog(pre, search, document.getElementById("log-hits"));
  document.querySelectorAll("table.sortable").forEach(sortable);
});
