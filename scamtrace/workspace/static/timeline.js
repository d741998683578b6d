/* The timeline of an entity or a network: a day histogram and a table paged on the server.
 *
 * Reads data-src (the timeline JSON's URL) and data-limit from each `.viz-timeline` panel;
 * pages with offset/limit query parameters. Bars are SVG rects with one CSS class per source;
 * texts are set with textContent only.
 */
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var SOURCES = ["voip_cdr", "carrier_cdr", "transfers", "reports", "transcripts"];

  function el(name, attrs) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }

  function histogram(box, days) {
    var byDay = {}, order = [];
    days.forEach(function (d) {
      if (!byDay[d.day]) { byDay[d.day] = {}; order.push(d.day); }
      byDay[d.day][d.source] = d.count;
    });
    var most = 1;
    order.forEach(function (day) {
      var total = 0;
      SOURCES.forEach(function (s) { total += byDay[day][s] || 0; });
      most = Math.max(most, total);
    });
    var width = Math.max(300, order.length * 6), height = 80;
    var svg = el("svg", { viewBox: "0 0 " + width + " " + height, "class": "viz-histogram",
                          preserveAspectRatio: "none", role: "img" });
    var step = width / Math.max(order.length, 1);
    order.forEach(function (day, i) {
      var y = height;
      var group = el("g");
      var tip = el("title");
      var parts = [];
      SOURCES.forEach(function (s) {
        var n = byDay[day][s] || 0;
        if (!n) { return; }
        var h = n / most * (height - 2);
        y -= h;
        group.appendChild(el("rect", { x: i * step, y: y, width: Math.max(step - 1, 1),
                                       height: h, "class": "viz-bar viz-source-" + s }));
        parts.push(s + " " + n);
      });
      tip.textContent = day + ": " + parts.join(", ");
      group.appendChild(tip);
      svg.appendChild(group);
    });
    box.replaceChildren(svg);
  }

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function init(panel) {
    var src = panel.getAttribute("data-src");
    var limit = parseInt(panel.getAttribute("data-limit") || "200", 10);
    var offset = 0;
    var body = panel.querySelector(".viz-timeline-table tbody");
    var status = panel.querySelector(".viz-status");
    var prev = panel.querySelector("button[name='prev']");
    var next = panel.querySelector("button[name='next']");
    var bars = panel.querySelector(".viz-timeline-histogram");
    var drawnHistogram = false;

    function load() {
      var u = new URL(src, window.location.href);
      u.searchParams.set("offset", String(offset));
      u.searchParams.set("limit", String(limit));
      panel.setAttribute("data-state", "loading");
      fetch(u.toString(), { credentials: "same-origin",
                            headers: { "Accept": "application/json" } })
        .then(function (resp) {
          if (!resp.ok) { throw new Error("the server answered " + resp.status); }
          return resp.json();
        })
        .then(function (data) {
          body.replaceChildren();
          data.events.forEach(function (e) {
            var row = document.createElement("tr");
            cell(row, e.time);
            cell(row, e.source).className = "viz-source-" + e.source;
            cell(row, e.record_id);
            cell(row, e.detail);
            cell(row, e.entities.map(function (x) { return x.kind + " " + x.value; })
                 .join("; "));
            body.appendChild(row);
          });
          if (!drawnHistogram && bars) { histogram(bars, data.days); drawnHistogram = true; }
          var last = Math.min(data.offset + data.events.length, data.total);
          if (status) {
            status.textContent = data.total ? "events " + (data.offset + 1) + "–" + last +
              " of " + data.total : "no events";
          }
          if (prev) { prev.disabled = data.offset <= 0; }
          if (next) { next.disabled = last >= data.total; }
          panel.setAttribute("data-state", "drawn");
        })
        .catch(function (err) {
          if (status) { status.textContent = "Could not load the timeline: " + err.message; }
          panel.setAttribute("data-state", "error");
        });
    }
    if (prev) { prev.addEventListener("click", function () {
      offset = Math.max(0, offset - limit); load(); }); }
    if (next) { next.addEventListener("click", function () { offset += limit; load(); }); }
    load();
  }

  function start() { document.querySelectorAll(".viz-timeline[data-src]").forEach(init); }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
