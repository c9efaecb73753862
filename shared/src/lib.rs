//! Shared library of the Filestore functions.
//!
//! Each outside system has one module here: [`store`] for S3-compatible storage, [`clamd`] for the
//! virus scanner and [`webhook`] for signed deliveries. [`event`] parses bucket notifications and
//! [`content`] checks that an object's content matches its extension.

pub mod auth;
pub mod clamd;
pub mod config;
pub mod content;
pub mod decision;
pub mod envelope;
pub mod event;
pub mod http;
pub mod keys;
pub mod logging;
pub mod memory;
pub mod names;
pub mod post_policy;
pub mod serve;
pub mod store;
pub mod verdict;
pub mod webhook;
