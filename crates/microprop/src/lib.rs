//! microprop: learn microstructure–property relationships from images.
//!
//! This crate ties the leaf crates together and holds the `microprop` command-line tool. So far
//! it turns micrographs into two-point feature matrices ([`correlate`]); later stages (ViT
//! features, studies, reports, saved models) build on the same pieces.

#![warn(missing_docs)]

pub mod case2;
pub mod correlate;
pub mod error;
pub mod figures;
pub mod homogenize;
pub mod inputs;
pub mod output;
pub mod progress;
pub mod segment;
pub mod study;
pub mod synth;

pub use error::{Error, Result};
