//! Benchmark parts shared by the `bench-*` binaries: a TLS load generator, the bare
//! server that marks the practical limit, the bare clients a rollout is measured
//! against, the apiserver's own request counts, process memory and CPU time, the
//! webhook's memory against the cluster's Secrets, and Prometheus parsing.

pub mod apiserver_requests;
pub mod bare;
pub mod bare_rollout;
pub mod cpu;
pub mod handler;
pub mod load;
pub mod memory;
pub mod prometheus;
pub mod rollout_report;
pub mod rss;
pub mod tls;
