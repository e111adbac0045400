//! The `pubgate` binary: parse the command line, start logging, dispatch.

use clap::Parser;

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
