/* The network graph of the investigator workspace.
 *
 * Reads its parameters from data-* attributes of each `.viz-graph` panel (no inline script:
 * the workspace's CSP forbids it): data-src is the graph JSON's URL. Positions come from the
 * server (a deterministic layered layout), so Cytoscape's "preset" layout only places them.
 * Clicking a node opens its neighbours (or a page of an aggregate's members); double-clicking
 * opens the entity's page. Every text is set with textContent or drawn by Cytoscape on its
 * canvas: case values are never markup.
 */
(function () {
  "use strict";

  var COLOURS = {
    network: "#4b5563", center: "#b91c1c", sip_account: "#c2410c", source_ip: "#a16207",
    caller_number: "#7c3aed", victim_phone: "#2563eb", victim_paid: "#1d4ed8",
    number: "#60a5fa", mule_account: "#047857", account: "#6b7280", more: "#9ca3af"
  };

  function style() {
    var rules = [
      { selector: "node", style: {
        "label": "data(label)", "font-size": 10, "text-valign": "bottom", "text-margin-y": 3,
        "width": 18, "height": 18, "background-color": "#6b7280", "color": "#111827",
        "text-max-width": 160, "text-wrap": "ellipsis" } },
      { selector: "node[?aggregate]", style: {
        "shape": "round-rectangle", "width": "mapData(count, 1, 5000, 26, 70)",
        "height": "mapData(count, 1, 5000, 18, 40)", "border-width": 2,
        "border-color": "#111827", "font-weight": "bold" } },
      { selector: "node:selected", style: { "border-width": 3, "border-color": "#f59e0b" } },
      { selector: "edge", style: {
        "width": "mapData(weight, 1, 500, 1, 5)", "line-color": "#cbd5e1",
        "curve-style": "bezier", "target-arrow-shape": "triangle",
        "target-arrow-color": "#cbd5e1", "arrow-scale": 0.6 } },
      { selector: "edge[relation = 'member']", style: {
        "line-style": "dashed", "target-arrow-shape": "none" } },
      { selector: "edge[relation = 'paid']", style: {
        "line-color": "#059669", "target-arrow-color": "#059669" } }
    ];
    Object.keys(COLOURS).forEach(function (kind) {
      rules.push({ selector: "node[kind = '" + kind + "']",
                   style: { "background-color": COLOURS[kind] } });
    });
    return rules;
  }

  function safeHref(href) {
    // the server writes site-relative paths; anything else is not followed
    return typeof href === "string" && href.charAt(0) === "/" && href.charAt(1) !== "/"
      ? href : "";
  }

  function init(panel) {
    var src = panel.getAttribute("data-src");
    var canvas = panel.querySelector(".viz-graph-canvas");
    var status = panel.querySelector(".viz-status");
    var form = panel.querySelector(".viz-graph-filters");
    var details = panel.querySelector(".viz-graph-details");
    var expand = [];
    var cy = null;

    function say(text) { if (status) { status.textContent = text; } }

    function url() {
      var u = new URL(src, window.location.href);
      if (form) {
        var boxes = form.querySelectorAll("input[name='kind']");
        var checked = form.querySelectorAll("input[name='kind']:checked");
        if (checked.length !== boxes.length) {
          u.searchParams.set("kinds", Array.prototype.map.call(checked, function (b) {
            return b.value; }).join(",") || "none");
        }
        ["since", "until"].forEach(function (name) {
          var input = form.querySelector("input[name='" + name + "']");
          if (input && input.value) { u.searchParams.set(name, input.value); }
        });
      }
      expand.forEach(function (e) { u.searchParams.append("expand", e); });
      return u;
    }

    function show(node) {
      if (!details) { return; }
      details.replaceChildren();
      var d = node.data();
      var title = document.createElement("strong");
      title.textContent = d.aggregate ? d.label : d.kind.replace(/_/g, " ") + " " + d.value;
      details.appendChild(title);
      if (d.score) {
        var score = document.createElement("span");
        score.textContent = " score " + d.score;
        details.appendChild(score);
      }
      var href = safeHref(d.href);
      if (href) {
        var link = document.createElement("a");
        link.href = href;
        link.textContent = "open the entity page";
        details.appendChild(document.createTextNode(" "));
        details.appendChild(link);
      }
    }

    function draw(data) {
      var elements = data.elements.nodes.concat(data.elements.edges);
      if (cy === null) {
        cy = window.cytoscape({
          container: canvas, elements: elements, style: style(),
          layout: { name: "preset", fit: true, padding: 20 }, minZoom: 0.05, maxZoom: 4
        });
        cy.on("tap", "node", function (evt) {
          var d = evt.target.data();
          show(evt.target);
          if (d.expand && expand.indexOf(d.expand) < 0) {
            expand.push(d.expand);
            load();
          }
        });
        // the instance, for the workspace's browser tests and the console (a property, never
        // an attribute)
        panel.cytoscape = cy;
        cy.on("dbltap", "node", function (evt) {
          var href = safeHref(evt.target.data("href"));
          if (href) { window.location.assign(href); }
        });
      } else {
        cy.batch(function () {
          cy.elements().remove();
          cy.add(elements);
        });
        cy.layout({ name: "preset", fit: true, padding: 20 }).run();
      }
      var text = data.elements.nodes.length + " nodes, " + data.elements.edges.length + " links";
      if (data.aggregates.length) {
        text += "; " + data.aggregates.length + " groups drawn as counts (click one to open it)";
      }
      say(text);
      panel.setAttribute("data-state", "drawn");
    }

    function load() {
      say("Loading the graph…");
      panel.setAttribute("data-state", "loading");
      fetch(url().toString(), { credentials: "same-origin",
                                headers: { "Accept": "application/json" } })
        .then(function (resp) {
          if (!resp.ok) { throw new Error("the server answered " + resp.status); }
          return resp.json();
        })
        .then(draw)
        .catch(function (err) {
          say("Could not draw the graph: " + err.message);
          panel.setAttribute("data-state", "error");
        });
    }

    if (form) {
      form.addEventListener("submit", function (evt) { evt.preventDefault(); load(); });
      form.addEventListener("change", function () { load(); });
      var reset = form.querySelector("button[name='reset']");
      if (reset) {
        reset.addEventListener("click", function (evt) {
          evt.preventDefault();
          expand = [];
          load();
        });
      }
    }
    load();
  }

  function start() {
    if (typeof window.cytoscape !== "function") { return; }
    document.querySelectorAll(".viz-graph[data-src]").forEach(init);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
