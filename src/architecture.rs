//! Checks of the layering and of the size rules, over the source tree itself. See
//! `docs/ARCHITECTURE.md` for the layers these tests keep apart.

use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 800;
const MAX_FN_LINES: usize = 80;

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every source file as (path below `src/`, its lines without comments).
fn tree() -> Vec<(String, Vec<String>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let rel = p
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let lines = text
                .lines()
                .map(|l| l.split("//").next().unwrap_or("").to_string())
                .collect();
            (rel, lines)
        })
        .collect()
}

/// The lines of `files` below `layer` that mention any of `forbidden`.
fn violations(files: &[(String, Vec<String>)], layer: &str, forbidden: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (path, lines) in files.iter().filter(|(p, _)| p.starts_with(layer)) {
        for (n, line) in lines.iter().enumerate() {
            if let Some(word) = forbidden.iter().find(|w| line.contains(*w)) {
                found.push(format!("src/{path}:{}: {word}", n + 1));
            }
        }
    }
    found
}

#[test]
fn the_protocol_and_the_application_layer_know_no_storage_and_no_http() {
    let files = tree();
    let forbidden = ["crate::db", "diesel", "actix", "crate::http", "crate::cli"];
    for layer in ["oauth/", "domain/", "app/"] {
        let v = violations(&files, layer, &forbidden);
        assert!(v.is_empty(), "{layer} must not use storage or HTTP: {v:#?}");
    }
}

#[test]
fn front_doors_reach_storage_through_the_store_traits() {
    let files = tree();
    for layer in ["http/", "cli/"] {
        let v = violations(&files, layer, &["diesel"]);
        assert!(v.is_empty(), "{layer} must not use diesel: {v:#?}");
    }
}

/// The functions over the limit: each starts at a line `fn …` and ends at the first
/// line that is its indentation followed by `}`.
fn long_functions(path: &str, lines: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let is_fn = [
            "fn ",
            "pub fn ",
            "async fn ",
            "pub async fn ",
            "pub(crate) fn ",
        ]
        .iter()
        .any(|p| trimmed.starts_with(p))
            || trimmed.starts_with("pub(super) fn ");
        if !is_fn || trimmed.ends_with('}') {
            continue;
        }
        // A declaration without a body (in a trait) ends with `;` before any `{`.
        let head_end = lines[start..]
            .iter()
            .map(|l| l.trim_end())
            .find(|l| l.ends_with('{') || l.ends_with(';'));
        if head_end.is_none_or(|l| l.ends_with(';')) {
            continue;
        }
        let close = format!("{}}}", " ".repeat(indent));
        if let Some(len) = lines[start..].iter().position(|l| l.trim_end() == close) {
            if len + 1 > MAX_FN_LINES {
                out.push(format!("src/{path}:{}: {} lines", start + 1, len + 1));
            }
        }
    }
    out
}

#[test]
fn files_and_functions_stay_small() {
    let files = tree();
    let long_files: Vec<_> = files
        .iter()
        .filter(|(_, l)| l.len() > MAX_FILE_LINES)
        .map(|(p, l)| format!("src/{p}: {} lines", l.len()))
        .collect();
    assert!(
        long_files.is_empty(),
        "files over {MAX_FILE_LINES} lines: {long_files:#?}"
    );
    let long_fns: Vec<_> = files
        .iter()
        .flat_map(|(p, l)| long_functions(p, l))
        .collect();
    assert!(
        long_fns.is_empty(),
        "functions over {MAX_FN_LINES} lines: {long_fns:#?}"
    );
}

#[test]
fn the_checks_find_what_they_look_for() {
    let lines: Vec<String> = ["use crate::db::x;", "fn f() {", "    a();", "}"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let files = vec![("oauth/x.rs".to_string(), lines.clone())];
    assert_eq!(violations(&files, "oauth/", &["crate::db"]).len(), 1);
    assert!(violations(&files, "http/", &["crate::db"]).is_empty());
    let mut long = lines;
    long.splice(
        2..3,
        std::iter::repeat_n("    a();".to_string(), MAX_FN_LINES),
    );
    assert_eq!(long_functions("x.rs", &long).len(), 1);
}
