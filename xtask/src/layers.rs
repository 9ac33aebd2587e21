//! The layering of the code: which file of a crate imports which other
//! (`use crate::…`, `super::…`, paths to a child module, each resolved
//! through re-exports to the file that defines the item), and the cycles
//! among them. `cargo xtask layers` prints the edges per crate; a test
//! keeps every crate free of cycles: no file imports one that imports it
//! back, directly or in a loop.
//!
//! It reads the source as text: comments and test modules are left out,
//! a `pub use` is followed to where its name is defined, and a path that
//! names no file of the crate (another crate's, the standard library's)
//! is not an edge.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The files of one crate and the edges between them, by module path
/// (`""` for the crate root, `rooms::actor` for `src/rooms/actor/mod.rs`).
#[derive(Debug, Default)]
pub struct CrateGraph {
    /// The crate's `src` folder.
    pub src: PathBuf,
    /// Every module, and its file.
    pub modules: BTreeMap<String, PathBuf>,
    /// Which modules each module imports.
    pub edges: BTreeMap<String, BTreeSet<String>>,
}

/// The graph of every crate of the workspace at `root` (every `src`
/// folder beside a `Cargo.toml`, outside `target` and `fuzz`).
///
/// # Errors
/// When a folder or file cannot be read.
pub fn workspace_graphs(root: &Path) -> std::io::Result<Vec<CrateGraph>> {
    let mut sources = Vec::new();
    find_sources(root, &mut sources)?;
    sources.sort();
    sources.iter().map(|src| crate_graph(src)).collect()
}

fn find_sources(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if !path.is_dir()
            || name.starts_with('.')
            || ["target", "fuzz", "node_modules"].contains(&name)
        {
            continue;
        }
        if name == "src" && dir.join("Cargo.toml").is_file() {
            found.push(path);
        } else {
            find_sources(&path, found)?;
        }
    }
    Ok(())
}

/// The graph of the crate whose sources are in `src`.
///
/// # Errors
/// When a file cannot be read.
pub fn crate_graph(src: &Path) -> std::io::Result<CrateGraph> {
    let mut graph = CrateGraph { src: src.to_owned(), ..CrateGraph::default() };
    collect_modules(src, src, &mut graph.modules)?;
    let mut code = BTreeMap::new();
    for (module, file) in &graph.modules {
        code.insert(module.clone(), strip(&std::fs::read_to_string(file)?));
    }
    let reexports = reexports(&code, &graph.modules);
    for (module, text) in &code {
        let mut targets = BTreeSet::new();
        for path in references(module, text) {
            if let Some(target) = resolve(&path, &graph.modules, &reexports)
                && target != *module
            {
                targets.insert(target);
            }
        }
        graph.edges.insert(module.clone(), targets);
    }
    Ok(graph)
}

fn collect_modules(
    src: &Path,
    dir: &Path,
    modules: &mut BTreeMap<String, PathBuf>,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            if dir == src && path.file_name().is_some_and(|n| n == "bin") {
                continue;
            }
            collect_modules(src, &path, modules)?;
            continue;
        }
        if path.extension().is_none_or(|ext| ext != "rs") {
            continue;
        }
        let relative = path.strip_prefix(src).unwrap_or(&path).with_extension("");
        let mut parts: Vec<String> =
            relative.iter().map(|part| part.to_string_lossy().into_owned()).collect();
        if parts.last().is_some_and(|last| ["mod", "lib", "main"].contains(&last.as_str())) {
            parts.pop();
        }
        modules.insert(parts.join("::"), path);
    }
    Ok(())
}

/// The code without comments and without what follows `#[cfg(test)]`
/// (test modules come last in this project's files).
fn strip(text: &str) -> String {
    let text = match text.find("#[cfg(test)]") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|line| {
            let code = line.trim_start();
            if code.starts_with("//") { "" } else { line }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `(module, name)` → the path a `pub use` in `module` gives `name`, made
/// absolute (empty for a re-export of another crate).
fn reexports(
    code: &BTreeMap<String, String>,
    modules: &BTreeMap<String, PathBuf>,
) -> BTreeMap<(String, String), Vec<String>> {
    let mut found = BTreeMap::new();
    for (module, text) in code {
        let children = child_modules(text);
        for statement in statements(text, &["pub use ", "pub(crate) use "]) {
            for (path, name) in use_items(&statement) {
                let absolute = absolute(module, &path, &children)
                    .filter(|path| resolve_prefix(path, modules).is_some())
                    .unwrap_or_default();
                found.insert((module.clone(), name), absolute);
            }
        }
    }
    found
}

/// The text of every statement that starts with one of `starts`, to its
/// `;`, with white space collapsed.
fn statements(text: &str, starts: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for start in starts {
        let mut rest = text;
        while let Some(at) = rest.find(start) {
            let before = rest[..at].chars().next_back();
            let after = &rest[at + start.len()..];
            let Some(end) = after.find(';') else { break };
            if before.is_none_or(|c| c.is_whitespace()) {
                found.push(after[..end].split_whitespace().collect::<Vec<_>>().join(" "));
            }
            rest = &after[end..];
        }
    }
    found
}

/// The (path, name) of each item of a `use` statement's tree, one level
/// of braces deep: `a::{b, c as d}` gives `a::b` named `b` and `a::c`
/// named `d`.
fn use_items(statement: &str) -> Vec<(Vec<String>, String)> {
    let compact: String =
        statement.replace(" as ", "@").chars().filter(|c| !c.is_whitespace()).collect();
    let (prefix, items) = match compact.split_once("::{") {
        Some((prefix, items)) => (prefix.to_owned(), items.trim_end_matches('}').to_owned()),
        None => (String::new(), compact),
    };
    items
        .split(',')
        .filter(|item| !item.is_empty() && *item != "self")
        .map(|item| {
            let (path, name) = item.split_once('@').unwrap_or((item, ""));
            let mut full: Vec<String> = prefix
                .split("::")
                .chain(path.split("::"))
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect();
            let name = if name.is_empty() {
                full.last().cloned().unwrap_or_default()
            } else {
                name.to_owned()
            };
            full.retain(|part| !part.contains('{') && !part.contains('}'));
            (full, name)
        })
        .collect()
}

/// Modules `text` declares (`mod name;`).
fn child_modules(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let line =
                line.strip_prefix("pub(crate) ").or(line.strip_prefix("pub ")).unwrap_or(line);
            line.strip_prefix("mod ")?.strip_suffix(';').map(str::to_owned)
        })
        .collect()
}

/// `path` made absolute from `module`: `crate::a` is `a`, `super::b` the
/// sibling `b`, `self::c` or a child's name `c` inside `module`; `None`
/// for a path that starts anywhere else.
fn absolute(module: &str, path: &[String], children: &BTreeSet<String>) -> Option<Vec<String>> {
    let base: Vec<String> = if module.is_empty() {
        Vec::new()
    } else {
        module.split("::").map(str::to_owned).collect()
    };
    let first = path.first()?;
    match first.as_str() {
        "crate" => Some(path[1..].to_vec()),
        "self" => Some(base.into_iter().chain(path[1..].iter().cloned()).collect()),
        "super" => {
            let mut up = base;
            let mut rest = path;
            while rest.first().is_some_and(|part| part == "super") {
                up.pop();
                rest = &rest[1..];
            }
            Some(up.into_iter().chain(rest.iter().cloned()).collect())
        }
        child if children.contains(child) => {
            Some(base.into_iter().chain(path.iter().cloned()).collect())
        }
        _ => None,
    }
}

/// The paths `text` (the code of `module`) names.
fn references(module: &str, text: &str) -> Vec<Vec<String>> {
    let children = child_modules(text);
    let mut paths = Vec::new();
    for statement in statements(text, &["use "]) {
        for (path, _) in use_items(&statement) {
            paths.extend(absolute(module, &path, &children));
        }
    }
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let is_start = at == 0
            || !(bytes[at - 1].is_ascii_alphanumeric()
                || bytes[at - 1] == b'_'
                || bytes[at - 1] == b':');
        if !is_start || !(bytes[at].is_ascii_alphabetic() || bytes[at] == b'_') {
            at += 1;
            continue;
        }
        let mut end = at;
        let mut parts = Vec::new();
        loop {
            let word_end = end
                + bytes[end..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                    .count();
            parts.push(text[end..word_end].to_owned());
            end = word_end;
            if text[end..].starts_with("::")
                && bytes.get(end + 2).is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
            {
                end += 2;
            } else {
                break;
            }
        }
        // `a::{b, c}` was read with the `use` statements.
        if parts.len() > 1 && !text[end..].starts_with("::{") {
            paths.extend(absolute(module, &parts, &children));
        }
        at = end.max(at + 1);
    }
    paths
}

/// The longest prefix of `path` that is a module, and how long it is.
fn resolve_prefix(path: &[String], modules: &BTreeMap<String, PathBuf>) -> Option<(String, usize)> {
    (0..=path.len())
        .rev()
        .map(|len| (path[..len].join("::"), len))
        .find(|(name, _)| modules.contains_key(name))
}

/// The module that defines what `path` names, following re-exports.
fn resolve(
    path: &[String],
    modules: &BTreeMap<String, PathBuf>,
    reexports: &BTreeMap<(String, String), Vec<String>>,
) -> Option<String> {
    let mut path = path.to_vec();
    for _ in 0..8 {
        let (module, len) = resolve_prefix(&path, modules)?;
        match path.get(len).and_then(|name| reexports.get(&(module.clone(), name.clone()))) {
            Some(target) if target.is_empty() => return None,
            Some(target) => path = target.iter().chain(path[len + 1..].iter()).cloned().collect(),
            None => return Some(module),
        }
    }
    None
}

/// The cycles of `graph`: its strongly connected sets of more than one
/// module.
pub fn cycles(graph: &CrateGraph) -> Vec<Vec<String>> {
    struct Walk<'g> {
        graph: &'g CrateGraph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        found: Vec<Vec<String>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, module: &'g str) {
            let n = self.index.len();
            self.index.insert(module, n);
            self.low.insert(module, n);
            self.stack.push(module);
            self.on_stack.insert(module);
            for next in self.graph.edges.get(module).into_iter().flatten() {
                let next = next.as_str();
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[module].min(self.low[next]);
                    self.low.insert(module, low);
                } else if self.on_stack.contains(next) {
                    let low = self.low[module].min(self.index[next]);
                    self.low.insert(module, low);
                }
            }
            if self.low[module] == self.index[module] {
                let mut set = Vec::new();
                while let Some(top) = self.stack.pop() {
                    self.on_stack.remove(top);
                    set.push(top.to_owned());
                    if top == module {
                        break;
                    }
                }
                if set.len() > 1 {
                    set.sort();
                    self.found.push(set);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for module in graph.modules.keys() {
        if !walk.index.contains_key(module.as_str()) {
            walk.visit(module);
        }
    }
    walk.found
}
