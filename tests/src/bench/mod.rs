//! Benchmark parts shared by the `bench-*` binaries: a TLS load generator, the bare
//! server that marks the practical limit, process memory and CPU time, the webhook's
//! memory against the cluster's Secrets, and Prometheus parsing.

pub mod bare;
pub mod cpu;
pub mod handler;
pub mod load;
pub mod memory;
pub mod prometheus;
pub mod rss;
pub mod tls;
