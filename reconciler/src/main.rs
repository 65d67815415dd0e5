//! `reconciler`: rolls out the Supabase components of each SupabaseProject.
//!
//! Only the command line exists so far; the controller is built in the reconciler issue.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;

/// Reconciler for SupabaseProject: ordered rollout and status.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address of the plain-HTTP health and metrics endpoint.
    #[arg(long, env = "RECONCILER_HEALTH_ADDR", default_value = "0.0.0.0:8080")]
    health_addr: SocketAddr,
}

fn main() -> ExitCode {
    let args = Args::parse();
    eprintln!("reconciler: the controller is not built yet (health {}); see issue 4", args.health_addr);
    ExitCode::FAILURE
}
