//! The `ferry` binary.

fn main() -> std::process::ExitCode {
    ferry_cli::main()
}
