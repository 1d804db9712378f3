fn main() {
    std::process::exit(gatehouse::cli::main());
}
