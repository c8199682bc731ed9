//! microprop: learn microstructure–property relationships from images.
//!
//! This crate ties the leaf crates together and holds the `microprop` command-line tool:
//! datasets joined to property tables ([`dataset`], [`table`]), cached feature extraction,
//! fusion and aggregation ([`features`]; two-point vectors are made in [`correlate`], ViT and
//! CNN vectors in [`extract`], precomputed ones read in [`precomputed`]), evaluation
//! ([`evaluate`]: where features are regressed), studies ([`config`], [`study`]), reports
//! ([`report`], [`figures`]) and saved models ([`model`]).

#![warn(missing_docs)]

pub mod checkpoint;
pub mod config;
pub mod correlate;
pub mod dataset;
pub mod error;
pub mod evaluate;
pub mod extract;
pub mod features;
pub mod figures;
pub mod homogenize;
pub mod inputs;
pub mod memory;
pub mod model;
pub mod output;
pub mod precomputed;
pub mod progress;
pub mod report;
pub mod segment;
pub mod shard;
pub mod study;
pub mod synth;
pub mod table;

pub use error::{Error, Result};
