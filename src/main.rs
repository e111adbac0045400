//! The `pubgate` binary: parse the command line, start logging, dispatch.

use clap::Parser;

/// mimalloc rather than the system allocator: a GraphQL answer allocates and frees thousands of
/// small values (rows, JSON, field maps), and glibc's malloc/free/consolidate took about a third
/// of the CPU of a 50-row page in a profile (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = pubgate::cli::Cli::parse();
    pubgate::telemetry::init(cli.log_format);
    match pubgate::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pubgate: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
