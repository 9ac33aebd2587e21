//! No file of any crate imports a file that imports it back, directly or
//! in a loop (`cargo xtask layers` lists the edges).

#[test]
fn no_file_imports_one_that_imports_it_back() {
    let root = xtask::workspace_root();
    let graphs = xtask::layers::workspace_graphs(&root).unwrap();
    assert!(graphs.iter().any(|graph| graph.src.ends_with("host/src")), "the host was read");
    let host = graphs.iter().find(|graph| graph.src.ends_with("host/src")).unwrap();
    // The reader sees edges (so an empty answer is not a pass by
    // accident): the actor reads the room state, the session the rooms.
    assert!(
        host.edges["rooms::actor"].contains("rooms::state"),
        "{:?}",
        host.edges["rooms::actor"]
    );
    assert!(
        host.edges["net::session"].contains("rooms::manager"),
        "{:?}",
        host.edges["net::session"]
    );
    for graph in &graphs {
        let cycles = xtask::layers::cycles(graph);
        assert!(cycles.is_empty(), "{}: cycles {cycles:?}", graph.src.display());
    }
}

#[test]
fn a_cycle_is_found() {
    let dir = std::env::temp_dir().join(format!("layers-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(dir.join("Cargo.toml"), "").unwrap();
    std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\n").unwrap();
    std::fs::write(src.join("a.rs"), "use crate::b::B;\npub struct A;\n").unwrap();
    std::fs::write(src.join("b.rs"), "pub struct B(super::a::A);\n").unwrap();
    let graph = xtask::layers::crate_graph(&src).unwrap();
    let cycles = xtask::layers::cycles(&graph);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(cycles, vec![vec!["a".to_owned(), "b".to_owned()]]);
}
