//! leaklint: finds leaky database and HTTP sessions, connections, pools,
//! clients and transactions in Python and Rust code.
//!
//! Data flows one way: discover -> parse -> analyse -> suppress -> report
//! or fix. Front ends (`python`, `rust`) know nothing of reporting; rules
//! sit on the front ends and the resource knowledge.

pub(crate) mod analysis;
pub mod check;
pub mod cli;
pub mod config;
pub mod diagnostic;
pub mod discover;
pub(crate) mod fix;
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod ir;
pub mod python;
pub mod report;
pub mod resources;
pub mod rules;
pub(crate) mod rust;
pub mod settings;
pub mod source;
pub(crate) mod store;
pub(crate) mod suppress;
