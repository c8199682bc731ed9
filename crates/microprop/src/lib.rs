#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

// The study pipeline, in the order a config flows through it.
pub mod config;
pub mod dataset;
pub mod design;
pub mod evaluate;
pub mod features;
pub mod model;
pub mod report;
pub mod selection;
pub mod study;
pub mod trust;

// Where feature vectors are made, and the inputs they are made from.
pub mod checkpoint;
pub mod correlate;
#[cfg(feature = "vision")]
pub mod extract;
pub mod inputs;
pub mod precomputed;
pub mod segment;
pub mod table;

// The other commands, outputs and process settings.
pub mod error;
pub mod figures;
pub mod homogenize;
pub mod memory;
pub mod output;
pub mod progress;
pub mod shard;
pub mod synth;

pub use error::{Error, Result};
