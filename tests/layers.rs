//! The library's layers run one way: no import cycle between its top-level modules, nor between
//! the child modules of any one module.
//!
//! The graph is read from the source: every path a module names (`use crate::a::b`,
//! `super::x`, `self::y`, a child's `name::`, inside `{...}` groups too) that leads to another
//! module of `src/` is an edge. A parent and its own children are one unit (the parent declares
//! and re-exports them; they use what it defines), so only edges between siblings and between
//! top-level modules count. Comments (doc links included) and `#[cfg(test)] mod tests` are not
//! read. `src/main.rs` and `src/cli/` are the command, not the library.
//!
//! On a cycle the test prints it with the line of every reference on it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A reference from one module to another: where it is written.
#[derive(Clone, Debug)]
struct Evidence {
    file: String,
    line: usize,
    path: String,
}

/// Module path (`object::read`; "" for the crate root) -> its file.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("dir entry").path();
            let rel = path.strip_prefix(src).expect("under src").to_path_buf();
            if rel == Path::new("cli") || rel == Path::new("main.rs") {
                continue; // the command
            }
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let mut parts: Vec<String> = rel
                    .with_extension("")
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
                    parts.pop();
                }
                out.insert(parts.join("::"), path);
            }
        }
    }
    out
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Sep, // `::`
    Open,
    Close,
    Comma,
    Other,
}

/// Tokens of `text` with their line numbers, without comments, strings or char literals, and
/// without the unit-test module (`#[cfg(test)]` followed by `mod tests`) and what follows it.
fn tokens(text: &str) -> Vec<(Tok, usize)> {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    let b = text.as_bytes();
    let (mut i, mut line) = (0, 1);
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c == b'\n' {
            line += 1;
            i += 1;
        } else if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let end = text[i + 2..].find("*/").map_or(b.len(), |k| i + 4 + k);
            line += text[i..end].matches('\n').count();
            i = end;
        } else if c == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                } else if b[i] == b'\n' {
                    line += 1;
                }
                i += 1;
            }
            i += 1;
            out.push((Tok::Other, line));
        } else if c == b'r' && (b[i..].starts_with(b"r\"") || b[i..].starts_with(b"r#")) {
            // A raw string: r"..." or r#"..."#.
            let hashes = b[i + 1..].iter().take_while(|&&h| h == b'#').count();
            let close = format!("\"{}", "#".repeat(hashes));
            let start = i + 2 + hashes;
            let end = text[start..]
                .find(&close)
                .map_or(b.len(), |k| start + k + close.len());
            line += text[i..end].matches('\n').count();
            i = end;
            out.push((Tok::Other, line));
        } else if c == b'\'' {
            // A char literal ('a', '\n', '\u{..}') or a lifetime ('a).
            let rest = &text[i + 1..];
            let plain = rest.char_indices().nth(1).filter(|&(_, ch)| ch == '\'');
            if let Some((k, _)) = plain {
                i += 1 + k + 1;
            } else if let Some(esc) = rest.strip_prefix('\\') {
                i = esc.find('\'').map_or(b.len(), |k| i + 3 + k);
            } else {
                i += 1;
            }
            out.push((Tok::Other, line));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let s = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push((Tok::Ident(text[s..i].to_owned()), line));
        } else if b[i..].starts_with(b"::") {
            out.push((Tok::Sep, line));
            i += 2;
        } else {
            out.push((
                match c {
                    b'{' => Tok::Open,
                    b'}' => Tok::Close,
                    b',' => Tok::Comma,
                    _ => Tok::Other,
                },
                line,
            ));
            i += 1;
        }
    }
    out
}

/// Every path written in `toks` (with `a::{b, c::d}` expanded), with its line.
fn paths(toks: &[(Tok, usize)]) -> Vec<(Vec<String>, usize)> {
    fn path_at(
        toks: &[(Tok, usize)],
        mut k: usize,
        prefix: &[String],
        out: &mut Vec<(Vec<String>, usize)>,
    ) -> usize {
        let mut segs = prefix.to_vec();
        let line = toks.get(k).map_or(0, |t| t.1);
        while let Some((Tok::Ident(id), _)) = toks.get(k) {
            segs.push(id.clone());
            k += 1;
            if toks.get(k).map(|t| &t.0) != Some(&Tok::Sep) {
                break;
            }
            k += 1;
            if toks.get(k).map(|t| &t.0) == Some(&Tok::Open) {
                // A group: each item continues the path.
                k += 1;
                while k < toks.len() && toks[k].0 != Tok::Close {
                    if matches!(toks[k].0, Tok::Ident(_)) {
                        k = path_at(toks, k, &segs, out);
                    } else {
                        k += 1;
                    }
                }
                return k + 1;
            }
        }
        if segs.len() > prefix.len() {
            out.push((segs, line));
        }
        k
    }
    let mut out = Vec::new();
    let mut k = 0;
    while k < toks.len() {
        let starts_path = matches!(toks[k].0, Tok::Ident(_))
            && (k == 0 || toks[k - 1].0 != Tok::Sep)
            && toks.get(k + 1).map(|t| &t.0) == Some(&Tok::Sep);
        if starts_path {
            k = path_at(toks, k, &[], &mut out);
        } else {
            k += 1;
        }
    }
    out
}

/// The module a path written in module `from` leads to, if it is another module of the crate.
fn resolve(mods: &BTreeMap<String, PathBuf>, from: &str, path: &[String]) -> Option<String> {
    let mut base: Vec<&str> = if from.is_empty() {
        Vec::new()
    } else {
        from.split("::").collect()
    };
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some("self") => rest = &rest[1..],
        Some("super") => {
            while rest.first().map(String::as_str) == Some("super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        _ => {} // a child module's name, or anything else (std, a crate, a type)
    }
    let mut found = None;
    let mut cur = base.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    for seg in rest {
        cur.push(seg.clone());
        let name = cur.join("::");
        if mods.contains_key(&name) {
            found = Some(name);
        } else {
            break;
        }
    }
    found.filter(|m| m != from)
}

type Graph = BTreeMap<String, BTreeMap<String, Evidence>>;

/// The top-level graph and the sibling graph of the library under `src`.
fn graphs(src: &Path) -> (Graph, Graph) {
    let mods = modules(src);
    let (mut top, mut sib) = (Graph::new(), Graph::new());
    for (m, file) in &mods {
        let text = std::fs::read_to_string(file).expect("read module");
        for (path, line) in paths(&tokens(&text)) {
            let Some(d) = resolve(&mods, m, &path) else {
                continue;
            };
            let ev = Evidence {
                file: file.strip_prefix(src).unwrap_or(file).display().to_string(),
                line,
                path: path.join("::"),
            };
            let a: Vec<&str> = m.split("::").collect();
            let b: Vec<&str> = d.split("::").collect();
            if m.is_empty() {
                continue; // the crate root declares and re-exports everything
            }
            if a[0] != b[0] {
                top.entry(a[0].to_owned())
                    .or_default()
                    .entry(b[0].to_owned())
                    .or_insert(ev.clone());
            }
            let k = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
            if k > 0 && k < a.len() && k < b.len() {
                sib.entry(a[..=k].join("::"))
                    .or_default()
                    .entry(b[..=k].join("::"))
                    .or_insert(ev);
            }
        }
    }
    (top, sib)
}

/// The cycles of `g`: its strongly connected components of more than one node.
fn cycles(g: &Graph) -> Vec<Vec<String>> {
    // Kosaraju: order by finish time, then walk the reversed graph.
    let nodes: BTreeSet<&String> = g.keys().chain(g.values().flat_map(|e| e.keys())).collect();
    let mut seen = BTreeSet::new();
    let mut order = Vec::new();
    for &n in &nodes {
        let mut stack = vec![(n, false)];
        while let Some((v, done)) = stack.pop() {
            if done {
                order.push(v);
                continue;
            }
            if !seen.insert(v) {
                continue;
            }
            stack.push((v, true));
            for w in g.get(v).into_iter().flat_map(|e| e.keys()) {
                if !seen.contains(w) {
                    stack.push((w, false));
                }
            }
        }
    }
    let mut rev: BTreeMap<&String, Vec<&String>> = BTreeMap::new();
    for (a, es) in g {
        for b in es.keys() {
            rev.entry(b).or_default().push(a);
        }
    }
    let mut assigned = BTreeSet::new();
    let mut out = Vec::new();
    for &v in order.iter().rev() {
        if assigned.contains(v) {
            continue;
        }
        let mut comp = Vec::new();
        let mut stack = vec![v];
        assigned.insert(v);
        while let Some(x) = stack.pop() {
            comp.push(x.clone());
            for &y in rev.get(x).into_iter().flatten() {
                if assigned.insert(y) {
                    stack.push(y);
                }
            }
        }
        if comp.len() > 1 {
            comp.sort();
            out.push(comp);
        }
    }
    out
}

/// The cycles of `g` with the references that make them, one per line.
fn report(g: &Graph) -> String {
    let mut s = String::new();
    for comp in cycles(g) {
        s.push_str(&format!("cycle: {}\n", comp.join(", ")));
        for a in &comp {
            for (b, ev) in g.get(a).into_iter().flatten() {
                if comp.contains(b) {
                    s.push_str(&format!(
                        "  {a} -> {b}: src/{}:{} `{}`\n",
                        ev.file, ev.line, ev.path
                    ));
                }
            }
        }
    }
    s
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_import_cycle_between_top_level_modules() {
    let (top, _) = graphs(&src());
    // The graph was read: the loader reaches the syscall layer, the assembler the program model.
    assert!(top["load"].contains_key("sys"), "{top:#?}");
    assert!(top["text"].contains_key("program"), "{top:#?}");
    let r = report(&top);
    assert!(
        r.is_empty(),
        "import cycles between top-level modules:\n{r}"
    );
}

#[test]
fn no_import_cycle_between_sibling_modules() {
    let (_, sib) = graphs(&src());
    assert!(
        sib["object::write"].contains_key("object::layout"),
        "{sib:#?}"
    );
    let r = report(&sib);
    assert!(r.is_empty(), "import cycles between sibling modules:\n{r}");
}

/// The syscall layer stands on the ABI records alone; the instruction and ABI layers on
/// nothing above them.
#[test]
fn the_low_layers_need_nothing_above_them() {
    let (top, _) = graphs(&src());
    let deps = |m: &str| -> Vec<String> {
        top.get(m)
            .map(|e| e.keys().cloned().collect())
            .unwrap_or_default()
    };
    assert_eq!(deps("sys"), ["abi"], "sys: {:#?}", top.get("sys"));
    assert_eq!(deps("abi"), Vec::<String>::new());
    assert_eq!(deps("diag"), Vec::<String>::new());
    for m in ["insn", "helpers", "maps"] {
        for d in deps(m) {
            assert!(
                ["abi", "helpers", "insn"].contains(&d.as_str()),
                "{m} -> {d}: {:?}",
                top[m][&d]
            );
        }
    }
}

/// The library names no command-line crate and no module of the command.
#[test]
fn the_library_holds_no_command_code() {
    for (m, file) in modules(&src()) {
        let text = std::fs::read_to_string(&file).expect("read");
        for (path, line) in paths(&tokens(&text)) {
            let first = path[0].as_str();
            assert!(
                first != "clap" && !(first == "crate" && path.get(1).is_some_and(|p| p == "cli")),
                "module {m} ({}:{line}) names `{}`",
                file.display(),
                path.join("::")
            );
        }
    }
}

/// The checker finds a cycle where there is one (so the tests above can fail): two modules
/// that name each other, through a `super::{...}` group and a `crate::` path.
#[test]
fn the_checker_sees_a_planted_cycle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path();
    std::fs::create_dir(src.join("a")).expect("mkdir");
    std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\n").expect("write");
    std::fs::write(src.join("a/mod.rs"), "mod x;\nmod y;\n").expect("write");
    // "crate::b" in a comment and a string is no reference.
    std::fs::write(
        src.join("a/x.rs"),
        "// crate::b\nuse super::{y::Thing, other};\nconst S: &str = \"crate::b::q\";\nconst C: char = 'é';\n",
    )
    .expect("write");
    std::fs::write(
        src.join("a/y.rs"),
        "fn f() { crate::a::x::g(); crate::b::h(); }\n",
    )
    .expect("write");
    std::fs::write(src.join("b.rs"), "use crate::a::y;\n").expect("write");
    let (top, sib) = graphs(src);
    assert_eq!(cycles(&top), [["a", "b"]]);
    assert_eq!(cycles(&sib), [["a::x", "a::y"]]);
    let r = report(&sib);
    assert!(
        r.contains("a::x -> a::y: src/a/x.rs:2 `super::y::Thing`"),
        "{r}"
    );
    assert!(
        !top["a"].values().any(|e| e.file.ends_with("x.rs")),
        "{top:#?}"
    );
}
