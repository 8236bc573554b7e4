//! Prints the tree-sitter syntax tree of a Python file: `cargo run --example dump_tree FILE`.
//! Handy when writing a rule or reading how tree-sitter recovered from an error.
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    let m = leaklint::python::PyModule::parse(&text);
    println!("{}", m.tree.root_node().to_sexp());
}
