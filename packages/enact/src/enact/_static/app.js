// enact serve: the page. Plain JavaScript, no build step, nothing loaded from elsewhere.
//
// Everything shown comes from stored data, which is user content: the DOM is
// built with createElement and textContent only (no HTML is ever parsed), and links
// point only at this page's own routes, built from digests.
"use strict";

(() => {
  const VALUE_TYPES = new Set([
    "enact.resource_types.Str",
    "enact.resource_types.Int",
    "enact.resource_types.Float",
    "enact.resource_types.Bytes",
  ]);
  const NONE_TYPE = "enact.interfaces.NoneResource";
  const REQUEST_INPUT = "enact.invocations.RequestInput";
  const INPUT_REQUEST = "enact.invocations.InputRequest";
  const WRAPPED = "enact.invocations.WrappedException";
  const HEX = /^[0-9a-f]+$/;
  const STATUS_TEXT = { reused: "reused", rerun: "re-run", added: "added", removed: "removed" };

  // --- The token (only when the server asks for one): from ?token= once, then kept for the tab.
  const params = new URLSearchParams(location.search);
  if (params.has("token")) {
    sessionStorage.setItem("enact-token", params.get("token"));
    history.replaceState(null, "", location.pathname + location.hash);
  }
  const token = sessionStorage.getItem("enact-token");
  let info = { writable: false, timing: "not recorded", store: "" };
  let generation = 0; // Bumped on every navigation: late answers of an old view are dropped.

  // --- DOM helpers. ---

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) append(node, child);
      else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function text(value) {
    return document.createTextNode(String(value));
  }

  function short(digest) {
    return "#" + String(digest).slice(0, 8);
  }

  function objectLink(digest, label) {
    if (!HEX.test(digest)) return text(label || digest);
    return el("a", { href: "#/object/" + digest, class: "digest ref", title: digest }, label || short(digest));
  }

  function callLink(digest, label) {
    if (!HEX.test(digest)) return text(label || digest);
    return el("a", { href: "#/call/" + digest, class: "call-link", title: digest }, label || short(digest));
  }

  // Control characters, line breaks and bidi overrides shown escaped, as a Python repr does.
  function escapeControls(s) {
    return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => {
      const named = { "\n": "\\n", "\r": "\\r", "\t": "\\t" }[c];
      if (named) return named;
      const code = c.charCodeAt(0);
      return code < 0x100 ? "\\x" + code.toString(16).padStart(2, "0") : "\\u" + code.toString(16).padStart(4, "0");
    });
  }

  function quoted(s) {
    return "'" + escapeControls(s).replace(/'/g, "\\'") + "'";
  }

  function shortType(type) {
    if (!type) return "?";
    const name = String(type.name || "?");
    return name.slice(name.lastIndexOf(".") + 1);
  }

  function typeNode(type) {
    return el("span", { class: "typename", title: type && type.name },
      shortType(type),
      type && type.raw ? el("span", { class: "raw", title: "stored type: the server has not imported its class (see --import)" }, "[raw]") : null);
  }

  function message(textValue, kind) {
    const box = document.getElementById("message");
    if (!textValue) {
      box.hidden = true;
      box.textContent = "";
      return;
    }
    box.hidden = false;
    box.className = kind || "";
    box.textContent = textValue;
  }

  // --- The API. ---

  async function api(path, options) {
    const init = Object.assign({}, options || {});
    init.headers = Object.assign({}, init.headers || {});
    if (token) init.headers["X-Enact-Token"] = token;
    const response = await fetch(path, init);
    let body = null;
    try {
      body = await response.json();
    } catch (e) {
      body = { error: response.status + " " + response.statusText };
    }
    if (!response.ok) {
      const error = new Error(body && body.error ? body.error : response.statusText);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  // --- Values: the JSON forms of `enact show --json`, clipped where long. ---

  function isObject(v) {
    return v !== null && typeof v === "object" && !Array.isArray(v);
  }

  function clippedNote(form, wholeHref) {
    const unit = { str: "characters", bytes: "bytes", list: "items", map: "entries" }[form.clipped] || "";
    return el("span", { class: "clipped" },
      `… (${form.length} ${unit} in all)`,
      wholeHref ? [" ", el("a", { href: wholeHref, class: "show-whole" }, "show whole")] : null);
  }

  // One line: for rows of the tree, the runs and the diff.
  function inline(form, depth) {
    depth = depth || 0;
    if (form === null || form === undefined) return text("None");
    if (typeof form === "boolean") return text(form ? "True" : "False");
    if (typeof form === "number") return text(String(form));
    if (typeof form === "string") return el("span", { class: "str" }, quoted(form));
    if (Array.isArray(form)) return text(form.length ? `[${form.length} item${form.length === 1 ? "" : "s"}]` : "[]");
    if (!isObject(form)) return text(String(form));
    if ("clipped" in form) {
      if (form.clipped === "str") return el("span", { class: "str" }, quoted(form.shown) + "…");
      if (form.clipped === "list") return text(`[${form.length} items]`);
      if (form.clipped === "map") return text(`{${form.length} items}`);
      return text(`<${form.length} bytes>`);
    }
    if ("bytes" in form) return text(`<${Math.floor((form.bytes.length * 3) / 4)} bytes>`);
    if ("float" in form) return text(form.float);
    if ("int" in form) return text(form.int.length > 30 ? form.int.slice(0, 30) + "…" : form.int);
    if ("map" in form) {
      const n = Object.keys(form.map).length;
      return text(n ? `{${n} item${n === 1 ? "" : "s"}}` : "{}");
    }
    if ("resource_type" in form) return typeNode(form.resource_type);
    if ("fields" in form) return resourceInline(form, depth);
    if ("ref" in form) return objectLink(form.ref);
    return text("?");
  }

  function resourceInline(form, depth) {
    const name = form.type && form.type.name;
    const fields = form.fields || {};
    if (VALUE_TYPES.has(name) && "value" in fields) return inline(fields.value, depth);
    if (name === NONE_TYPE) return text("None");
    if (name === REQUEST_INPUT && fields.requested_type && fields.requested_type.resource_type) {
      return el("span", null, "RequestInput(", typeNode(fields.requested_type.resource_type), ")");
    }
    const names = Object.keys(fields);
    const out = el("span", { class: "resource" }, typeNode(form.type), "(");
    if (names.length && depth >= 1) {
      out.append("…)");
      return out;
    }
    names.forEach((field, i) => {
      if (i) out.append(", ");
      out.append(field + "=", inline(fields[field], depth + 1));
    });
    out.append(")");
    return out;
  }

  // `summary`: the server's one-line message of the exception, when it gave one.
  function exceptionInline(form, summary) {
    const name = form.type && form.type.name;
    const fields = form.fields || {};
    const out = el("span", { class: "exception" }, typeNode(form.type));
    if (typeof summary === "string") {
      if (summary) out.append(": ", escapeControls(summary));
    } else if (name === INPUT_REQUEST) {
      out.append(": ", typeof fields.context === "string" ? escapeControls(fields.context) : inline(fields.context, 1));
    } else if (name === WRAPPED && Array.isArray(fields.args) && typeof fields.args[0] === "string") {
      const lines = fields.args[0].split("\n").filter((l) => l.trim());
      if (lines.length) out.append(": ", escapeControls(lines[lines.length - 1].trim()));
    } else if (Array.isArray(fields.args)) {
      if (fields.args.length) out.append(": ");
      fields.args.forEach((arg, i) => {
        if (i) out.append(", ");
        out.append(typeof arg === "string" ? escapeControls(arg) : inline(arg, 1));
      });
    } else if (Object.keys(fields).length) {
      out.append(": ", resourceInline(form, 0));
    }
    return out;
  }

  // A call as one line: invokable(input) -> output, or raised ...
  function callLabel(row) {
    const out = el("span", { class: "label" }, inline(row.invokable, 0), "(");
    const input = row.input;
    if (!(input && input.type && input.type.name === NONE_TYPE)) out.append(inline(input, 1));
    out.append(")");
    if (row.output) out.append(" → ", inline(row.output, 0));
    else if (row.raised && row.raised_here) out.append(" raised ", exceptionInline(row.raised, row.raised_message));
    else if (row.raised) out.append(" raised ", typeNode(row.raised.type), " (from a child)");
    else out.append(" (no output recorded)");
    return out;
  }

  // Whole, nested: for the object view and the call details. `where` is the
  // digest of the object the value belongs to, for "show whole".
  function block(form, where) {
    if (form === null || form === undefined) return el("span", { class: "none" }, "None");
    if (typeof form === "string") return el("pre", { class: "str" }, form);
    if (typeof form !== "object") return inline(form, 0);
    if (Array.isArray(form)) {
      if (!form.length) return text("[]");
      return el("ol", { class: "items", start: 0 }, form.map((item) => el("li", null, block(item, where))));
    }
    const whole = where ? "#/object/" + where + "/whole" : null;
    if ("clipped" in form) {
      const kind = form.clipped;
      let shown;
      if (kind === "str") shown = el("pre", { class: "str" }, form.shown);
      else if (kind === "list") shown = block(form.shown, where);
      else if (kind === "map") shown = block(form.shown, where);
      else shown = text(`<${form.length} bytes>`);
      return el("div", { class: "clipped-value" }, shown, clippedNote(form, whole));
    }
    if ("bytes" in form) return text(`<${Math.floor((form.bytes.length * 3) / 4)} bytes>`);
    if ("map" in form) {
      const keys = Object.keys(form.map);
      if (!keys.length) return text("{}");
      return el("dl", { class: "fields" }, keys.map((k) => [el("dt", null, quoted(k)), el("dd", null, block(form.map[k], where))]));
    }
    if ("fields" in form) {
      const target = "ref" in form ? form.ref : where;
      const name = form.type && form.type.name;
      const head = el("div", null, "ref" in form ? [objectLink(form.ref), " "] : null, typeNode(form.type));
      if (VALUE_TYPES.has(name) && "value" in form.fields) return el("div", null, head, block(form.fields.value, target));
      const names = Object.keys(form.fields);
      if (!names.length) return head;
      return el("div", null, head,
        el("dl", { class: "fields" }, names.map((n) => [el("dt", null, n), el("dd", null, block(form.fields[n], target))])));
    }
    return inline(form, 0);
  }

  // --- Views. ---

  const main = () => document.getElementById("main");

  function show(...nodes) {
    main().replaceChildren();
    append(main(), nodes);
  }

  function timingNote() {
    return el("p", { class: "note timing" }, "Start times and durations: " + info.timing + ".");
  }

  function stateBadge(state) {
    return el("span", { class: "badge state state-" + state }, state);
  }

  async function viewRuns(mine) {
    show(el("h1", null, "Runs"), el("p", { class: "note" }, "Loading…"));
    const data = await api("/api/runs");
    if (mine !== generation) return;
    const rows = data.runs.map((run) => {
      const calls = el("td", { class: "calls" }, run.calls === null || run.calls === undefined ? "…" : String(run.calls));
      if (run.state !== "unreadable" && (run.calls === null || run.calls === undefined)) {
        api("/api/count/" + run.digest).then((c) => { calls.textContent = String(c.calls); }, () => { calls.textContent = "?"; });
      }
      const tags = el("td", { class: "tags" }, run.tags.map((tag) => callLink(run.digest, tag)));
      const what = run.state === "unreadable" ? el("span", { class: "error" }, run.error) : callLabel(run);
      return el("tr", { class: "run", "data-digest": run.digest, "data-state": run.state },
        tags,
        el("td", null, stateBadge(run.state)),
        calls,
        el("td", { class: "started", title: info.timing }, run.started_at || "—"),
        el("td", { class: "duration", title: info.timing }, run.duration === null || run.duration === undefined ? "—" : run.duration + " s"),
        el("td", { class: "what mono" }, what));
    });
    show(
      el("h1", null, "Runs"),
      el("p", { class: "note" }, "The tags that name an invocation, listed " + data.order + ". ", timingNote().textContent),
      rows.length
        ? el("table", { id: "runs" },
          el("thead", null, el("tr", null, ["Run", "State", "Calls", "Started", "Duration", "Call"].map((h) => el("th", null, h)))),
          el("tbody", null, rows))
        : el("p", { class: "empty" }, "No runs: no tag names an invocation. Run `enact demo`, or tag an invocation with `enact tag NAME REF`."),
    );
  }

  // The call tree: rows expand level by level; children come a page at a time.
  // `where`: the call's run and its path in it ({run, path}), when it is a
  // named run's call: its children's times then come with each page.
  function treeNode(row, position, detail, where = null) {
    const childWhere = (pos) => where && { run: where.run, path: where.path === "" ? String(pos) : `${where.path}/${pos}` };
    const timesQuery = where ? `&run=${encodeURIComponent(where.run)}&path=${encodeURIComponent(where.path)}` : "";
    const children = el("ul", { class: "children", hidden: true });
    const li = el("li", { class: "call state-row-" + row.state, "data-digest": row.digest, "data-state": row.state });
    let loaded = 0;
    let total = row.children_count;
    const toggle = total
      ? el("button", { class: "toggle", type: "button", title: `${total} call${total === 1 ? "" : "s"} made in this call`, "aria-expanded": "false" }, "▸")
      : el("span", { class: "toggle-space" });
    const label = callLabel(row);
    label.addEventListener("click", () => {
      for (const selected of document.querySelectorAll("li.selected")) selected.classList.remove("selected");
      li.classList.add("selected");
      detail(row);
    });

    async function loadMore() {
      const page = await api(`/api/calls/${row.digest}?offset=${loaded}&limit=100${timesQuery}`);
      total = page.children.total;
      const more = children.querySelector(":scope > li.more");
      if (more) more.remove();
      for (const child of page.children.items) children.append(treeNode(child, child.position, detail, childWhere(child.position)));
      loaded += page.children.items.length;
      if (loaded < total) {
        children.append(el("li", { class: "more" },
          el("button", { class: "more", type: "button", onclick: () => loadMore().catch((e) => message(e.message)) },
            `Show ${Math.min(100, total - loaded)} more (${loaded} of ${total} shown)`)));
      }
    }

    async function expand(open) {
      if (!total) return;
      if (open && loaded === 0) await loadMore();
      children.hidden = !open;
      toggle.textContent = open ? "▾" : "▸";
      toggle.setAttribute("aria-expanded", String(open));
    }
    if (total) toggle.addEventListener("click", () => expand(children.hidden).catch((e) => message(e.message)));
    li.expand = expand;
    li.preload = (page) => {
      for (const child of page.items) children.append(treeNode(child, child.position, detail, childWhere(child.position)));
      loaded = page.items.length;
      total = page.total;
      if (loaded < total) {
        children.append(el("li", { class: "more" },
          el("button", { class: "more", type: "button", onclick: () => loadMore().catch((e) => message(e.message)) },
            `Show ${Math.min(100, total - loaded)} more (${loaded} of ${total} shown)`)));
      }
    };
    append(li, [
      el("div", { class: "row" },
        toggle,
        position === null ? null : el("span", { class: "position" }, String(position)),
        stateBadge(row.state),
        label,
        el("span", { class: "duration", title: info.timing }, row.duration === null ? "" : row.duration + " s")),
      children,
    ]);
    return li;
  }

  function callDetail(row) {
    const panel = document.getElementById("detail");
    if (!panel) return;
    const section = (title, value, where) => el("div", { class: "section" }, el("h2", null, title), value);
    panel.replaceChildren(...[
      el("h1", null, "Call ", objectLink(row.digest)),
      el("p", { class: "note" }, "state: ", stateBadge(row.state), " duration: ",
        row.duration === null || row.duration === undefined ? info.timing : row.duration + " s"),
      el("p", null, "request ", objectLink(row.request), " · response ", objectLink(row.response),
        row.children_count ? ` · ${row.children_count} call${row.children_count === 1 ? "" : "s"} made` : null),
      section("Invokable", block(row.invokable)),
      section("Input", block(row.input)),
      row.output ? section("Output", block(row.output)) : null,
      row.raised ? section(row.raised_here ? "Raised" : "Raised (in a call it made)", block(row.raised)) : null,
      !row.output && !row.raised ? el("p", { class: "note" }, "No output recorded (removed, so a replay runs the call again).") : null,
    ].filter((node) => node));
  }

  async function viewCall(mine, digest) {
    show(el("h1", null, "Call ", short(digest)), el("p", { class: "note" }, "Loading…"));
    const runs = await api("/api/runs");
    if (mine !== generation) return;
    const names = runs.runs.filter((r) => r.digest === digest).flatMap((r) => r.tags);
    const named = names.find((name) => name.startsWith("runs/"));
    const where = named ? { run: named.slice("runs/".length), path: "" } : null;
    const root = await api("/api/calls/" + digest + (where ? `?run=${encodeURIComponent(where.run)}&path=` : ""));
    if (mine !== generation) return;
    const others = runs.runs.filter((r) => r.digest !== digest && r.state !== "unreadable");
    const picker = el("select", { id: "compare-with", "aria-label": "compare with" },
      others.map((r) => el("option", { value: r.name }, r.tags.join(", "))));
    const here = encodeURIComponent(names.length ? names[0] : digest);
    const compare = others.length
      ? el("form", { class: "compare", onsubmit: (e) => { e.preventDefault(); location.hash = `#/diff/${encodeURIComponent(picker.value)}/${here}`; } },
        "Compare with ", picker, " ", el("button", { type: "submit", id: "compare" }, "Diff"))
      : null;
    const tree = el("ul", { class: "tree", id: "tree" });
    const node = treeNode(root, null, callDetail, where);
    tree.append(node);
    node.preload(root.children);
    await node.expand(true);
    show(
      el("h1", null, names.length ? names.join(", ") : "Call " + short(digest), " ", el("span", { class: "note" }, objectLink(digest))),
      compare,
      timingNote(),
      el("div", { class: "layout" }, el("div", null, tree), el("aside", { id: "detail" }, el("p", { class: "note" }, "Click a call to see it whole."))),
    );
    callDetail(root);
    node.classList.add("selected");
  }

  async function viewObject(mine, digest, whole) {
    show(el("h1", null, "Object ", short(digest)), el("p", { class: "note" }, "Loading…"));
    const obj = await api("/api/objects/" + digest + (whole ? "?whole=1" : ""));
    if (mine !== generation) return;
    const names = Object.keys(obj.fields);
    show(
      el("h1", null, typeNode(obj.type), " ", el("span", { class: "digest" }, obj.digest)),
      el("p", { class: "note" }, obj.type.name,
        obj.type.raw ? " — shown as stored: the server has not imported this type (start it with --import MODULE to name its class)" : null),
      obj.is_invocation ? el("p", null, callLink(obj.digest, "Open as a call tree")) : null,
      whole ? el("p", { class: "note" }, "Shown whole. ", objectLink(obj.digest, "Shorter view")) : null,
      names.length
        ? el("dl", { class: "fields", id: "fields" }, names.map((n) => [el("dt", null, n), el("dd", null, block(obj.fields[n], obj.digest))]))
        : el("p", { class: "note" }, "No fields."),
    );
  }

  function diffEntry(entry) {
    const call = entry.call;
    const digest = entry.b || entry.a;
    const label = call ? callLabel(call) : el("span", { class: "label" }, objectLink(digest));
    const li = el("li", { class: "entry status-" + entry.status, "data-status": entry.status, "data-a": entry.a || "", "data-b": entry.b || "" },
      el("div", { class: "row" },
        el("span", { class: "badge" }, STATUS_TEXT[entry.status] || entry.status),
        entry.b ? callLink(entry.b) : callLink(entry.a),
        " ",
        label));
    if (entry.status === "rerun") {
      const notes = el("ul", { class: "changes" });
      for (const change of entry.changes || []) {
        notes.append(el("li", { class: "change" },
          el("span", { class: "path" }, change.path), ": ",
          change.missing === "a" ? "(none)" : inline(change.a, 1), " → ",
          change.missing === "b" ? "(none)" : inline(change.b, 1)));
      }
      if (!(entry.changes || []).length) notes.append(el("li", { class: "same-request" }, "same request: ran again (its recorded result was removed, or a call inside it changed)"));
      const was = entry.was || {};
      const before = was.output ? inline(was.output, 0) : was.raised ? exceptionInline(was.raised, was.raised_message) : text("no output");
      const after = call.output ? inline(call.output, 0) : call.raised ? exceptionInline(call.raised, call.raised_message) : text("no output");
      const same = was.output && call.output && was.output.ref === call.output.ref;
      notes.append(el("li", { class: "result" }, same ? ["result unchanged: ", after] : ["result: ", before, " → ", after]));
      li.append(notes);
    }
    if (entry.children && entry.children.length) li.append(diffList(entry.children));
    return li;
  }

  function diffList(entries) {
    const ul = el("ul", { class: "diff-children" });
    let i = 0;
    while (i < entries.length) {
      if (entries[i].status === "reused") {
        let j = i;
        while (j < entries.length && entries[j].status === "reused") j++;
        if (j - i > 1) {
          ul.append(el("li", { class: "group" },
            el("details", { class: "reused-group" },
              el("summary", null, `${j - i} calls reused`),
              el("ul", null, entries.slice(i, j).map(diffEntry)))));
          i = j;
          continue;
        }
      }
      ul.append(diffEntry(entries[i]));
      i++;
    }
    return ul;
  }

  async function viewDiff(mine, a, b) {
    const runs = await api("/api/runs");
    if (mine !== generation) return;
    const aInput = el("input", { id: "diff-a", name: "a", value: a || "", placeholder: "before: tag, digest or prefix", list: "run-names" });
    const bInput = el("input", { id: "diff-b", name: "b", value: b || "", placeholder: "after: tag, digest or prefix", list: "run-names" });
    const form = el("form", { class: "diff-form", onsubmit: (e) => {
      e.preventDefault();
      location.hash = `#/diff/${encodeURIComponent(aInput.value.trim())}/${encodeURIComponent(bInput.value.trim())}`;
    } }, aInput, " → ", bInput, " ", el("button", { type: "submit" }, "Compare"),
    el("datalist", { id: "run-names" }, runs.runs.flatMap((r) => r.tags.map((t) => el("option", { value: t })))));
    const head = [el("h1", null, "Diff"), el("p", { class: "note" },
      "Which calls of the second invocation reused the first's records, which ran again (and what changed in their request), and which were added or removed. Calls are matched as replay matches them: in order, else by request digest.")];
    if (!a || !b) {
      show(...head, form);
      return;
    }
    show(...head, form, el("p", { class: "note" }, "Comparing…"));
    const data = await api(`/api/diff?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`);
    if (mine !== generation) return;
    const c = data.counts;
    show(...head, form,
      el("p", { id: "diff-summary" }, objectLink(data.a), " → ", objectLink(data.b), ": ",
        `${c.reused} reused, ${c.rerun} re-run, ${c.added} added, ${c.removed} removed`),
      el("ul", { class: "diff", id: "diff" }, diffEntry(data.root)));
  }

  function answerInput(request) {
    const kind = request.answer_kind;
    const disabled = !request.can_answer;
    if (kind === "none") return null;
    if (kind === "int" || kind === "float") {
      return el("input", { name: "answer", class: "answer", inputmode: kind === "int" ? "numeric" : "decimal", disabled, "aria-label": "answer" });
    }
    return el("textarea", { name: "answer", class: "answer", disabled, "aria-label": "answer",
      placeholder: kind === "json" ? "a JSON object of the fields" : "your answer" });
  }

  async function viewInbox(mine) {
    show(el("h1", null, "Inbox"), el("p", { class: "note" }, "Loading…"));
    const data = await api("/api/inbox");
    if (mine !== generation) return;
    updateInboxCount(data.requests.length);
    const items = data.requests.map((request) => {
      const input = answerInput(request);
      const result = el("p", { class: "result", hidden: true });
      const button = el("button", { type: "submit", disabled: !request.can_answer }, "Answer and continue the run");
      const form = el("form", { class: "answer-form", onsubmit: async (e) => {
        e.preventDefault();
        button.disabled = true;
        message("");
        try {
          const done = await api("/api/answer", {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ run: request.run, invocation: request.invocation, request: request.request, answer: input ? input.value : "" }),
          });
          result.hidden = false;
          result.replaceChildren();
          append(result, [`Answered: run ${done.run} continued and is now `, stateBadge(done.state), " ", callLink(done.invocation, "open it")]);
          if (input) input.disabled = true;
          refreshInboxCount();
        } catch (err) {
          button.disabled = false;
          message(err.message);
        }
      } },
      el("label", null, "Answer (", request.requested_type ? typeNode(request.requested_type) : "?", ")", input ? el("br") : null, input),
      el("div", null, button));
      return el("div", { class: "request", "data-run": request.run },
        el("h2", null, callLink(request.invocation, request.run)),
        el("div", { class: "question" }, block(request.question)),
        el("p", { class: "note" }, "asked by call ", callLink(request.call),
          request.path.length ? ` (at ${request.path.join(" › ")} in the run)` : " (the run itself)"),
        request.why_not ? el("p", { class: "why-not" }, request.why_not) : null,
        form,
        result);
    });
    show(
      el("h1", null, "Inbox"),
      el("p", { class: "note" }, "Runs paused on a request for input. Answering continues the run (a replay: recorded calls are reused) and moves its tag to the continued run.",
        data.writable ? null : " This server is read-only: start it with --writable to answer."),
      items.length ? items : el("p", { class: "empty" }, "No run is waiting for input."),
    );
  }

  function updateInboxCount(n) {
    document.getElementById("inbox-count").textContent = n ? `(${n})` : "";
  }

  function refreshInboxCount() {
    api("/api/inbox").then((d) => updateInboxCount(d.requests.length), () => {});
  }

  // --- Routing. ---

  async function route() {
    const mine = ++generation;
    message("");
    const hash = location.hash || "#/";
    let m;
    try {
      if (hash === "#/" || hash === "#" || hash === "#/runs") await viewRuns(mine);
      else if ((m = hash.match(/^#\/call\/([0-9a-f]{64})$/))) await viewCall(mine, m[1]);
      else if ((m = hash.match(/^#\/object\/([0-9a-f]{6,64})(\/whole)?$/))) await viewObject(mine, m[1], !!m[2]);
      else if ((m = hash.match(/^#\/diff(?:\/([^/]*)\/([^/]*))?$/))) await viewDiff(mine, m[1] ? decodeURIComponent(m[1]) : "", m[2] ? decodeURIComponent(m[2]) : "");
      else if (hash === "#/inbox") await viewInbox(mine);
      else show(el("h1", null, "Not found"), el("p", null, "No page at this address. ", el("a", { href: "#/" }, "See the runs")));
    } catch (err) {
      if (mine === generation) {
        show(el("h1", null, "Error"));
        message(err.message);
      }
    }
    document.body.dataset.ready = String(mine);
  }

  async function start() {
    document.getElementById("goto").addEventListener("submit", async (e) => {
      e.preventDefault();
      const name = document.getElementById("goto-name").value.trim();
      if (!name) return;
      try {
        const found = await api("/api/lookup?name=" + encodeURIComponent(name));
        location.hash = (found.is_invocation ? "#/call/" : "#/object/") + found.digest;
      } catch (err) {
        message(err.message);
      }
    });
    window.addEventListener("hashchange", route);
    try {
      info = await api("/api/info");
      document.getElementById("store").textContent = info.store + (info.writable ? "" : " · read-only");
    } catch (err) {
      message(err.message);
    }
    refreshInboxCount();
    await route();
  }

  start();
})();
