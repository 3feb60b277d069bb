//! The verifier log as one self-contained HTML page: inline CSS and JavaScript, no network
//! request, no other file.
//!
//! The page shows the error (with its explanation, the failing instruction's source line and
//! where each of its operands came from), the path and the stats at the top, then the whole
//! log with the source line above each instruction, the failing instruction highlighted and the
//! records of the failing path marked. Clicking an instruction (or moving with the arrow keys or
//! `j`/`k`) shows the whole state after it in a side panel: every register and stack slot, what
//! the instruction set, and for each value the instruction that gave it (a link to that line).
//! A checkbox hides everything but the failing path. `page.html#r12` opens with log record 12
//! selected, `page.html?pathonly` with the path alone.
//!
//! ```
//! use bpfsmith::verifier::{render_html, SourceMap, VerifierLog};
//!
//! let log = VerifierLog::parse("0: R1=ctx() R10=fp0\n0: (bf) r0 = r10 ; R0=fp0\n1: (95) exit\nAt program exit the register R0 has smin=0 should have been in [0, 1]\n");
//! let page = render_html(&log, &SourceMap::from_log_only(&log), "exit with a pointer");
//! assert!(page.starts_with("<!DOCTYPE html>"));
//! assert!(page.contains(r#"id="error""#));
//! assert!(!page.contains("http://") && !page.contains("https://"));
//! ```

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write;

use serde_json::Value;

use crate::explain::match_messages;
use crate::program::Program;

use super::source_map::{SourceInfo, SourceMap};
use super::trace::{walk_log, Trace};
use super::view::{failing_insn, operands, path_summary, stats_line, OperandReport, OriginKind};
use super::{Kind, Verdict, VerifierLog};

/// The most instruction records whose whole state the page carries (beyond it, a record shows
/// the state the log printed on its line).
const MAX_STATES: usize = 5000;

/// `text` escaped for HTML text and attribute values.
fn esc(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&#39;"),
            c => s.push(c),
        }
    }
    s
}

/// `value` as JSON text that is also safe inside a `<script>` element: serde_json's text with
/// `<`, `>` and `&` written as `\u` escapes (outside strings JSON has none of them, inside a
/// string the escape is the same character), so no `</script>` can close the element early.
fn script_json(value: &serde_json::Value) -> String {
    let text = value.to_string();
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => s.push_str("\\u003c"),
            '>' => s.push_str("\\u003e"),
            '&' => s.push_str("\\u0026"),
            c => s.push(c),
        }
    }
    s
}

const CSS: &str = r#"
:root { --bg:#fdfdfb; --fg:#1d1f21; --dim:#6a737d; --src:#22863a; --err:#b31d28; --errbg:#ffeef0;
  --path:#0366d6; --sel:#fff5b1; --line:#e1e4e8; --set:#005cc5; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg); font:14px/1.45 system-ui, sans-serif; }
code, .mono, #log, #state { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size:13px; }
header { padding:12px 18px; border-bottom:1px solid var(--line); }
h1 { font-size:18px; margin:0 0 8px 0; }
h2 { font-size:15px; margin:0 0 6px 0; }
#error { background:var(--errbg); border:1px solid #f5c2c7; border-radius:6px; padding:10px 14px; margin:8px 0; }
#error .msg { color:var(--err); font-weight:bold; font-family: ui-monospace, monospace; white-space:pre-wrap; }
#accepted { background:#e6ffed; border:1px solid #acf2bd; border-radius:6px; padding:10px 14px; margin:8px 0; }
dl.explain { display:grid; grid-template-columns:max-content 1fr; gap:2px 12px; margin:8px 0; }
dl.explain dt { font-weight:bold; }
dl.explain dd { margin:0; }
.at { margin-top:6px; }
.srcline { color:var(--src); }
.ops { margin:6px 0 0 0; padding:0; list-style:none; }
.ops li { margin:3px 0; }
.ops .origin { color:var(--dim); margin-left:2em; display:block; }
#path, #stats { margin:4px 0; }
#path b, #stats b { display:inline-block; min-width:3.5em; }
.controls { margin-top:6px; color:var(--dim); }
main { display:grid; grid-template-columns: minmax(0, 3fr) minmax(300px, 2fr); gap:0; }
#log { padding:8px 0 40px 0; overflow-x:auto; border-right:1px solid var(--line); }
#log > div { white-space:pre; padding:0 12px 0 8px; border-left:3px solid transparent; }
#log .src { color:var(--src); }
#log .branch { color:var(--path); margin-top:6px; }
#log .other { color:var(--dim); }
#log .errline { color:var(--err); font-weight:bold; }
#log .insn { cursor:pointer; }
#log .insn:hover { background:#f1f8ff; }
#log .onpath { border-left-color:var(--path); }
#log .failing { background:var(--errbg); border-left-color:var(--err); }
#log .selected { background:var(--sel) !important; }
#log .slot { color:var(--dim); }
#log .delta { color:var(--dim); }
body.pathonly #log > div:not(.onpath):not(.errline) { display:none; }
#state { position:sticky; top:0; align-self:start; max-height:100vh; overflow:auto; padding:10px 14px; }
#state .entry { border-bottom:1px solid var(--line); padding:3px 0; overflow-wrap:anywhere; }
#state .entry .name { font-weight:bold; display:inline-block; min-width:3.5em; }
#state .entry.set .name, #state .entry.set .value { color:var(--set); }
#state .entry .origin { color:var(--dim); margin-left:3.5em; }
#state .note { color:var(--dim); margin:4px 0 8px 0; white-space:pre-wrap; }
a { color:var(--path); text-decoration:none; }
a:hover { text-decoration:underline; }
#js-errors { color:var(--err); }
"#;

const JS: &str = r##"
"use strict";
(function () {
  var errors = document.getElementById("js-errors");
  window.addEventListener("error", function (e) {
    errors.hidden = false;
    errors.textContent += "script error: " + e.message + "\n";
  });
  var data = JSON.parse(document.getElementById("data").textContent);
  var panel = document.getElementById("state-body");
  var title = document.getElementById("state-title");
  var insns = Array.prototype.slice.call(document.querySelectorAll("#log .insn"));
  var selected = null;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function describe(rec) {
    var line = document.getElementById("r" + rec);
    if (!line) { return { text: "log line " + (rec + 1), src: "" }; }
    return { text: line.getAttribute("data-label") || line.textContent.trim(),
             src: line.getAttribute("data-src") || "" };
  }
  function link(rec, prefix) {
    var d = describe(rec);
    var a = el("a", null, prefix + d.text);
    a.href = "#r" + rec;
    a.addEventListener("click", function (ev) { ev.preventDefault(); select(document.getElementById("r" + rec), true); });
    var span = el("span");
    span.appendChild(a);
    if (d.src) { span.appendChild(el("span", "srcline", "  " + d.src)); }
    return span;
  }
  function show(line) {
    var rec = line.getAttribute("data-rec");
    var failing = line.classList.contains("failing");
    title.textContent = (failing ? "State before " : "State after ") + (line.getAttribute("data-label") || "");
    panel.textContent = "";
    if (line.getAttribute("data-src")) {
      panel.appendChild(el("div", "note srcline", line.getAttribute("data-src")));
    }
    var st = data.states[rec];
    if (!st) {
      panel.appendChild(el("div", "note", "The log printed: " + (line.getAttribute("data-delta") || "(no state)")));
      return;
    }
    if (failing) {
      panel.appendChild(el("div", "note", "The verifier refused this instruction; this is what it knew before it."));
    }
    var list = el("div", "entries");
    st.forEach(function (e) {
      var row = el("div", e[4] ? "entry set" : "entry");
      row.appendChild(el("span", "name", e[0]));
      row.appendChild(el("span", "value", e[1]));
      var o = el("div", "origin");
      if (e[2] !== null) { o.appendChild(link(e[2], e[4] && e[3] === null ? "set here: " : "set at ")); }
      else { o.appendChild(el("span", null, "set at program entry")); }
      if (e[3] !== null) { o.appendChild(el("br")); o.appendChild(link(e[3], "narrowed by ")); }
      row.appendChild(o);
      list.appendChild(row);
    });
    panel.appendChild(list);
  }
  function select(line, scroll) {
    if (!line) { return; }
    if (selected) { selected.classList.remove("selected"); }
    selected = line;
    line.classList.add("selected");
    show(line);
    if (scroll) { line.scrollIntoView({ block: "center" }); }
  }
  insns.forEach(function (line) {
    line.addEventListener("click", function () { select(line, false); });
  });
  document.addEventListener("keydown", function (ev) {
    if (!selected) { return; }
    var visible = insns.filter(function (l) { return l.offsetParent !== null; });
    var i = visible.indexOf(selected);
    if (ev.key === "ArrowDown" || ev.key === "j") { select(visible[Math.min(i + 1, visible.length - 1)], true); ev.preventDefault(); }
    if (ev.key === "ArrowUp" || ev.key === "k") { select(visible[Math.max(i - 1, 0)], true); ev.preventDefault(); }
  });
  var toggle = document.getElementById("only-path");
  if (toggle) {
    toggle.addEventListener("change", function () {
      document.body.classList.toggle("pathonly", toggle.checked);
      if (selected) { selected.scrollIntoView({ block: "center" }); }
    });
  }
  // `page.html#r12` selects log record 12; `page.html?pathonly` starts on the path alone.
  var wanted = /^#r\d+$/.test(location.hash) ? document.getElementById(location.hash.slice(1)) : null;
  if (wanted && !wanted.classList.contains("insn")) { wanted = null; }
  if (toggle && /(^|[?&])pathonly\b/.test(location.search)) {
    toggle.checked = true;
    document.body.classList.add("pathonly");
  }
  var first = wanted || document.querySelector("#log .failing") || insns[0];
  select(first, wanted !== null);
  document.body.setAttribute("data-ready", "1");
})();
"##;

/// One state entry for the page: name, value, origin record (`None`: program entry),
/// narrowing record, whether record `at` set it.
fn state_json(log: &VerifierLog<'_>, t: &Trace<'_>, at: usize, first_insn: usize) -> Value {
    let Some(f) = t.current() else {
        return Value::Array(Vec::new());
    };
    // A state line before the first instruction is the program's entry state.
    let entry_rec = |r: usize| -> Value {
        let entry = r < first_insn
            && matches!(
                log.records().get(r).map(|x| x.kind),
                Some(Kind::State { .. })
            );
        if entry {
            Value::Null
        } else {
            r.into()
        }
    };
    let mut items = Vec::new();
    let mut push = |name: String, raw: &str, o: super::trace::Origin| {
        let value = raw.split_once('=').map_or(raw, |(_, v)| v);
        let narrowed = o.narrowed.map_or(Value::Null, Value::from);
        let set = o.record == at || o.narrowed == Some(at);
        items.push(Value::Array(vec![
            name.into(),
            value.into(),
            entry_rec(o.record),
            narrowed,
            set.into(),
        ]));
    };
    for (n, r) in f.regs.iter().enumerate() {
        if let Some(r) = r {
            push(format!("r{n}"), r.state.raw, r.origin);
        }
    }
    for s in &f.slots {
        push(format!("fp{}", s.state.off), s.state.raw, s.origin);
    }
    Value::Array(items)
}

fn write_operand(out: &mut String, op: &OperandReport) {
    let name = if op.role.is_empty() {
        op.name.clone()
    } else {
        format!("{} ({})", op.name, op.role)
    };
    let _ = write!(out, "<li><code><b>{}</b>", esc(&name));
    match &op.value {
        Some(v) => {
            let _ = write!(out, " = {}</code> — {}", esc(v), esc(&op.meaning));
        }
        None => {
            let _ = write!(out, "</code>: {}", esc(&op.meaning));
        }
    }
    for o in &op.origin {
        let head = esc(&o.headline());
        let head = match o.record {
            Some(r) if o.kind != OriginKind::Entry => format!("<a href=\"#r{r}\">{head}</a>"),
            _ => head,
        };
        let src = o
            .source
            .as_ref()
            .map(|s| {
                format!(
                    " <span class=\"srcline\">{} {}</span>",
                    esc(&s.location()),
                    esc(s.text.as_deref().unwrap_or(""))
                )
            })
            .unwrap_or_default();
        let _ = write!(out, "<span class=\"origin\">{head}{src}</span>");
    }
    out.push_str("</li>\n");
}

fn source_text(s: &SourceInfo) -> String {
    s.comment(false)
}

/// The log as one self-contained HTML page titled `title`. See the [module docs](self).
pub fn render_html(log: &VerifierLog<'_>, map: &SourceMap, title: &str) -> String {
    let mut out = String::with_capacity(log.text().len() * 3 + 16 * 1024);
    let err = log.error();
    let failing = err.as_ref().and_then(|e| failing_insn(log, e));
    let failing_record = failing.and_then(|f| f.1);
    let on_path: HashSet<usize> = log.path().into_iter().collect();

    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<header>\n<h1>{}</h1>\n",
        esc(title),
        esc(title)
    );

    // The error, or the acceptance.
    match &err {
        Some(e) => {
            out.push_str("<section id=\"error\">\n");
            let _ = writeln!(out, "<div class=\"msg\">{}</div>", esc(&e.message()));
            if let Some(m) = match_messages(e.headline()).first() {
                let _ = writeln!(
                    out,
                    "<dl class=\"explain\"><dt>what it means</dt><dd>{}</dd>\
                     <dt>usual cause</dt><dd>{}</dd><dt>fix</dt><dd>{}</dd></dl>",
                    esc(m.meaning),
                    esc(m.cause),
                    esc(m.fix)
                );
            }
            if let Some((slot, record)) = failing {
                let text = map
                    .get(slot)
                    .map(|m| m.text.clone())
                    .or_else(|| {
                        record.and_then(|r| match log.records()[r].kind {
                            Kind::Insn(l) => Some(format!("({:02x}) {}", l.opcode, l.text)),
                            _ => None,
                        })
                    })
                    .unwrap_or_default();
                let target = record.map(|r| format!("#r{r}")).unwrap_or_default();
                let _ = write!(
                    out,
                    "<div class=\"at\">at <a href=\"{target}\"><code>{slot}: {}</code></a>",
                    esc(&text)
                );
                if let Some(src) = map.source(slot) {
                    let _ = write!(
                        out,
                        " — <code>{}</code> <code class=\"srcline\">{}</code>",
                        esc(&src.location()),
                        esc(src.text.as_deref().unwrap_or(""))
                    );
                }
                out.push_str("</div>\n");
                let ops = operands(log, map, slot);
                if !ops.is_empty() {
                    out.push_str("<div>What it uses, and where each value came from on this path:</div>\n<ul class=\"ops\">\n");
                    for op in &ops {
                        write_operand(&mut out, op);
                    }
                    out.push_str("</ul>\n");
                }
            }
            out.push_str("</section>\n");
        }
        None if log.verdict() == Verdict::NotALog => {
            out.push_str(
                "<section id=\"error\"><div class=\"msg\">Not a verifier log: no line of \
                 it is one the verifier writes.</div></section>\n",
            );
        }
        None if log.verdict() == Verdict::Truncated => {
            out.push_str(
                "<section id=\"error\"><div class=\"msg\">Truncated: the log ends before \
                 the verifier's verdict (no <code>processed N insns</code> footer), so it tells \
                 neither acceptance nor refusal.</div></section>\n",
            );
        }
        None => {
            let _ = writeln!(
                out,
                "<section id=\"accepted\">The verifier accepted the program.{}</section>",
                if log.insns().next().is_none() {
                    " This log shows no instructions: load with log level 2 to see each one."
                } else {
                    ""
                }
            );
        }
    }
    let end = if err.is_some() { "✗" } else { "" };
    let summary = path_summary(log, end);
    if !summary.is_empty() {
        let _ = writeln!(
            out,
            "<div id=\"path\"><b>path</b> <code>{}</code></div>",
            esc(&summary)
        );
    }
    let _ = writeln!(
        out,
        "<div id=\"stats\"><b>stats</b> {}</div>",
        esc(&stats_line(&log.stats()))
    );
    let _ = writeln!(
        out,
        "<div class=\"controls\"><label><input type=\"checkbox\" id=\"only-path\"> show only the {} path</label> · click an instruction for the state after it · ↑/↓ or j/k to move</div>",
        if err.is_some() { "failing" } else { "last explored" }
    );
    out.push_str("</header>\n<main>\n<section id=\"log\">\n");

    // The log, with source lines, and the states after each instruction.
    let mut states: BTreeMap<usize, Value> = BTreeMap::new();
    let mut count = 0usize;
    let first_insn = log.insns().next().map_or(usize::MAX, |(i, _)| i);
    walk_log(log, |i, t| {
        if matches!(log.records()[i].kind, Kind::Insn(_)) && count < MAX_STATES {
            count += 1;
            states.insert(i, state_json(log, t, i, first_insn));
        }
    });
    if let Some(f) = failing {
        if let (Some(r), Some(t)) = (f.1, super::trace::trace_before(log, f.0)) {
            states.insert(r, state_json(log, &t, usize::MAX, first_insn));
        }
    }
    let mut last: Option<SourceInfo> = None;
    for (i, r) in log.records().iter().enumerate() {
        let path_cls = if on_path.contains(&i) { " onpath" } else { "" };
        match r.kind {
            Kind::Source(s) => {
                last = Some(SourceInfo {
                    file: s.file.unwrap_or("").to_owned(),
                    line: s.line,
                    column: None,
                    text: Some(s.text.trim().to_owned()),
                });
                let _ = writeln!(out, "<div class=\"src{path_cls}\">{}</div>", esc(r.raw));
            }
            Kind::Insn(l) => {
                let src = map.source(l.insn);
                if let Some(src) = src {
                    let shown = last.as_ref().is_some_and(|p| {
                        p.line == src.line
                            && p.file.rsplit('/').next() == src.file.rsplit('/').next()
                    });
                    if !shown {
                        let _ = writeln!(
                            out,
                            "<div class=\"src{path_cls}\">{}</div>",
                            esc(&source_text(src))
                        );
                        last = Some(src.clone());
                    }
                }
                let fail_cls = if Some(i) == failing_record {
                    " failing"
                } else {
                    ""
                };
                let text = map
                    .get(l.insn)
                    .filter(|m| m.index.is_some())
                    .map(|m| m.text.clone())
                    .unwrap_or_else(|| format!("({:02x}) {}", l.opcode, l.text));
                let label = format!("{}: {}", l.insn, text);
                let src_attr = src
                    .map(|s| format!("{} {}", s.location(), s.text.as_deref().unwrap_or("")))
                    .unwrap_or_default();
                let delta = if l.state.is_empty() {
                    String::new()
                } else {
                    format!(" <span class=\"delta\">; {}</span>", esc(l.state.as_str()))
                };
                let glued = l
                    .glued_target
                    .map(|t| format!(" <span class=\"delta\">(then at {t})</span>"))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "<div class=\"insn{path_cls}{fail_cls}\" id=\"r{i}\" data-rec=\"{i}\" data-slot=\"{}\" data-label=\"{}\" data-src=\"{}\" data-delta=\"{}\"><span class=\"slot\">{:>4}:</span> {}{glued}{delta}</div>",
                    l.insn,
                    esc(&label),
                    esc(&src_attr),
                    esc(l.state.as_str()),
                    l.insn,
                    esc(&format!("({:02x}) {}", l.opcode, l.text))
                );
            }
            Kind::Branch { .. } => {
                last = None;
                let _ = writeln!(
                    out,
                    "<div class=\"branch{path_cls}\" id=\"r{i}\" data-label=\"{}\">{}</div>",
                    esc(r.raw.split(':').next().unwrap_or(r.raw)),
                    esc(r.raw)
                );
            }
            Kind::Error(_) | Kind::Glued { .. } => {
                let _ = writeln!(out, "<div class=\"errline\">{}</div>", esc(r.raw));
            }
            Kind::State { .. } | Kind::FrameHeader(_) | Kind::FrameState(_) => {
                let _ = writeln!(
                    out,
                    "<div class=\"other{path_cls}\" id=\"r{i}\">{}</div>",
                    esc(r.raw)
                );
            }
            _ => {
                let _ = writeln!(out, "<div class=\"other\" id=\"r{i}\">{}</div>", esc(r.raw));
            }
        }
    }
    out.push_str(
        "</section>\n<aside id=\"state\">\n<h2 id=\"state-title\">State</h2>\n<div id=\"state-body\"></div>\n</aside>\n</main>\n<pre id=\"js-errors\" hidden></pre>\n",
    );

    // The data, then the script.
    let states: serde_json::Map<String, Value> = states
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let mut data = serde_json::Map::new();
    data.insert("states".to_owned(), Value::Object(states));
    out.push_str("<script type=\"application/json\" id=\"data\">");
    out.push_str(&script_json(&Value::Object(data)));
    out.push_str("</script>\n<script>");
    out.push_str(JS);
    out.push_str("</script>\n</body>\n</html>\n");
    out
}

/// The page of a log given as text, joined to `program`'s source lines when given (else the
/// log's own annotations): [`render_html`] over [`SourceMap::new`].
pub fn render_log_html(text: &str, program: Option<&Program>, title: &str) -> String {
    let log = VerifierLog::parse(text);
    let map = SourceMap::new(&log, program);
    render_html(&log, &map, title)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(
            script_json(&Value::from("a\"b\\</script>\n&")),
            r#""a\"b\\\u003c/script\u003e\n\u0026""#
        );
    }

    #[test]
    fn a_page_for_a_refused_and_an_accepted_log() {
        let text = "\
0: R1=ctx() R10=fp0
; r1 = 0 @ p.s:5
1: (b7) r1 = 0                        ; R1=0
; call 87 @ p.s:9
5: (85) call bpf_map_push_elem#87
R1 type=scalar expected=map_ptr
processed 6 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
";
        let log = VerifierLog::parse(text);
        let page = render_html(&log, &SourceMap::from_log_only(&log), "t </title>");
        assert!(page.contains("<title>t &lt;/title&gt;</title>"));
        assert!(page.contains("class=\"insn onpath failing\" id=\"r4\""));
        assert!(page.contains("R1 type=scalar expected=map_ptr"));
        assert!(page.contains("\"2\":[[\"r1\",\"0\",2,null,true]"));
        // No external resource of any kind.
        for bad in [
            "http:", "https:", " src=", "<link", "@import", "url(", "<iframe", "<img",
        ] {
            assert!(!page.contains(bad), "{bad}");
        }
        let ok = VerifierLog::parse("processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n");
        let page = render_html(&ok, &SourceMap::from_log_only(&ok), "ok");
        assert!(page.contains("id=\"accepted\""));
    }
}
