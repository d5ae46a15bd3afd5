use std::process::ExitCode;

fn main() -> ExitCode {
    mido::cli::main()
}
