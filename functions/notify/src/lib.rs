//! The notify function's logic, shared by its binary and by the `redeliver` command: sinks,
//! fan-out with retries, dead letters and their redelivery.

pub mod config;
pub mod dead_letter;
pub mod eventbridge;
pub mod fanout;
pub mod handler;
pub mod redeliver;
pub mod sink;
