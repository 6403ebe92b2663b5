/* pytest-policyspec report: draws the matrices and the list of checks from the embedded data.
   Every piece of data reaches the page through textContent or an attribute, never as HTML. */
(function () {
  "use strict";

  var T0 = Date.now();
  var DATA = JSON.parse(document.getElementById("report-data").textContent);
  var S = DATA.S, P = DATA.P, COL = {};
  DATA.columns.forEach(function (name, i) { COL[name] = i; });

  /* "deny": what a universal check proved (no caller allowed, explicitly or implicitly) */
  var GLYPH = { "allow": "\u2713", "explicit-deny": "\u2715", "implicit-deny": "\u25CB", "deny": "\u2298" };
  var MAX_ROWS = 40, MAX_COLS = 30, MAX_RESOURCES = 8;

  function str(i) { return i === null || i === undefined ? null : S[i]; }
  /* how the command line names a policy kind ("repository policy", "SCP"): PolicyKind.label */
  function kindLabel(kind) { return (DATA.kinds && DATA.kinds[kind]) || kind + " policy"; }
  /* where a check acts: an account-level action acts on the caller's own registry, never on
     the repository its case names */
  function target(c) {
    if (c.registry) return "the registry" + (c.resource === null ? "" : " (the case names " + c.resource + ")");
    return c.resource === null ? "" : c.resource;
  }
  function pool(v) { return typeof v === "number" ? P[v] : v; }

  var checks = DATA.checks.map(function (r, i) {
    return {
      i: i, id: r[COL.id], anchor: r[COL.anchor], file: str(r[COL.file]), line: r[COL.line],
      kase: str(r[COL["case"]]), caseIndex: r[COL.case_index],
      principal: str(r[COL.principal]), principalArn: str(r[COL.principal_arn]),
      resource: str(r[COL.resource]), resourceArn: str(r[COL.resource_arn]),
      action: str(r[COL.action]), expected: str(r[COL.expected]), decision: str(r[COL.decision]),
      outcome: str(r[COL.outcome]), context: pool(r[COL.context]), steps: r[COL.steps] || [],
      other: r[COL.other], registry: !!r[COL.registry], universal: r[COL.universal] || null, hay: null
    };
  });
  var byAnchor = {};
  checks.forEach(function (c) { byAnchor[c.anchor] = c; });

  /* ---- DOM helpers -------------------------------------------------------------------- */

  function h(tag, attrs, kids) {
    var n = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k === "class") n.className = v;
        else if (k === "text") n.textContent = v;
        else if (k.slice(0, 2) === "on") n.addEventListener(k.slice(2), v);
        else n.setAttribute(k, v);
      });
    }
    add(n, kids);
    return n;
  }
  function add(n, kids) {
    if (kids === null || kids === undefined) return n;
    if (!Array.isArray(kids)) kids = [kids];
    kids.forEach(function (k) {
      if (k === null || k === undefined || k === false) return;
      if (Array.isArray(k)) add(n, k);
      else n.appendChild(typeof k === "object" ? k : document.createTextNode(String(k)));
    });
    return n;
  }
  function code(text) { return h("code", { text: text === null || text === undefined ? "" : String(text) }); }
  function fmt(n) { return n.toLocaleString("en-US"); }
  function decisionClass(d) { return GLYPH[d] ? "d-" + d : "d-none"; }
  function glyph(d) { return GLYPH[d] || "?"; }
  function where(file, line) { return (file === null || file === undefined ? "" : file) + (line === null || line === undefined ? "" : ":" + line); }
  function cellLink(c) {
    var failed = c.outcome !== "passed";
    return h("a", {
      "class": "cell " + decisionClass(c.decision) + (failed ? " failed" : ""),
      href: "#" + c.anchor,
      title: c.principal + " \u2192 " + c.action + (target(c) ? " on " + target(c) : "") +
        "\nexpected " + c.expected + ", got " + (c.decision || "no decision") + " (" + c.outcome + ")" +
        (c.kase ? "\ncase: " + c.kase : "")
    }, glyph(c.decision));
  }
  function values(list) {
    if (list === null || list === undefined) return h("span", { "class": "hint", text: "(not in the request)" });
    if (!Array.isArray(list)) list = [list];
    if (!list.length) return h("span", { "class": "hint", text: "(no values)" });
    var out = [];
    list.forEach(function (v) { out.push(h("code", { "class": "v", text: typeof v === "string" ? v : JSON.stringify(v) })); });
    return h("span", null, out);
  }
  function kvTable(rows, cls) {
    return h("table", { "class": "kv " + (cls || "") }, h("tbody", null, rows.map(function (r) {
      return h("tr", null, [h("th", { text: r[0] }), h("td", null, r[1])]);
    })));
  }
  function contextTable(ctx) {
    var keys = ctx ? Object.keys(ctx) : [];
    if (!keys.length) return h("span", { "class": "hint", text: "(none)" });
    return h("table", { "class": "kv" }, h("tbody", null, keys.map(function (k) {
      return h("tr", null, [h("th", null, code(k)), h("td", null, values(ctx[k]))]);
    })));
  }
  function json(v) { return typeof v === "string" ? h("span", { "class": "mono pre", text: v }) : code(JSON.stringify(v)); }

  /* ---- Matrices ---------------------------------------------------------------------- */

  function buildMatrices() {
    var root = document.getElementById("matrix-root");
    var ordered = checks.slice().sort(function (a, b) {
      return a.file < b.file ? -1 : a.file > b.file ? 1 :
        ((a.line || 0) - (b.line || 0)) || ((a.caseIndex || 0) - (b.caseIndex || 0)) || (a.i - b.i);
    });
    var files = new Map();
    ordered.forEach(function (c) {
      var f = files.get(c.file);
      if (!f) { f = { file: c.file, res: new Map(), n: 0, bad: 0 }; files.set(c.file, f); }
      f.n++;
      if (c.outcome !== "passed") f.bad++;
      var onRegistry = c.resource === null || c.registry;
      var key = onRegistry ? "" : "r:" + c.resource + "\u0000" + (c.resourceArn || "");
      var r = f.res.get(key);
      if (!r) {
        r = { name: onRegistry ? null : c.resource, arn: onRegistry ? null : c.resourceArn, principals: new Map(), actions: new Map(), cells: new Map(), n: 0, bad: 0 };
        f.res.set(key, r);
      }
      r.n++;
      if (c.outcome !== "passed") r.bad++;
      if (!r.principals.has(c.principal)) r.principals.set(c.principal, c.principalArn);
      if (!r.actions.has(c.action)) r.actions.set(c.action, true);
      var ck = c.principal + "\u0000" + c.action;
      var list = r.cells.get(ck);
      if (!list) { list = []; r.cells.set(ck, list); }
      list.push(c);
    });
    if (!files.size) { root.appendChild(h("p", { "class": "empty", text: "No check ran." })); return; }
    // Many spec files: only the first few with failures start open; a file's matrices are drawn
    // when it is first opened, so a 20,000-check page stays light.
    var many = files.size > 10, opened = 0;
    files.forEach(function (f) {
      var startOpen = !many || (f.bad > 0 && opened < 5);
      if (startOpen) opened++;
      var section = h("details", { "class": "spec-matrices", id: "file-" + DATA.files.indexOf(f.file) });
      section.appendChild(h("summary", null, [code(f.file), " ", h("span", { "class": "count", text: fmt(f.n) + " checks" }), " ",
        f.bad ? h("span", { "class": "badge o-failed", text: fmt(f.bad) + " failed" }) : h("span", { "class": "badge ok", text: "all passed" }),
        " ", h("span", { "class": "where", text: f.res.size + " resource" + (f.res.size === 1 ? "" : "s") })]));
      var resources = Array.from(f.res.values());
      var holder = h("div");
      section.appendChild(holder);
      var drawn = false;
      function showResources(all) {
        drawn = true;
        holder.textContent = "";
        var shown = all ? resources : resources.slice(0, MAX_RESOURCES);
        shown.forEach(function (r) { holder.appendChild(resourceMatrix(r)); });
        if (shown.length < resources.length) {
          holder.appendChild(h("p", { "class": "more" }, [
            "Showing " + shown.length + " of " + resources.length + " resources. ",
            h("button", { type: "button", onclick: function () { showResources(true); }, text: "Show all " + resources.length + " resources" })
          ]));
        }
      }
      section.addEventListener("toggle", function () { if (section.open && !drawn) showResources(false); });
      section.drawAll = function () { if (!drawn) showResources(false); };
      if (startOpen) { showResources(false); section.open = true; }
      root.appendChild(section);
    });
    if (many) {
      root.insertBefore(h("p", { "class": "hint", text: files.size + " spec files: " +
        (opened ? "the first " + opened + " with failures are open; " : "") + "open a file to see its matrices." }), root.firstChild);
    }
  }

  function resourceMatrix(r) {
    var box = h("div", { "class": "resource" });
    box.appendChild(h("h3", { "class": "res-title" }, r.name === null
      ? ["Registry ", h("span", { "class": "hint", text: "(account-level actions: they act on the caller's own registry, whatever repository a case names)" })]
      : ["Resource ", h("b", { text: r.name }), " ", code(r.arn)]));
    var wrap = h("div", { "class": "matrix-wrap" });
    box.appendChild(wrap);
    var principals = Array.from(r.principals.keys()), actions = Array.from(r.actions.keys());
    function draw(all) {
      wrap.textContent = "";
      var ps = all ? principals : principals.slice(0, MAX_ROWS);
      var as = all ? actions : actions.slice(0, MAX_COLS);
      // rows past the limit that hold a failed check are shown anyway, after a gap row
      var late = all ? [] : principals.slice(MAX_ROWS).filter(function (p) {
        return as.some(function (a) {
          var list = r.cells.get(p + "\u0000" + a);
          return list && list.some(function (c) { return c.outcome !== "passed"; });
        });
      });
      var head = h("tr", null, [h("th", { "class": "corner", text: "principal \\ action (ecr:)" })].concat(as.map(function (a) {
        return h("th", { "class": "a", title: a }, h("span", { title: a, text: a.replace(/^ecr:/, "") }));
      })));
      var rowOf = function (p) {
        return h("tr", null, [h("th", { "class": "p", title: p + (r.principals.get(p) ? "\n" + r.principals.get(p) : ""), text: p })].concat(as.map(function (a) {
          var list = r.cells.get(p + "\u0000" + a);
          if (!list) return h("td", { "class": "empty-cell", title: "no check" });
          var bad = list.some(function (c) { return c.outcome !== "passed"; });
          return h("td", { "class": bad ? "failed-cell" : null }, list.map(cellLink));
        })));
      };
      var body = ps.map(rowOf);
      if (late.length) {
        body.push(h("tr", { "class": "gap" }, h("td", { colspan: String(as.length + 1),
          text: "\u22EE " + (principals.length - ps.length - late.length) + " principals without failures not shown; those with failures follow" })));
        body = body.concat(late.map(rowOf));
      }
      wrap.appendChild(h("table", { "class": "matrix" }, [h("thead", null, head), h("tbody", null, body)]));
      if (ps.length < principals.length || as.length < actions.length) {
        wrap.appendChild(h("p", { "class": "more" }, [
          "Showing " + (ps.length + late.length) + " of " + principals.length + " principals \u00D7 " + as.length + " of " + actions.length + " actions" +
            (r.bad ? " (" + r.bad + " failed checks in this resource; every one is in the list below)" : "") + ". ",
          h("button", { type: "button", onclick: function () { draw(true); }, text: "Show all" })
        ]));
      }
    }
    draw(false);
    return box;
  }

  /* ---- The list of checks ------------------------------------------------------------- */

  var state = { outcomes: { passed: true, failed: true, error: true, xfail: true }, decision: "", text: "", group: "", size: 100, page: 0 };
  var open = {};
  var filtered = [];
  var listEl = document.getElementById("check-list");
  var statusEl = document.getElementById("list-status");
  var pagerEl = document.getElementById("pager");

  function haystack(c) {
    if (c.hay === null) {
      var parts = [c.id, c.file, c.kase, c.principal, c.principalArn, c.resource, c.resourceArn, c.action,
        c.expected, c.decision, c.outcome];
      c.steps.forEach(function (st) {
        parts.push(str(st[0]));
        var core = pool(st[3]);
        var decisive = core && typeof core === "object" ? pool(core.decisive) : null;
        if (Array.isArray(decisive)) decisive.forEach(function (d) { if (d) parts.push(d.sid, d.policy); });
        if (core && typeof core.reason === "string") parts.push(core.reason);
      });
      c.hay = parts.filter(function (p) { return p !== null && p !== undefined; }).join("\n").toLowerCase();
    }
    return c.hay;
  }
  function groupKey(c) {
    switch (state.group) {
      case "file": return c.file;
      case "principal": return c.principal;
      case "action": return c.action;
      case "resource": return c.registry || c.resource === null ? "(registry)" : c.resource;
      case "outcome": return c.outcome;
      default: return "";
    }
  }
  function passes(c) {
    if (!state.outcomes[c.outcome]) return false;
    if (state.decision && c.decision !== state.decision) return false;
    if (state.text) {
      var hay = haystack(c), words = state.text.toLowerCase().split(/\s+/);
      for (var i = 0; i < words.length; i++) if (words[i] && hay.indexOf(words[i]) < 0) return false;
    }
    return true;
  }
  var groupCounts = {};
  function refilter() {
    filtered = checks.filter(passes);
    groupCounts = {};
    if (state.group) {
      var keyed = filtered.map(function (c) { return [groupKey(c), c]; });
      keyed.sort(function (a, b) { return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1].i - b[1].i; });
      filtered = keyed.map(function (k) { groupCounts[k[0]] = (groupCounts[k[0]] || 0) + 1; return k[1]; });
    }
  }

  function renderList() {
    var pages = Math.max(1, Math.ceil(filtered.length / state.size));
    if (state.page >= pages) state.page = pages - 1;
    var start = state.page * state.size, slice = filtered.slice(start, start + state.size);
    listEl.textContent = "";
    var lastGroup = null;
    slice.forEach(function (c) {
      if (state.group) {
        var g = groupKey(c);
        if (g !== lastGroup) {
          listEl.appendChild(h("div", { "class": "group-head" }, [state.group + ": ", h("span", { text: g }),
            h("span", { "class": "where", text: fmt(groupCounts[g]) + " checks" })]));
          lastGroup = g;
        }
      }
      listEl.appendChild(checkEntry(c));
    });
    statusEl.textContent = filtered.length
      ? "Showing " + fmt(start + 1) + "\u2013" + fmt(start + slice.length) + " of " + fmt(filtered.length) +
        " matching checks (" + fmt(checks.length) + " in all). Click a check for its explanation."
      : (checks.length ? "No check matches these filters." : "No check ran.");
    pagerEl.textContent = "";
    pagerEl.hidden = pages <= 1;
    if (pages > 1) {
      var go = function (p) { return function () { state.page = p; renderList(); listEl.scrollIntoView(); }; };
      add(pagerEl, [
        h("button", { type: "button", disabled: state.page === 0 ? "" : null, onclick: go(0), text: "\u00AB first" }),
        h("button", { type: "button", disabled: state.page === 0 ? "" : null, onclick: go(state.page - 1), text: "\u2039 previous" }),
        h("span", { text: "page " + fmt(state.page + 1) + " of " + fmt(pages) }),
        h("button", { type: "button", disabled: state.page >= pages - 1 ? "" : null, onclick: go(state.page + 1), text: "next \u203A" }),
        h("button", { type: "button", disabled: state.page >= pages - 1 ? "" : null, onclick: go(pages - 1), text: "last \u00BB" })
      ]);
    }
  }

  function checkEntry(c) {
    var box = h("div", { "class": "check o-" + c.outcome, id: c.anchor });
    var row = h("button", { type: "button", "class": "row", "aria-expanded": open[c.i] ? "true" : "false",
      title: c.id }, [
      h("span", { "class": "badge o-" + c.outcome, text: c.outcome }),
      h("span", { "class": "cell " + decisionClass(c.decision) + (c.outcome !== "passed" ? " failed" : ""), text: glyph(c.decision) }),
      h("span", { "class": "trunc", title: c.principal + (c.principalArn ? "\n" + c.principalArn : "") }, h("b", { text: c.principal })),
      h("span", { "class": "trunc", title: c.action, text: c.action }),
      c.registry || c.resource === null
        ? h("span", { "class": "trunc hint", title: "account-level: the caller's own registry" + (c.resource === null ? "" : "; the case names repository " + c.resource), text: "(registry)" })
        : h("span", { "class": "trunc", title: c.resource + (c.resourceArn ? "\n" + c.resourceArn : ""), text: c.resource }),
      h("span", { "class": "exp", text: "expected " + c.expected }),
      h("span", { "class": "trunc where", title: where(c.file, c.line) + " \u00B7 " + (c.kase || ""), text: where(c.file, c.line) + " \u00B7 " + (c.kase || "") })
    ]);
    row.addEventListener("click", function () {
      if (open[c.i]) { delete open[c.i]; } else { open[c.i] = true; }
      box.parentNode.replaceChild(checkEntry(c), box);
    });
    box.appendChild(row);
    if (open[c.i]) box.appendChild(detail(c));
    return box;
  }

  /* ---- A check's details (built when opened) ------------------------------------------ */

  function detail(c) {
    var d = h("div", { "class": "detail" });
    var actions = c.steps.map(function (st) { return str(st[0]); }).filter(function (a) { return a !== null; });
    add(d, kvTable([
      ["Check", code(c.id)],
      ["Spec", [code(where(c.file, c.line)), " case ", h("b", { text: c.kase === null ? "" : c.kase }),
        c.caseIndex === null || c.caseIndex === undefined ? null : h("span", { "class": "hint", text: " (case #" + (c.caseIndex + 1) + ")" })]],
      ["Expected", h("b", { text: c.expected })],
      ["Actual", [h("span", { "class": "cell " + decisionClass(c.decision), text: glyph(c.decision) }), " ",
        h("b", { text: c.decision === null ? "no decision" : c.decision }), " ",
        h("span", { "class": "badge o-" + c.outcome, text: c.outcome })]],
      ["Principal", [h("b", { text: c.principal }), " ", code(c.principalArn)]],
      ["Action", [h("b", { text: c.action }),
        actions.length > 1 || (actions.length === 1 && actions[0] !== c.action) ? h("span", { "class": "hint", text: " = " + actions.join(", ") }) : null]],
      ["Resource", c.resource === null ? h("span", { "class": "hint", text: "none (account-level action)" })
        : c.registry ? [h("b", { text: "the caller's own registry" }), h("span", { "class": "hint", text: " (an account-level action: the case names repository " + c.resource + ", which it does not act on)" })]
        : [h("b", { text: c.resource }), " ", code(c.resourceArn)]],
      ["Context (spec)", contextTable(c.context)]
    ]));
    if (c.universal) add(d, universalBlocks(c));
    if (c.other) {
      add(d, kvTable(Object.keys(c.other).map(function (k) {
        var v = c.other[k];
        return [k, json(v)];
      }), "other"));
    }
    if (!c.steps.length) d.appendChild(h("p", { "class": "empty", text: "No evaluation was recorded for this check." }));
    failingFirst(c).forEach(function (st) { d.appendChild(step(st, c.steps.length > 1)); });
    var short = !proven(c) && c.steps.length && c.steps.every(function (st) {
      var core = pool(st[3]);
      return core && typeof core === "object" && core.policies === undefined && !st[2];
    });
    if (short) {
      d.appendChild(h("p", { "class": "hint" }, ["This run recorded the short explanation of this check (deciding gate, reason and " +
        "deciding statements). For every statement and condition evaluated, run ",
        code("python -m runner explain " + (c.file || "SPEC") + " --case '" + c.id.slice(c.id.indexOf("::") + 2) + "'"), "."]));
    }
    return d;
  }

  /* a universal check that passed: no caller of its class and no request context breaks it */
  function proven(c) { return !!c.universal && c.outcome === "passed" && !c.universal.witness; }

  /* a universal check: its class, the callers considered, then its witness or what it proved */
  function universalBlocks(c) {
    var u = c.universal, about = u.universal || {}, w = u.witness, out = [];
    var cls = about["class"] === undefined || about["class"] === null ? null : String(about["class"]);
    var rows = [];
    if (cls !== null) rows.push(["Universal check", ["over ", h("b", { text: cls })]]);
    if (Array.isArray(about.considered)) {
      rows.push(["Callers considered", about.considered.length
        ? h("ul", { "class": "considered" }, about.considered.map(function (x) { return h("li", { text: String(x) }); }))
        : h("span", { "class": "hint", text: "(none)" })]);
    }
    if (typeof about.evaluated === "number") rows.push(["Engine decisions", fmt(about.evaluated)]);
    if (rows.length) out.push(kvTable(rows, "universal"));
    if (proven(c)) {
      out.push(h("p", { "class": "proven" }, [h("b", { text: "Proven" }), " for every caller of the class" +
        (cls === null ? "" : " (" + cls + ")") + " and every request context: no caller breaks " +
        "the expectation (" + c.expected + ")."]));
    }
    if (u.witness || u.witness_summary) out.push(witnessBlock(c, w || {}, u.witness_summary, u.absent || []));
    return out;
  }

  function witnessBlock(c, w, summary, absent) {
    var box = h("div", { "class": "witness", id: c.anchor + "-witness" });
    box.appendChild(h("h4", null, ["Witness ", h("span", { "class": "hint", text: "one caller and request context that break the expectation" })]));
    if (summary) box.appendChild(h("p", { "class": "witness-summary", text: summary }));
    var rows = [];
    if (w.principal !== undefined) {
      rows.push(["Caller", [code(w.principal),
        w.name ? [" the defined principal ", h("b", { text: String(w.name) })] : h("span", { "class": "hint", text: " (not defined by the spec)" }),
        w.principal_arn && w.principal_arn !== w.principal ? [h("span", { "class": "hint", text: " identity " }), code(w.principal_arn)] : null]]);
    }
    if (w.tags && typeof w.tags === "object" && (Object.keys(w.tags).length || !w.name)) {
      var tagKeys = Object.keys(w.tags).sort();
      rows.push(["Principal tags", tagKeys.length ? h("span", null, tagKeys.map(function (k) {
        return h("code", { "class": "v", text: k + "=" + w.tags[k] });
      })) : h("span", { "class": "hint", text: "(none)" })]);
    }
    var ctx = w.context && typeof w.context === "object" ? w.context : {};
    var keys = Object.keys(ctx).sort(function (a, b) { var x = a.toLowerCase(), y = b.toLowerCase(); return x < y ? -1 : x > y ? 1 : 0; });
    var ctxRows = keys.map(function (k) { return h("tr", null, [h("th", null, code(k)), h("td", null, values(ctx[k]))]); })
      .concat(absent.filter(function (k) { return !(k in ctx); }).map(function (k) {
        return h("tr", null, [h("th", null, code(k)), h("td", null, h("span", { "class": "absent", text: "absent" }))]);
      }));
    rows.push(["Context", ctxRows.length ? h("table", { "class": "kv" }, h("tbody", null, ctxRows))
      : h("span", { "class": "hint", text: "(no key that a policy of the check reads)" })]);
    box.appendChild(kvTable(rows));
    return box;
  }

  /* the steps of an operation, those that explain its failure first (as the command line) */
  function failingFirst(c) {
    if (c.outcome === "passed" || c.steps.length < 2 || c.decision === "allow") return c.steps;
    var matters = function (st) {
      var d = str(st[1]);
      return c.decision === "explicit-deny" ? d === "explicit-deny" : d !== "allow";
    };
    return c.steps.filter(matters).concat(c.steps.filter(function (st) { return !matters(st); }));
  }

  function step(st, many) {
    var action = str(st[0]), decision = str(st[1]), req = st[2], core = pool(st[3]), extra = st[4];
    var box = h("div", { "class": "step" });
    box.style.borderLeftColor = decision === "allow" ? "var(--allow)" : decision === "explicit-deny" ? "var(--xdeny)" : "var(--ideny)";
    box.appendChild(h("h4", null, [h("span", { "class": "cell " + decisionClass(decision), text: glyph(decision) }), " ",
      many ? code(action) : null, many ? ": " : null, decision === null ? "no decision" : decision]));
    if (!core || typeof core !== "object" || !Object.keys(core).length) {
      box.appendChild(h("p", { "class": "empty", text: "No explanation recorded." }));
    } else {
      explanation(box, core, req);
    }
    if (extra) add(box, kvTable(Object.keys(extra).map(function (k) { return [k, json(extra[k])]; })));
    return box;
  }

  var KNOWN = { decision: 1, gate: 1, reason: 1, gates: 1, policies: 1, decisive: 1, request: 1 };

  function explanation(box, e, req) {
    if (e.reason !== undefined) box.appendChild(h("p", { "class": "reason", text: String(e.reason) }));
    var rows = [];
    if (e.gate !== undefined && e.gate !== null) rows.push(["Deciding gate", h("b", { text: String(e.gate) })]);
    var decisive = pool(e.decisive);
    if (Array.isArray(decisive)) {
      rows.push(["Decided by", decisive.length ? h("ul", null, decisive.map(function (s) {
        return h("li", null, [s.effect ? h("span", { "class": "e-" + s.effect, text: s.effect }) : null, " statement ",
          h("b", { text: s.sid === null || s.sid === undefined ? "#" + s.index + " (no Sid)" : s.sid }),
          s.sid === null || s.sid === undefined ? null : h("span", { "class": "hint", text: " #" + s.index }),
          " of ", s.kind ? kindLabel(s.kind) + " " : "policy ", h("b", { text: s.policy }),
          s.file ? [" ", code(s.file)] : null]);
      })) : h("span", { "class": "hint", text: "no statement (nothing allowed the request)" })]);
    }
    if (req) {
      rows.push(["Request", [code(str(req[0])), str(req[1]) ? h("span", { "class": "hint", text: " (" + str(req[1]) + ")" }) : null,
        " \u2192 ", code(str(req[2])), " on ", code(str(req[3]) === null ? "*" : str(req[3]))]]);
      var ctx = pool(req[4]);
      if (ctx) {
        var det = h("details", null, h("summary", { text: "full request context (" + Object.keys(ctx).length + " keys)" }));
        det.appendChild(contextTable(ctx));
        rows.push(["Context", det]);
      }
      if (req[5]) Object.keys(req[5]).forEach(function (k) { rows.push([k, json(req[5][k])]); });
    }
    var gates = pool(e.gates);
    if (Array.isArray(gates) && gates.length) {
      rows.push(["Gates", h("table", { "class": "cond" }, [
        h("thead", null, h("tr", null, [h("th", { text: "gate" }), h("th", { text: "result" }), h("th", { text: "note" })])),
        h("tbody", null, gates.map(function (g) {
          return h("tr", null, [h("td", { text: String(g.gate) }), h("td", { text: String(g.result) }), h("td", { text: g.note === undefined ? "" : String(g.note) })]);
        }))])]);
    }
    Object.keys(e).forEach(function (k) { if (!KNOWN[k]) rows.push([k, json(e[k])]); });
    box.appendChild(kvTable(rows));
    if (Array.isArray(e.policies)) {
      e.policies.forEach(function (ref) { box.appendChild(policy(pool(ref), Array.isArray(decisive) ? decisive : [])); });
    }
  }

  function policy(p, decisive) {
    var box = h("div", { "class": "policy-expl" });
    if (!p || typeof p !== "object") { box.appendChild(json(p)); return box; }
    box.appendChild(h("p", null, [p.kind ? h("span", { "class": "hint", text: kindLabel(p.kind) + " " }) : "policy ", h("b", { text: p.name }), " ",
      p.file ? code(where(p.file, p.line)) : null]));
    var statements = Array.isArray(p.statements) ? p.statements : [];
    var rows = [];
    statements.forEach(function (s) {
      var isDecisive = decisive.some(function (d) { return d && d.policy === p.name && d.index === s.index && (d.file === undefined || d.file === p.file); });
      rows.push(h("tr", { "class": isDecisive ? "decisive-row" : s.matched ? "stmt-matched" : null }, [
        h("td", { "class": "n", text: s.index === undefined ? "" : String(s.index) }),
        h("td", { text: s.sid === null || s.sid === undefined ? "(no Sid)" : String(s.sid) }),
        h("td", { "class": "e-" + s.effect, text: s.effect || "" }),
        h("td", { "class": "n", text: s.line === null || s.line === undefined ? "" : String(s.line) }),
        h("td", { text: s.matched === undefined ? "" : s.matched ? "matched" + (isDecisive ? " (decisive)" : "") : "no" }),
        h("td", { text: s.note === undefined || s.note === null ? "" : String(s.note) })
      ]));
      if (Array.isArray(s.conditions) && s.conditions.length) {
        rows.push(h("tr", null, h("td", { colspan: "6" }, h("table", { "class": "cond" }, [
          h("thead", null, h("tr", null, ["key", "operator", "policy values", "request values", "result"].map(function (t) { return h("th", { text: t }); }))),
          h("tbody", null, s.conditions.map(function (cd) {
            return h("tr", null, [h("td", null, code(cd.key)), h("td", null, code(cd.operator)),
              h("td", null, values(cd.expected)), h("td", null, values(cd.actual)),
              h("td", { "class": "r-" + cd.result, text: String(cd.result) })]);
          }))]))));
      }
    });
    if (rows.length) {
      box.appendChild(h("table", { "class": "stmts" }, [
        h("colgroup", null, ["c-n", "c-sid", "c-eff", "c-n", "c-m", "c-note"].map(function (c) { return h("col", { "class": c }); })),
        h("thead", null, h("tr", null, ["#", "Sid", "Effect", "Line", "Matched", "Note"].map(function (t) { return h("th", { text: t }); }))),
        h("tbody", null, rows)]));
    }
    if (p.skipped) {
      box.appendChild(h("p", { "class": "hint", text: "Takes no part: " + p.skipped + "." }));
    } else if (p.unmatched_by_action) {
      box.appendChild(h("p", { "class": "hint", text: p.unmatched_by_action + " other statement" + (p.unmatched_by_action === 1 ? " does" : "s do") + " not cover this action." }));
    }
    Object.keys(p).forEach(function (k) {
      if (["name", "kind", "file", "line", "statements", "unmatched_by_action", "skipped"].indexOf(k) < 0) box.appendChild(h("p", null, [k + ": ", json(p[k])]));
    });
    return box;
  }

  /* ---- Controls, links and navigation ------------------------------------------------- */

  function readControls() {
    document.querySelectorAll('#controls input[name="outcome"]').forEach(function (b) { state.outcomes[b.value] = b.checked; });
    state.decision = document.getElementById("f-decision").value;
    state.text = document.getElementById("f-text").value.trim();
    state.group = document.getElementById("f-group").value;
    state.size = parseInt(document.getElementById("f-size").value, 10) || 100;
  }
  function writeControls() {
    document.querySelectorAll('#controls input[name="outcome"]').forEach(function (b) { b.checked = !!state.outcomes[b.value]; });
    document.getElementById("f-decision").value = state.decision;
    document.getElementById("f-text").value = state.text;
  }
  function update() { readControls(); state.page = 0; refilter(); renderList(); }

  function goTo(anchor) {
    var c = byAnchor[anchor];
    if (!c) return false;
    if (!passes(c)) {
      state.outcomes = { passed: true, failed: true, error: true, xfail: true }; state.decision = ""; state.text = "";
      writeControls(); refilter();
    }
    var pos = filtered.indexOf(c);
    state.page = Math.floor(pos / state.size);
    open[c.i] = true;
    renderList();
    var node = document.getElementById(anchor);
    if (node) {
      node.classList.add("target");
      node.scrollIntoView({ block: "start" });
      setTimeout(function () { node.classList.remove("target"); }, 2500);
    }
    return true;
  }

  function init() {
    var controls = document.getElementById("controls");
    controls.hidden = false;
    var timer = null;
    controls.addEventListener("change", update);
    document.getElementById("f-text").addEventListener("input", function () {
      clearTimeout(timer); timer = setTimeout(update, 200);
    });
    document.addEventListener("click", function (ev) {
      var a = ev.target.closest ? ev.target.closest("a") : null;
      if (!a) return;
      var href = a.getAttribute("href") || "";
      if (a.hasAttribute("data-outcome")) {
        ev.preventDefault();
        state.outcomes = { passed: false, failed: false, error: false, xfail: false };
        state.outcomes[a.getAttribute("data-outcome")] = true;
        if (a.getAttribute("data-outcome") === "failed") state.outcomes.error = true;
        state.decision = ""; state.text = "";
        writeControls(); update();
        document.getElementById("checks").scrollIntoView();
      } else if (href.indexOf("#file-") === 0) {
        var target = document.getElementById(href.slice(1));
        if (target && target.tagName === "DETAILS") target.open = true;
      } else if (href.indexOf("#check-") === 0) {
        ev.preventDefault();
        if (history.pushState) history.pushState(null, "", href);
        goTo(href.slice(1));
      }
    });
    window.addEventListener("hashchange", function () { goTo(location.hash.slice(1)); });
    window.addEventListener("beforeprint", function () {
      document.querySelectorAll("details").forEach(function (d) { if (d.drawAll) d.drawAll(); d.open = true; });
    });
    buildMatrices();
    refilter();
    renderList();
    if (location.hash.indexOf("#check-") === 0) goTo(location.hash.slice(1));
    document.body.setAttribute("data-render-ms", String(Date.now() - T0));
  }

  init();
})();
