fn main() {
    let path = std::env::args().nth(1).unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    let m = leaklint::python::PyModule::parse(&text);
    println!("{}", m.tree.root_node().to_sexp());
}
