//! The reference docs against the code: every operation, event and error
//! code of PROTOCOL.md, every export and import of ABI.md, and every
//! metric family of OPERATIONS.md must be a
//! name the code has, and every name the code has must be in the doc. A
//! client or plugin written from the docs alone meets no surprise.

use std::collections::BTreeSet;

use vampire_abi::Hook;
use vampire_protocol::server::EVENT_NAMES;
use vampire_protocol::{ErrorCode, Request};
use vampiretcp::plugins::PluginRuntime;

fn doc(name: &str) -> String {
    let path = xtask::workspace_root().join("docs").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// The backticked names in the first column of the first table under the
/// heading `heading` (a whole heading line).
fn first_column(text: &str, heading: &str) -> BTreeSet<String> {
    let start = text
        .lines()
        .position(|line| line == heading)
        .unwrap_or_else(|| panic!("no heading {heading:?}"));
    text.lines()
        .skip(start + 1)
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2) // the header and the separator
        .filter_map(|row| {
            let cell = row.split('|').nth(1)?.trim();
            Some(cell.strip_prefix('`')?.split('`').next()?.to_owned())
        })
        .collect()
}

fn assert_same(what: &str, documented: BTreeSet<String>, code: BTreeSet<String>) {
    let undocumented: Vec<_> = code.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&code).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "{what}: in the code but not the doc {undocumented:?}; in the doc but not the code {unknown:?}"
    );
}

fn names<'a>(names: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    names.into_iter().map(str::to_owned).collect()
}

#[test]
fn protocol_md_lists_every_operation_event_and_error_code() {
    let protocol = doc("PROTOCOL.md");
    assert_same("operations", first_column(&protocol, "### Operations"), names(Request::ops()));
    assert_same("events", first_column(&protocol, "## Events"), names(EVENT_NAMES.iter().copied()));
    assert_same(
        "error codes",
        first_column(&protocol, "## Error codes"),
        names(ErrorCode::ALL.iter().map(|code| code.as_str())),
    );
}

#[test]
fn abi_md_lists_every_export_and_import() {
    let abi = doc("ABI.md");
    let exports = [
        vampire_abi::exports::MEMORY,
        vampire_abi::exports::ABI_VERSION,
        vampire_abi::exports::ALLOC,
        vampire_abi::exports::DEALLOC,
    ];
    let hooks = Hook::ALL.map(Hook::export);
    assert_same(
        "exports",
        first_column(&abi, "## Exports"),
        names(exports.into_iter().chain(hooks)),
    );
    let limits = vampiretcp::Config::embedded_default().limits;
    let runtime = PluginRuntime::new(&limits, vampiretcp::metrics::Metrics::off()).unwrap();
    let imports = runtime.import_names();
    assert!(imports.iter().all(|(module, _)| module == vampire_abi::IMPORT_MODULE));
    assert_same(
        "imports",
        first_column(&abi, "## Imports (module `vampire`)"),
        imports.into_iter().map(|(_, name)| name).collect(),
    );
}

#[test]
fn operations_md_lists_every_metric_family() {
    let operations = doc("OPERATIONS.md");
    let families = vampiretcp::metrics::FAMILIES.iter().map(|(name, _)| *name);
    assert_same("metric families", first_column(&operations, "## Metrics"), names(families));
}
