//! The `ferry` binary, built inside the test package.

fn main() -> std::process::ExitCode {
    ferry_cli::main()
}
