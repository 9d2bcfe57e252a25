//! The `wildrun` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    wildrun::cli::main()
}
