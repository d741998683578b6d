/* The map of the investigator workspace: countries shaded by victims, markers for centers.
 *
 * Reads data-src (the map JSON's URL) from each `.viz-map` panel, draws the shipped country
 * boundaries as SVG with an equirectangular projection (no tiles, nothing from the internet)
 * and lists the regions in a table. Shading and markers are CSS classes; texts are set with
 * textContent only.
 */
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var WIDTH = 960, HEIGHT = 480;

  function project(lon, lat) {
    return [(lon + 180) / 360 * WIDTH, (90 - lat) / 180 * HEIGHT];
  }

  function ringPath(ring) {
    return ring.map(function (p, i) {
      var xy = project(p[0], p[1]);
      return (i ? "L" : "M") + xy[0].toFixed(1) + " " + xy[1].toFixed(1);
    }).join("") + "Z";
  }

  function geometryPath(g) {
    if (!g) { return ""; }
    var polygons = g.type === "MultiPolygon" ? g.coordinates : [g.coordinates];
    return polygons.map(function (poly) { return poly.map(ringPath).join(""); }).join("");
  }

  function el(name, attrs) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }

  function shade(victims, most) {
    if (!victims) { return 0; }
    // five classes on a log scale of the country with most victims
    return 1 + Math.min(4, Math.floor(4 * Math.log(victims) / Math.log(Math.max(most, 2))));
  }

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
  }

  function draw(panel, data) {
    var box = panel.querySelector(".viz-map-canvas");
    var svg = el("svg", { viewBox: "0 0 " + WIDTH + " " + HEIGHT, role: "img",
                          "class": "viz-map-svg" });
    var title = el("title");
    title.textContent = "Centers and victims by country";
    svg.appendChild(title);
    var most = 0;
    data.countries.features.forEach(function (f) {
      most = Math.max(most, f.properties.victims || 0);
    });
    data.countries.features.forEach(function (f) {
      var p = f.properties;
      var path = el("path", { d: geometryPath(f.geometry),
                              "class": "viz-country viz-shade-" + shade(p.victims, most) });
      var tip = el("title");
      tip.textContent = p.name + ": " + (p.victims || 0) + " victims, " + (p.centers || 0) +
        " centers";
      path.appendChild(tip);
      svg.appendChild(path);
    });
    var byCountry = {};
    data.centers.forEach(function (c) {
      if (c.lon === null || c.lat === null) { return; }
      var key = c.country;
      byCountry[key] = byCountry[key] || { lon: c.lon, lat: c.lat, ids: [] };
      byCountry[key].ids.push(c.center_id);
    });
    Object.keys(byCountry).sort().forEach(function (country) {
      var m = byCountry[country];
      var xy = project(m.lon, m.lat);
      var g = el("g", { "class": "viz-center-marker" });
      g.appendChild(el("circle", { cx: xy[0], cy: xy[1], r: 4 + Math.min(10, m.ids.length) }));
      var label = el("text", { x: xy[0] + 8, y: xy[1] - 8 });
      label.textContent = m.ids.length + (m.ids.length === 1 ? " center" : " centers");
      g.appendChild(label);
      var tip = el("title");
      tip.textContent = country + ": " + m.ids.join(", ");
      g.appendChild(tip);
      svg.appendChild(g);
    });
    box.replaceChildren(svg);

    var table = panel.querySelector(".viz-map-regions tbody");
    if (table) {
      table.replaceChildren();
      data.regions.forEach(function (r) {
        var row = document.createElement("tr");
        cell(row, r.country);
        cell(row, r.region);
        cell(row, String(r.victims));
        cell(row, String(r.centers));
        table.appendChild(row);
      });
    }
    var status = panel.querySelector(".viz-status");
    if (status) {
      status.textContent = data.totals.victims + " victims (" + data.totals.victims_unplaced +
        " not placed), " + data.totals.centers + " centers";
    }
    panel.setAttribute("data-state", "drawn");
  }

  function init(panel) {
    fetch(panel.getAttribute("data-src"), { credentials: "same-origin",
                                            headers: { "Accept": "application/json" } })
      .then(function (resp) {
        if (!resp.ok) { throw new Error("the server answered " + resp.status); }
        return resp.json();
      })
      .then(function (data) { draw(panel, data); })
      .catch(function (err) {
        var status = panel.querySelector(".viz-status");
        if (status) { status.textContent = "Could not draw the map: " + err.message; }
        panel.setAttribute("data-state", "error");
      });
  }

  function start() { document.querySelectorAll(".viz-map[data-src]").forEach(init); }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
