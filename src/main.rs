//! The `pubgate` binary: parse the command line, start logging, dispatch.

use clap::Parser;

/// mimalloc instead of glibc's malloc: a GraphQL answer is thousands of small allocations
/// made and freed across the runtime's threads, where glibc's arenas spent a quarter of the
/// gateway's CPU (allocating, freeing and consolidating) on the dashboard's counters.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = pubgate::cli::Cli::parse();
    pubgate::telemetry::init(cli.log_format, cli.log_color);
    match pubgate::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pubgate: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
